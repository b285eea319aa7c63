#!/usr/bin/env python3
"""PyTorch reference timing for the Swift CLIP vision tower (`CLIPBenchmark` in Sources/Models/CLIP).

Builds transformers' `CLIPVisionModelWithProjection` from the default `CLIPVisionConfig` (the ViT-B/32 shape of
openai/clip-vit-base-patch32: hidden 768, 12 layers, 12 heads, patch 32, image 224, projection 512) with random
initial weights, in eval mode, and times `model(pixel_values=x)` under `torch.no_grad()` on a random
`[batch, 3, 224, 224]` float32 batch, with `torch.set_num_threads(threads)`. One untimed warm-up call, then
`repeats` timed calls; prints one JSON line: {"seconds": <median>, "threads": <n>, ...}.

With --serve (for interleaved comparisons on a shared machine, where load changes from second to second): after
the warm-up call prints {"ready": true}, then for each line read from stdin runs one timed call and prints
{"seconds": <that call>}, until stdin closes.

The attention implementation is transformers' default for CLIP (SDPA), as `from_pretrained` would pick it.

Python: /work/scratch/tensor/.venv/bin/python (torch, transformers).
Run:    Tools/bench/torch_clip.py --batch 8 --threads 2 --repeats 10   [--serve]
"""
import argparse
import json
import statistics
import sys
import time

import torch
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--serve", action="store_true", help="time one call per stdin line (see above)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = CLIPVisionModelWithProjection(CLIPVisionConfig()).eval()
    x = torch.randn(args.batch, 3, 224, 224)
    times = []
    with torch.no_grad():
        model(pixel_values=x)
        if args.serve:
            print(json.dumps({"ready": True}), flush=True)
            for _ in sys.stdin:
                start = time.perf_counter()
                model(pixel_values=x)
                print(json.dumps({"seconds": time.perf_counter() - start}), flush=True)
            return
        for _ in range(max(1, args.repeats)):
            start = time.perf_counter()
            out = model(pixel_values=x)
            times.append(time.perf_counter() - start)
    assert out.image_embeds.shape == (args.batch, 512)
    print(json.dumps({"seconds": statistics.median(times), "threads": torch.get_num_threads(), "batch": args.batch,
                      "repeats": len(times), "min": min(times),
                      "attn_implementation": model.config._attn_implementation}))


if __name__ == "__main__":
    main()
