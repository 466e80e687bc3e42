"""The downloads of vadkit's own datasets: UCSD Ped1/Ped2, CUHK Avenue and ShanghaiTech.

URLs, SHA-256 digests and the archives' folder names are facts taken from anomalib's dataset
modules (``anomalib/data/datasets/video/{ucsd_ped,avenue,shanghaitech}.py``, Apache-2.0; no code
of theirs is used). Sizes are None: no exact byte count was published, and vadkit does not quote
one it has not measured (the checksum decides whether a file is the right one).
"""

from __future__ import annotations

from vadkit.data.download.manifest import Archive, DatasetDownload, Place

UCSD = DatasetDownload(
    name="ucsd",
    title="UCSD Anomaly Detection Dataset (Ped1 and Ped2)",
    archives=(
        Archive(
            file="UCSD_Anomaly_Dataset.tar.gz",
            sha256="2329af326951f5097fdd114c50e853957d3e569493a49d22fc082a9fd791915b",
            urls=("http://www.svcl.ucsd.edu/projects/anomaly/UCSD_Anomaly_Dataset.tar.gz",),
        ),
    ),
    # The archive holds UCSD_Anomaly_Dataset.v1p2/UCSDped{1,2}/{Train,Test}/..., each in the
    # layout of the `ucsd` format (Test/TestNNN_gt pixel masks and UCSDped*.m included).
    places=(
        Place("UCSD_Anomaly_Dataset.v1p2/UCSDped1", "UCSDped1"),
        Place("UCSD_Anomaly_Dataset.v1p2/UCSDped2", "UCSDped2"),
    ),
    roots=("UCSDped1", "UCSDped2"),
    homepage="http://www.svcl.ucsd.edu/projects/anomaly/dataset.htm",
    citation="Li, Mahadevan and Vasconcelos, Anomaly detection and localization in crowded "
    "scenes, TPAMI 2013",
)

AVENUE = DatasetDownload(
    name="avenue",
    title="CUHK Avenue (videos and pixel-mask ground truth)",
    archives=(
        Archive(
            file="Avenue_Dataset.zip",
            sha256="fc9cb8432a11ca79c18aa180c72524011411b69d3b0ff27c8816e41c0de61531",
            urls=("http://www.cse.cuhk.edu.hk/leojia/projects/detectabnormal/Avenue_Dataset.zip",),
        ),
        Archive(
            file="ground_truth_demo.zip",
            sha256="60fec1728ec8f73a58aad3aeb5729d70a805a47e0b8eb4bf91ab67ef06386d77",
            urls=(
                "http://www.cse.cuhk.edu.hk/leojia/projects/detectabnormal/ground_truth_demo.zip",
            ),
        ),
    ),
    # "Avenue Dataset/{training,testing}_videos/NN.avi" is the `avenue` format's layout; its
    # ground truth is looked for in ground_truth_demo/testing_label_mask/N_label.mat.
    places=(Place("Avenue Dataset", "."), Place("ground_truth_demo", "ground_truth_demo")),
    homepage="http://www.cse.cuhk.edu.hk/leojia/projects/detectabnormal/dataset.html",
    citation="Lu, Shi and Jia, Abnormal event detection at 150 FPS in MATLAB, ICCV 2013",
)

SHANGHAITECH = DatasetDownload(
    name="shanghaitech",
    title="ShanghaiTech Campus (training videos, test frames and frame masks)",
    archives=(
        Archive(
            file="shanghaitech.tar.gz",
            sha256="c13a827043b259ccf8493c9d9130486872992153a9d714fe229e523cd4c94116",
            urls=("http://101.32.75.151:8181/dataset/shanghaitech.tar.gz",),
        ),
    ),
    # shanghaitech/training/videos/*.avi is read by the `videos` format, testing/frames/<clip>/
    # by `frames`, and testing/test_frame_mask/<clip>.npy is their ground truth.
    places=(Place("shanghaitech", "."),),
    homepage="https://svip-lab.github.io/dataset/campus_dataset.html",
    manual="The archive's only known host is an IP address that is often unreachable. Get "
    "shanghaitech.tar.gz through the dataset's page, https://svip-lab.github.io/dataset/"
    "campus_dataset.html, and pass it with --archive FILE: it is checked against the same "
    "sha256.",
    citation="Luo, Liu and Gao, A revisit of sparse coding based anomaly detection in stacked "
    "RNN framework, ICCV 2017",
    notes=(
        "anomalib re-encodes the training videos before reading them with PyAV; run `vadkit "
        "data check` on the result: it names any video it cannot decode.",
    ),
)
