# The shell session of "Deploy a trained model", run from the repository root. The tests run it
# on the synthetic scene with tiny training settings.

# --8<-- [start:train]
vadkit data synth scene --train-videos 3 --test-videos 3   # a small scene: minutes on a CPU
vadkit train --data scene --config examples/configs/small.toml --out runs/cam
# --8<-- [end:train]

# --8<-- [start:export]
vadkit export runs/cam --out bundles/cam
ls bundles/cam                     # bundle.json  model.onnx
# --8<-- [end:export]

# A recording of the scene as a video file (in practice: your camera's recording).
python - <<'PY'
from pathlib import Path

import av
import numpy as np
from PIL import Image

folder = sorted(Path("scene/testing/frames").iterdir())[0]
frames = [np.asarray(Image.open(f).convert("L")) for f in sorted(folder.glob("*.png"))]
with av.open("recording.avi", "w") as out:
    stream = out.add_stream("ffv1", rate=10)
    stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "gray"
    for image in frames:
        out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="gray")))
    out.mux(stream.encode())
PY

# --8<-- [start:copy]
cp -r bundles/cam /tmp/vadkit-cam-bundle          # or: scp -r bundles/cam camera-box:
# --8<-- [end:copy]

# --8<-- [start:score]
vadkit score /tmp/vadkit-cam-bundle recording.avi
vadkit score /tmp/vadkit-cam-bundle --data scene --name testing
vadkit evaluate /tmp/vadkit-cam-bundle --no-plots
# --8<-- [end:score]

# --8<-- [start:watch]
vadkit watch /tmp/vadkit-cam-bundle recording.avi --jsonl scores.jsonl --gap 2
# --8<-- [end:watch]
rm -rf /tmp/vadkit-cam-bundle
