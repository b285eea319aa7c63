#!/usr/bin/env python3
"""Times facenet-pytorch's MTCNN face detection on one raw RGB frame, for comparison with the Swift port
(`MTCNNBenchmark.timeDetect`, the same statistic).

Python: the environment of Tools/make_mtcnn_goldens.py (torch CPU, facenet-pytorch 2.6.0 installed with --no-deps,
torchvision; where torchvision's compiled ops cannot load, its nms is registered from Python exactly as that
script does, which costs a little time in the NMS steps).

Usage: facenet_mtcnn.py FRAME.rgb WIDTH HEIGHT THREADS REPEATS
  FRAME.rgb  HEIGHT rows of WIDTH x 3 bytes (RGB), e.g. the 1280x720 composite the Swift tests build
             (write it with --write-composite2x PATH).
Prints one JSON line, {"seconds": median seconds per MTCNN(keep_all=True, device="cpu").detect(frame),
"threads": THREADS}, timed over REPEATS calls after one untimed warm-up call (torch.set_num_threads(THREADS)).
"""
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main(argv):
    import make_mtcnn_goldens as goldens

    if len(argv) == 3 and argv[1] == "--write-composite2x":
        frame = goldens.inputs()["composite2x"]
        with open(argv[2], "wb") as f:
            f.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        print(json.dumps({"width": frame.shape[1], "height": frame.shape[0], "path": argv[2]}))
        return 0
    if len(argv) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    path, width, height, threads, repeats = argv[1], int(argv[2]), int(argv[3]), int(argv[4]), int(argv[5])
    import torch

    torch.set_num_threads(threads)
    goldens.import_facenet()
    from facenet_pytorch import MTCNN

    data = np.fromfile(path, dtype=np.uint8)
    if data.size != width * height * 3:
        print(f"{path}: {data.size} bytes, expected {width}x{height}x3", file=sys.stderr)
        return 1
    frame = data.reshape(height, width, 3)
    mtcnn = MTCNN(keep_all=True, device="cpu")
    mtcnn.detect(frame)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        mtcnn.detect(frame)
        times.append(time.perf_counter() - start)
    print(json.dumps({"seconds": float(np.median(times)), "threads": threads}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
