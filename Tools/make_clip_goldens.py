#!/usr/bin/env python3
"""Golden files for the Swift CLIP vision tower and image processor (Sources/Models/CLIP), in Tests/Fixtures/clip/.

Python: /work/scratch/tensor/.venv/bin/python (any Python 3.10+) with `torch`, `transformers` (5.x), `safetensors`,
`numpy` and `Pillow` (`pip install torch transformers safetensors numpy Pillow`).

The processor reference is transformers' slow, PIL-based CLIP processor: in transformers 5 that is
`CLIPImageProcessorPil` (`backend="pil"`, what `use_fast=False` now selects); transformers 5's `CLIPImageProcessor`
is the torchvision ("fast") backend, whose tensor bicubic differs from Pillow's by a few levels. The seeds' features
were made with the PIL one (transformers 4's `CLIPImageProcessor`, use_fast=False), so the goldens use it and the
script asserts `processor.backend == "pil"`.

Input images are not stored: `make_image(width, height, seed)` draws them with integer arithmetic only (gradients,
a disc, a rectangle, 1-pixel stripes, hashed noise), and the Swift tests draw the same bytes (`CLIPFixtures.image`);
images.json holds each image's byte sum and weighted sum to prove the two generators agree.

Writes (little-endian; .f32 float32, .u8 bytes):
  images.json              the images: name, width, height, seed, sum, weighted (Σ (i+1)·byte mod 2^32)
  processor-openai/        openai/clip-vit-base-patch32's preprocessor_config.json (the hub's old style: bare
                           `size: 224`, `crop_size: 224`) applied to every image (shortest edge 224, bicubic, crop 224)
  processor-variant/       a transformers-5-style config: exact size 70x52 (w x h) with bilinear, crop 60x64 (pads the
                           height, crops the width), other mean/std; applied to `portrait181x243` and `tiny50x30`
     each: preprocessor_config.json; info.json (image names, resized (w, h) per image, shape [B, 3, H, W]);
     pixel_values stored losslessly as codes.u8 [B, 3, H, W] + table.f32 [3, 256] with value = table[c, code]
     (every channel of the processor's float32 output takes at most 256 distinct values; checked here)
  resize/                  direct `Image.resize` results (Pillow's own, no transformers): resize.json lists cases
                           (image, width, height, filter 2 = bilinear / 3 = bicubic, file), each file packed RGB .u8.
                           Pillow 13 runs the vertical pass first when the height shrinks by more than twice as many
                           pixels as the width (Pillow <= 12: always horizontal first); the two orders round
                           differently, so cases of both kinds are included (e.g. 181x243 -> 97x61 is vertical first).
                           The Pillow version is recorded in resize.json.
  clip-tiny/               a random CLIPModel (vision: hidden 32, 2 layers, 4 heads, intermediate 37, patch 32,
                           image 224, quick_gelu; text tower tiny; projection_dim 16), saved as a full CLIPModel
                           checkpoint plus an int64 `vision_model.embeddings.position_ids` (as older files have): the
                           `text_model.*`, `text_projection.weight`, `logit_scale` and position_ids tensors must be
                           ignored. Run on processor-openai's pixel values (all images): pooled.f32 [B, 32],
                           image_embeds.f32 [B, 16] (= get_image_features, un-normalised), last_hidden_state.f32
                           [B, 50, 32], hidden_states.f32 [3, B, 50, 32].
  clip-vision-proj/        a random CLIPVisionModelWithProjection (hidden 24, 3 layers, 3 heads, intermediate 40,
                           patch 8, image 32, projection 12, hidden_act "gelu") on pixel_values.f32 [2, 3, 32, 32]:
                           the same output files.

Run: Tools/make_clip_goldens.py   (from anywhere; paths are relative to this file)
"""
import json
from pathlib import Path

import numpy as np
import PIL
import torch
from PIL import Image
from safetensors.torch import save_file
from transformers import (AutoImageProcessor, CLIPConfig, CLIPModel, CLIPVisionConfig,
                          CLIPVisionModelWithProjection)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "clip"

IMAGES = [  # name, width, height, seed
    ("frame320x180", 320, 180, 1),      # the sample videos' frame size: resized to 398x224, cropped at x = 87
    ("hd1280x720", 1280, 720, 2),       # large downscale (bicubic support 2·3.2 = 6.4 input pixels)
    ("portrait181x243", 181, 243, 3),   # odd sizes, portrait: 224x300, cropped at y = 38
    ("tiny50x30", 50, 30, 4),           # upscale: 373x224, cropped at x = 74
    ("tall300x700", 300, 700, 5),       # 224x522: the height shrinks by > 2x the width's pixels, so Pillow 13
]                                       # runs the vertical pass first

