#!/usr/bin/env python3
"""Golden files for the Swift MTCNN (Sources/Models/MTCNN) parity tests, written to Tests/Fixtures/mtcnn/.

Python: a Python 3.11 venv with torch 2.13.0+cpu, numpy 2.4, Pillow, opencv-python-headless 5.0 (cv2),
scikit-image 0.26 (only for its bundled public-domain sample photos), requests and tqdm (imported by
facenet-pytorch), and facenet-pytorch 2.6.0 installed with `pip install --no-deps facenet-pytorch==2.6.0`
(its metadata pins old torch/numpy; the code runs unchanged on current ones). The goldens were made with
/work/scratch/mtcnn/.venv/bin/python.

torchvision: facenet-pytorch calls `torchvision.ops.boxes.batched_nms`. torchvision's compiled ops on PyPI are
CUDA builds that cannot load beside a CPU-only torch wheel. When they cannot load, this script registers
`torchvision::nms` from Python, following torchvision's CPU kernel (torchvision/csrc/ops/cpu/nms_kernel.cpp): order
by `scores.sort(0, descending=True)`, float32 areas `(x2-x1)*(y2-y1)`, IoU `inter/(area_i + area_j - inter)` in
float32, suppress when the IoU, widened to double, is > the threshold. The rest of torchvision (batched_nms,
to_tensor) is the real package (0.28.0, installed with --no-deps). Where torchvision loads, it is used as is.
`provenance.json` records which was used.

Inputs (raw RGB, 8 bits per channel, rows top first, no padding; sizes in images.json):
  astronaut.rgb   skimage.data.astronaut(): NASA portrait of Eileen Collins (public domain), 512x512, one face.
  composite.rgb   640x360: skimage.data.rocket() (public domain, NASA) cropped to rows 30..389, with the
                  astronaut's head pasted at heights 190, 96 (mirrored), 48, 32 (mirrored) and 24 px, and the face
                  of skimage.data.camera() ("cameraman", grey) at 80 px, resized with PIL bilinear. Six faces from
                  large to below min_face_size.
  chelsea.rgb     skimage.data.chelsea(): a cat, 451x300. No face must be found.
  composite2x     not stored: composite.rgb with every pixel repeated 2x2 (1280x720), the benchmark frame.

Outputs
  detections.json  per image: boxes [[x1,y1,x2,y2]], probs, landmarks [[[x,y] x5]] from
                   MTCNN(keep_all=True).detect(img, landmarks=True) on the numpy HWC uint8 array (the order is
                   facenet's: largest box first); float32 values written as exact decimals.
  crops            extract_face(img, box, image_size=160, margin=0) on the numpy array (so facenet resizes with
                   cv2.resize INTER_AREA), for faces listed in detections.json "crops": <image>_face<i>.u8,
                   160x160x3 HWC uint8 (facenet returns the same values as a float CHW tensor; no
                   post-processing / fixed_image_standardization).
  gray48           astronaut_face0_gray48.u8: that face crop converted like PIL `convert('L')`
                   (ITU-R 601-2 luma, (19595 R + 38470 G + 7471 B + 32768) >> 16), then
                   cv2.resize(..., (48, 48), INTER_AREA): 48x48 uint8.
  resize_cases.json + resize_cases.u8 + resize_cases.f32
                   small random images (fixed seed) and their resizes, to test the two resamplers alone:
                   cv2.resize INTER_AREA on uint8 HWC (3 and 1 channels; down by integer and fractional factors,
                   up, mixed, same size) and torch interpolate(mode="area") on float32 NCHW made from uint8 HWC, exactly as
                   facenet's imresample sees frames (the .f32 file).
  provenance.json  package versions and the nms note above.

Run: Tools/make_mtcnn_goldens.py   (from anywhere; paths are relative to this file)
"""
import glob
import importlib.metadata
import importlib.util
import json
import os
import sys
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "mtcnn"


# --------------------------------------------------------------------------------------------------------------
# facenet-pytorch import (shared with Tools/bench/facenet_mtcnn.py)

