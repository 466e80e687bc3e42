"""vadkit's dataset formats on tiny datasets written on the fly.

Each section builds one layout in a temporary folder from a small synthetic scene, then opens it
with ``vadkit.data.open_videos``, which detects the format. Included by the dataset-format pages.
"""

# --8<-- [start:setup]
import shutil
import tempfile
from pathlib import Path

import av
import numpy as np
from PIL import Image

import vadkit
from vadkit.data import generate_scene, open_videos

work = Path(tempfile.mkdtemp())
cache = work / "cache"  # decoded frames are cached here (default: $VADKIT_CACHE)
# --8<-- [end:setup]

# --8<-- [start:frames]
# <root>/{training,testing}/frames/<video>/<frame>.png, labels in <root>/frame_labels_*.npy
scene = generate_scene(work / "scene", size=32, train_videos=2, test_videos=2, frames=(20, 24))
print(vadkit.create_dataset("frames").detect(scene, "testing"))  # True
test = open_videos(scene, "testing", size=(32, 32), cache_dir=cache, progress=False)
print(test.format, len(test), test.total_frames)  # frames 2 45
video = test[0]
print(video.name, video.frames(np.arange(4)).shape)  # 01 (4, 32, 32, 1)
print(Path(test.ground_truth).name, int(video.labels.sum()) > 0)  # frame_labels_synth.npy True
# --8<-- [end:frames]


# --8<-- [start:frames-of]
def frames_of(split: str, name: str) -> list[Path]:
    """The frame files of one video of the synthetic scene."""
    return sorted((scene / split / "frames" / name).iterdir())


# --8<-- [end:frames-of]

# --8<-- [start:ucsd]
# UCSD Ped1/Ped2 as published: <root>/Train/Train001/001.tif, <root>/Test/Test001/001.tif
ucsd = work / "ucsd"
for split, top in (("training", "Train"), ("testing", "Test")):
    for i, name in enumerate(("01", "02"), start=1):
        folder = ucsd / top / f"{top}{i:03d}"
        folder.mkdir(parents=True)
        for k, frame in enumerate(frames_of(split, name), start=1):
            Image.open(frame).save(folder / f"{k:03d}.tif")
train = open_videos(ucsd, "training", size=(32, 32), cache_dir=cache, progress=False)
print(train.format, [v.name for v in train])  # ucsd ['Train001', 'Train002']
# --8<-- [end:ucsd]


# --8<-- [start:write-video]
def write_video(path: Path, frames: list[Path]) -> None:
    """Encode frames into a small MPEG-4 file with PyAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for frame in frames:
            image = np.asarray(Image.open(frame).convert("RGB"))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())


# --8<-- [end:write-video]

# --8<-- [start:videos]
# Video files: <root>/{training,testing}/<video>.avi (or .mp4, .mkv, ...), decoded with PyAV
videos = work / "videos"
write_video(videos / "training" / "01.avi", frames_of("training", "01"))
write_video(videos / "training" / "02.avi", frames_of("training", "02"))
train = open_videos(videos, "training", size=(32, 32), cache_dir=cache, progress=False)
print(train.format, [(v.name, v.num_frames) for v in train])  # videos [('01', 24), ('02', 24)]
# --8<-- [end:videos]

# --8<-- [start:avenue]
# CUHK Avenue as published: <root>/training_videos/01.avi, <root>/testing_videos/01.avi
avenue = work / "avenue"
write_video(avenue / "training_videos" / "01.avi", frames_of("training", "01"))
train = open_videos(avenue, "training", size=(32, 32), cache_dir=cache, progress=False)
print(train.format, [v.name for v in train])  # avenue ['01']
# --8<-- [end:avenue]

# --8<-- [start:video-folder]
# Your own footage: <root>/{train,test}/ holding video files and frame folders, mixed;
# labels.csv: anomalous frame ranges, 0-based and inclusive (a video without a line is normal)
own = work / "own"
write_video(own / "train" / "gate.mp4", frames_of("training", "01"))
shutil.copytree(scene / "training" / "frames" / "02", own / "train" / "yard")
write_video(own / "test" / "gate.mp4", frames_of("testing", "01"))
shutil.copytree(scene / "testing" / "frames" / "02", own / "test" / "yard")
(own / "labels.csv").write_text("video,start,end\ngate,10,15\nyard,0,3\nyard,18,19\n")
train = open_videos(own, "training", size=(32, 32), cache_dir=cache, progress=False)
print(train.format, [v.name for v in train])  # video-folder ['gate', 'yard']
test = open_videos(own, "testing", size=(32, 32), cache_dir=cache, progress=False)
print(Path(test.ground_truth).name, [int(v.labels.sum()) for v in test])  # labels.csv [6, 6]
# --8<-- [end:video-folder]

shutil.rmtree(work)