MASK = 0xFFFFFFFF


def make_image(width: int, height: int, seed: int) -> np.ndarray:
    """[height, width, 3] uint8, from integer arithmetic only (mirrored by the Swift tests)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.int64)
    img = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1),
                    (x + y) * 255 // max(width + height - 2, 1)], axis=-1)
    cx, cy, rad = 3 * width // 10, 2 * height // 5, min(width, height) // 4
    disc = (x - cx) ** 2 + (y - cy) ** 2 <= rad * rad
    img[disc] = (230, 40, 60)
    rect = (x >= width // 2) & (x < width // 2 + width // 5) & (y >= height // 6) & (y < height // 6 + height // 3)
    img[rect] = (20, 200, 90)
    stripes = (x >= 3 * width // 4) & (y >= 2 * height // 3)
    img[stripes] = np.where(((x + y // 2) % 2 == 0)[stripes], 255, 0)[:, None]
    c = np.arange(3, dtype=np.int64)
    v = ((x[..., None] * 73856093) ^ (y[..., None] * 19349663) ^ (c * 83492791) ^ (seed * 2654435761)) & MASK
    v ^= v >> 13
    v = (v * 0x5BD1E995) & MASK
    v ^= v >> 15
    img = img + (v % 49) - 24
    return np.clip(img, 0, 255).astype(np.uint8)


def checksums(img: np.ndarray) -> dict:
    flat = img.reshape(-1).astype(np.uint64)
    weighted = int(((np.arange(1, flat.size + 1, dtype=np.uint64) * flat) & MASK).sum() & MASK)
    return {"sum": int(flat.sum()), "weighted": weighted}


def write_f32(path: Path, t) -> None:
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    path.write_bytes(a.astype("<f4").tobytes())


def write_pixels(folder: Path, pv: np.ndarray) -> None:
    """pixel_values [B, 3, H, W] float32 as codes.u8 + table.f32, losslessly."""
    codes = np.zeros(pv.shape, dtype=np.uint8)
    table = np.zeros((3, 256), dtype=np.float32)
    for c in range(3):
        values, inverse = np.unique(pv[:, c], return_inverse=True)
        assert values.size <= 256, f"channel {c} has {values.size} distinct values"
        table[c, : values.size] = values
        codes[:, c] = inverse.reshape(codes[:, c].shape)
        assert np.array_equal(table[c][codes[:, c]], pv[:, c])
    (folder / "codes.u8").write_bytes(codes.tobytes())
    (folder / "table.f32").write_bytes(table.astype("<f4").tobytes())


def run_processor(name: str, config: dict, image_names: list, images: dict) -> np.ndarray:
    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "preprocessor_config.json").write_text(json.dumps(config, indent=2) + "\n")
    processor = AutoImageProcessor.from_pretrained(str(folder), backend="pil")
    assert processor.backend == "pil", type(processor)
    pv = processor(images=[images[n] for n in image_names], return_tensors="np")["pixel_values"]
    assert pv.dtype == np.float32, pv.dtype
    resized = []
    for n in image_names:   # the resize step alone, to record the sizes the Swift side must compute
        chw = np.moveaxis(images[n], -1, 0)
        out = processor.resize(chw, size=processor.size, resample=processor.resample)
        resized.append([int(out.shape[2]), int(out.shape[1])])
    write_pixels(folder, pv)
    (folder / "info.json").write_text(json.dumps(
        {"images": image_names, "resized": resized, "shape": list(pv.shape),
         "processor": type(processor).__name__, "transformers_backend": processor.backend}, indent=1) + "\n")
    return pv


def resize_goldens(images: dict) -> None:
    folder = OUT / "resize"
    folder.mkdir(parents=True, exist_ok=True)
    cases = [("portrait181x243", 97, 61, 3), ("tiny50x30", 123, 77, 2), ("tiny50x30", 67, 41, 3),
             ("hd1280x720", 160, 90, 2), ("frame320x180", 320, 61, 3), ("frame320x180", 67, 180, 3),
             ("tall300x700", 100, 150, 3), ("tall300x700", 100, 150, 2)]
    listing = []
    for name, w, h, f in cases:
        out = np.asarray(Image.fromarray(images[name]).resize((w, h), resample=Image.Resampling(f)))
        assert out.shape == (h, w, 3)
        file = f"{name}-{w}x{h}-{f}.u8"
        (folder / file).write_bytes(out.tobytes())
        listing.append({"image": name, "width": w, "height": h, "filter": f, "file": file})
    (folder / "resize.json").write_text(json.dumps({"pillow": PIL.__version__, "cases": listing}, indent=1) + "\n")


def randomise_layer_norms(model: torch.nn.Module) -> None:
    """Non-trivial LayerNorm affine parameters (ones / zeros would hide mistakes)."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.LayerNorm):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)


