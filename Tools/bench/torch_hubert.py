#!/usr/bin/env python3
"""Times transformers' HubertModel on random audio, for comparison with the Swift `HubertBenchmark`.

Python: /work/scratch/tensor/.venv/bin/python (torch 2.13 CPU build, transformers 5.23); any Python 3.10+ with
`pip install torch transformers` works.

The model is `HubertModel(HubertConfig())` (hubert-base-ls960's shape: 12 layers, hidden 768, 7 conv layers of 512
channels) with random weights, in eval mode under `torch.inference_mode()`, float32 on the CPU, with
`torch.set_num_threads(--threads)`. Input: `--seconds` of 16 kHz noise, batch 1. One untimed warm-up call, then
`--repeats` timed calls.

Prints one JSON line: {"seconds": <median wall time per call>, "threads": <n>, "audio_seconds": ..., "repeats": ...,
"min": ..., "torch": <version>, "attn_implementation": ...}

Run: Tools/bench/torch_hubert.py --seconds 4 --threads 2 --repeats 5
"""
import argparse
import json
import statistics
import time

import torch
from transformers import HubertConfig, HubertModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="audio length in seconds (16 kHz)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls (the median is reported)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = HubertModel(HubertConfig()).eval()
    audio = torch.randn(1, int(round(args.seconds * 16000)))
    times = []
    with torch.inference_mode():
        model(audio)  # warm-up
        for _ in range(args.repeats):
            start = time.perf_counter()
            model(audio)
            times.append(time.perf_counter() - start)
    print(json.dumps({"seconds": statistics.median(times), "threads": torch.get_num_threads(),
                      "audio_seconds": args.seconds, "repeats": args.repeats, "min": min(times),
                      "torch": torch.__version__,
                      "attn_implementation": model.config._attn_implementation}))


if __name__ == "__main__":
    main()
