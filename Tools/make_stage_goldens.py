#!/usr/bin/env python3
"""Golden files for the `hubert` and `clip` stages end to end on the bundled sample (Tests/Fixtures/stages/).

The stages must give what transformers gives on the same media: audio decoded by `ffmpeg -ac 1 -ar 16000 -f f32le`
(the stage's decoder equals it within 1e-4), normalised by Wav2Vec2FeatureExtractor, run through HubertModel,
averaged over frames; frames selected by `ffmpeg -vf select=not(mod(n\\,10)) -pix_fmt rgb24` (the stage's frames
equal them byte for byte), preprocessed by the PIL CLIPImageProcessor, embedded by CLIPModel.get_image_features,
averaged over frames. The checkpoints are the sample's tiny stand-ins in Samples/models (committed), so the goldens
test the stages' plumbing (decode, normalisation, windows, batching, means); the models themselves are proven by
Tests/ModelsTests against their own goldens.

Python: a Python 3.10+ with torch, transformers, numpy and Pillow (e.g. /work/scratch/tensor/.venv/bin/python);
`ffmpeg` on the PATH.

Writes Tests/Fixtures/stages/sample.json: per train clip of Samples/MELD.Raw, its key, the hubert features and
frame count, and the clip per-frame vectors and mean.
Run: Tools/make_stage_goldens.py
"""
import json
import subprocess
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import CLIPModel, HubertModel, Wav2Vec2FeatureExtractor

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "Samples" / "MELD.Raw"
MODELS = ROOT / "Samples" / "models"
OUT = ROOT / "Tests" / "Fixtures" / "stages"


def pil_clip_processor():
    try:  # transformers 5: the PIL-based processor has its own class; CLIPImageProcessor is the torchvision one
        from transformers import CLIPImageProcessorPil as P
    except ImportError:
        from transformers import CLIPImageProcessor as P
    return P.from_pretrained(str(MODELS / "clip-tiny"))


def audio(path):
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", "16000",
                          "-f", "f32le", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype="<f4")


def frames(path):
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                            "-of", "csv=p=0", str(path)], check=True, capture_output=True, text=True).stdout
    w, h = (int(x) for x in probe.strip().split(","))
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-an", "-vf", "select=not(mod(n\\,10))",
                          "-vsync", "0", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    data = np.frombuffer(raw, dtype=np.uint8).reshape(-1, h, w, 3)
    return [Image.fromarray(f) for f in data]


def main():
    extractor = Wav2Vec2FeatureExtractor.from_pretrained(str(MODELS / "hubert-tiny"))
    hubert = HubertModel.from_pretrained(str(MODELS / "hubert-tiny")).eval()
    processor = pil_clip_processor()
    clip = CLIPModel.from_pretrained(str(MODELS / "clip-tiny")).eval()
    items = []
    for path in sorted((SAMPLE / "train" / "train_splits").glob("*.mp4")):
        y = audio(path)
        x = extractor(y, sampling_rate=16000, return_tensors="pt").input_values
        with torch.no_grad():
            h = hubert(x).last_hidden_state[0]
            imgs = frames(path)
            pixels = processor(images=imgs, return_tensors="pt").pixel_values
            e = clip.get_image_features(pixel_values=pixels)
            e = e if isinstance(e, torch.Tensor) else e.pooler_output
        items.append({"key": "train/" + path.stem, "hubert": h.mean(0).tolist(), "hubert_frames": int(h.shape[0]),
                      "clip_rows": e.flatten().tolist(), "clip": e.mean(0).tolist(), "clip_frames": int(e.shape[0])})
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "sample.json").write_text(json.dumps({"processor": type(processor).__name__, "items": items}) + "\n")
    print(f"wrote {OUT / 'sample.json'} ({len(items)} items, processor {type(processor).__name__})")


if __name__ == "__main__":
    main()