def write_outputs(folder: Path, vision, projection, pixel_values: torch.Tensor) -> None:
    with torch.no_grad():
        out = vision(pixel_values=pixel_values, output_hidden_states=True)
        embeds = projection(out.pooler_output)
    write_f32(folder / "pooled.f32", out.pooler_output)
    write_f32(folder / "image_embeds.f32", embeds)
    write_f32(folder / "last_hidden_state.f32", out.last_hidden_state)
    write_f32(folder / "hidden_states.f32", torch.stack(out.hidden_states))
    assert len(out.hidden_states) == vision.config.num_hidden_layers + 1
    assert torch.equal(out.hidden_states[-1], out.last_hidden_state)


def tiny_clip(pixel_values: np.ndarray) -> None:
    torch.manual_seed(0)
    config = CLIPConfig(
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                           patch_size=32, image_size=224, projection_dim=99),   # CLIPModel uses the top-level one
        text_config=dict(hidden_size=16, intermediate_size=24, num_hidden_layers=1, num_attention_heads=2,
                         vocab_size=99, max_position_embeddings=16, bos_token_id=0, eos_token_id=2, pad_token_id=1),
        projection_dim=16)
    config._attn_implementation = "eager"
    model = CLIPModel(config).eval()
    randomise_layer_norms(model)
    folder = OUT / "clip-tiny"
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    state["vision_model.embeddings.position_ids"] = torch.arange(50).unsqueeze(0)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "model.safetensors").chmod(0o644)
    x = torch.from_numpy(pixel_values)
    write_outputs(folder, model.vision_model, model.visual_projection, x)
    with torch.no_grad():   # the projection is what CLIPModel.get_image_features returns
        features = model.get_image_features(pixel_values=x)
        features = getattr(features, "pooler_output", features)
        assert torch.allclose(features, model.visual_projection(model.vision_model(pixel_values=x).pooler_output))


def tiny_vision_with_projection() -> None:
    torch.manual_seed(1)
    config = CLIPVisionConfig(hidden_size=24, intermediate_size=40, num_hidden_layers=3, num_attention_heads=3,
                              patch_size=8, image_size=32, projection_dim=12, hidden_act="gelu")
    config._attn_implementation = "eager"
    model = CLIPVisionModelWithProjection(config).eval()
    randomise_layer_norms(model)
    folder = OUT / "clip-vision-proj"
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    (folder / "model.safetensors").chmod(0o644)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2)) * 1.5
    write_f32(folder / "pixel_values.f32", x)
    write_outputs(folder, model.vision_model, model.visual_projection, x)


OPENAI_PREPROCESSOR = {   # openai/clip-vit-base-patch32's preprocessor_config.json, as on the hub
    "crop_size": 224, "do_center_crop": True, "do_normalize": True, "do_resize": True,
    "feature_extractor_type": "CLIPFeatureExtractor",
    "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
    "resample": 3, "size": 224,
}

VARIANT_PREPROCESSOR = {
    "image_processor_type": "CLIPImageProcessor", "do_resize": True, "size": {"height": 52, "width": 70},
    "resample": 2, "do_center_crop": True, "crop_size": {"height": 64, "width": 60}, "do_rescale": True,
    "rescale_factor": 0.00392156862745098, "do_normalize": True, "image_mean": [0.5, 0.4, 0.3],
    "image_std": [0.2, 0.25, 0.3], "do_convert_rgb": True,
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    images, listing = {}, []
    for name, w, h, seed in IMAGES:
        images[name] = make_image(w, h, seed)
        listing.append({"name": name, "width": w, "height": h, "seed": seed, **checksums(images[name])})
    (OUT / "images.json").write_text(json.dumps(listing, indent=1) + "\n")
    pv = run_processor("processor-openai", OPENAI_PREPROCESSOR, [n for n, *_ in IMAGES], images)
    run_processor("processor-variant", VARIANT_PREPROCESSOR, ["portrait181x243", "tiny50x30", "tall300x700"], images)
    resize_goldens(images)
    tiny_clip(pv)
    tiny_vision_with_projection()
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