def _install_python_nms():
    """Registers torchvision::nms from Python (see the module doc) and stubs torchvision's fake-op registrations,
    which would fail for the compiled ops that did not load."""
    import torch

    sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")

    def nms(dets, scores, iou_threshold):
        n = dets.shape[0]
        if n == 0:
            return torch.empty(0, dtype=torch.long)
        x1, y1, x2, y2 = (dets[:, k].contiguous().numpy() for k in range(4))
        areas = ((dets[:, 2] - dets[:, 0]) * (dets[:, 3] - dets[:, 1])).numpy()
        order = scores.sort(0, descending=True)[1].numpy()
        suppressed = np.zeros(n, dtype=bool)
        keep = []
        for pos in range(n):
            i = order[pos]
            if suppressed[i]:
                continue
            keep.append(i)
            rest = order[pos + 1:]
            rest = rest[~suppressed[rest]]
            w = np.maximum(np.float32(0), np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
            h = np.maximum(np.float32(0), np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
            inter = w * h
            ovr = inter / (areas[i] + areas[rest] - inter)
            suppressed[rest[ovr.astype(np.float64) > iou_threshold]] = True
        return torch.tensor(keep, dtype=torch.long)

    lib.impl("nms", nms, "CPU")
    _install_python_nms.lib = lib  # keep the registration alive
    import torchvision.extension

    torchvision.extension._has_ops = lambda: True


def import_facenet():
    """(facenet_pytorch module, note on torchvision's nms)."""
    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None:
        raise SystemExit("torchvision is not installed (pip install --no-deps torchvision)")
    compiled = glob.glob(os.path.join(os.path.dirname(spec.origin), "_C*.so"))
    try:
        if not compiled:
            raise OSError("no _C extension")
        torch.ops.load_library(compiled[0])
        note = "torchvision's compiled nms"
    except OSError:
        _install_python_nms()
        note = ("torchvision::nms registered from Python after torchvision/csrc/ops/cpu/nms_kernel.cpp "
                "(torchvision's compiled ops cannot load with this CPU-only torch)")
    import facenet_pytorch

    return facenet_pytorch, note


# --------------------------------------------------------------------------------------------------------------
# Inputs

def astronaut_head():
    from skimage import data

    return data.astronaut()[20:210, 150:300]


def build_composite():
    from PIL import Image
    from skimage import data

    canvas = data.rocket()[30:390, :640].copy()
    camera = np.stack([data.camera()] * 3, axis=-1)

    def paste(region, height, x, y, mirror=False):
        if mirror:
            region = region[:, ::-1]
        width = round(height * region.shape[1] / region.shape[0])
        patch = np.asarray(Image.fromarray(np.ascontiguousarray(region)).resize((width, height), Image.BILINEAR))
        x2, y2 = min(x + width, canvas.shape[1]), min(y + height, canvas.shape[0])
        canvas[y:y2, x:x2] = patch[: y2 - y, : x2 - x]

    head = astronaut_head()
    paste(head, 190, 10, 20)
    paste(head, 96, 230, 40, mirror=True)
    paste(camera[80:230, 170:290], 80, 360, 200)
    paste(head, 48, 480, 60)
    paste(head, 32, 540, 150, mirror=True)
    paste(head, 24, 420, 320)
    return canvas


def inputs():
    from skimage import data

    composite = build_composite()
    return {
        "astronaut": data.astronaut(),
        "composite": composite,
        "chelsea": data.chelsea(),
        "composite2x": composite.repeat(2, axis=0).repeat(2, axis=1),
    }


STORED = ("astronaut", "composite", "chelsea")
CROPS = {"astronaut": [0], "composite": [0, 5], "chelsea": [], "composite2x": [0]}


# --------------------------------------------------------------------------------------------------------------
# Resampler cases

def pil_luma(rgb):
    """PIL convert('L') on uint8 RGB: ITU-R 601-2 in 16-bit fixed point."""
    r, g, b = (rgb[..., k].astype(np.uint32) for k in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)


def resize_cases():
    import cv2
    import torch
    from torch.nn.functional import interpolate

    rng = np.random.default_rng(20240611)
    cases, u8, f32 = [], bytearray(), bytearray()
    shapes = [  # (src w, src h, dst w, dst h, channels)
        (40, 30, 20, 15, 3),    # integer /2: OpenCV's fast path, (a+b+c+d+2)>>2
        (36, 27, 12, 9, 3),     # integer /3: fast path, cvRound(sum / 9)
        (37, 29, 16, 11, 3),    # fractional down
        (160, 160, 48, 48, 1),  # the gray48 resize
        (17, 13, 70, 60, 3),    # up
        (23, 31, 29, 19, 3),    # wider, shorter
        (90, 12, 40, 30, 3),    # narrower, taller
        (5, 7, 5, 7, 3),        # same size: a copy
        (1, 9, 4, 3, 3),        # a one-pixel column
    ]
    for sw, sh, dw, dh, cn in shapes:
        src = rng.integers(0, 256, (sh, sw, cn), dtype=np.uint8)
        out = cv2.resize(src if cn == 3 else src[..., 0], (dw, dh), interpolation=cv2.INTER_AREA)
        cases.append({"kind": "cv2_area", "src": [sw, sh, cn], "dst": [dw, dh], "src_offset": len(u8),
                      "dst_offset": len(u8) + src.size})
        u8 += src.tobytes() + out.reshape(dh, dw, cn).tobytes()
    for sw, sh, dw, dh in [(50, 40, 24, 24), (13, 11, 24, 24), (29, 31, 17, 23), (160, 90, 97, 55), (7, 5, 48, 48)]:
        src = rng.integers(0, 256, (sh, sw, 3), dtype=np.uint8)
        t = torch.as_tensor(src.copy()).unsqueeze(0).permute(0, 3, 1, 2).type(torch.float32)
        out = interpolate(t, size=(dh, dw), mode="area")[0].numpy().astype("<f4")  # [3, dh, dw]
        cases.append({"kind": "torch_area", "src": [sw, sh, 3], "dst": [dw, dh], "src_offset": len(u8),
                      "dst_offset": len(f32) // 4})
        u8 += src.tobytes()
        f32 += out.tobytes()
    return cases, bytes(u8), bytes(f32)


# --------------------------------------------------------------------------------------------------------------

def main():
    import cv2
    import PIL
    import torch

    facenet, nms_note = import_facenet()
    from facenet_pytorch import MTCNN, extract_face

    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    images = inputs()
    mtcnn = MTCNN(keep_all=True, device="cpu")
    meta, detections = [], {}
    for name, img in images.items():
        h, w = img.shape[:2]
        if name in STORED:
            (OUT / f"{name}.rgb").write_bytes(np.ascontiguousarray(img, dtype=np.uint8).tobytes())
            meta.append({"name": name, "file": f"{name}.rgb", "width": w, "height": h})
        boxes, probs, points = mtcnn.detect(img, landmarks=True)
        entry = {"width": w, "height": h, "boxes": [], "probs": [], "landmarks": [], "crops": []}
        if boxes is not None:
            entry["boxes"] = [[float(v) for v in b] for b in boxes]
            entry["probs"] = [float(p) for p in probs]
            entry["landmarks"] = [[[float(v) for v in pt] for pt in lm] for lm in points]
        for i in CROPS[name]:
            face = extract_face(img, boxes[i], image_size=160, margin=0)  # [3,160,160] float of uint8 values
            hwc = face.permute(1, 2, 0).numpy()
            assert np.array_equal(hwc, np.round(hwc)) and hwc.min() >= 0 and hwc.max() <= 255
            hwc = hwc.astype(np.uint8)
            file = f"{name}_face{i}.u8"
            (OUT / file).write_bytes(hwc.tobytes())
            entry["crops"].append({"face": i, "file": file})
            if name == "astronaut" and i == 0:
                gray = cv2.resize(pil_luma(hwc), (48, 48), interpolation=cv2.INTER_AREA)
                assert np.array_equal(pil_luma(hwc), np.asarray(PIL.Image.fromarray(hwc).convert("L")))
                (OUT / "astronaut_face0_gray48.u8").write_bytes(gray.tobytes())
        detections[name] = entry
        print(f"{name} {w}x{h}: {len(entry['boxes'])} faces, probs {np.round(entry['probs'], 4).tolist()}")

    (OUT / "images.json").write_text(json.dumps(
        {"images": meta, "derived": {"composite2x": "composite.rgb with each pixel repeated 2x2 (1280x720)"}},
        indent=1) + "\n")
    (OUT / "detections.json").write_text(json.dumps(detections) + "\n")
    cases, u8, f32 = resize_cases()
    (OUT / "resize_cases.json").write_text(json.dumps(cases) + "\n")
    (OUT / "resize_cases.u8").write_bytes(u8)
    (OUT / "resize_cases.f32").write_bytes(f32)
    (OUT / "provenance.json").write_text(json.dumps({
        "python": sys.version.split()[0], "torch": torch.__version__, "numpy": np.__version__,
        "facenet_pytorch": importlib.metadata.version("facenet-pytorch"), "opencv": cv2.__version__,
        "pillow": PIL.__version__,
        "nms": nms_note, "torch_threads": 1,
    }, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
