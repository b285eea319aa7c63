#!/usr/bin/env python3
"""PyTorch reference for `pipeline bench text`: median seconds per forward pass of a randomly initialised
bert-base-shaped `transformers.BertModel` (BertConfig() defaults) on the CPU.

Prints one JSON line: {"seconds": <median>, "threads": <torch threads>}.
"""
import argparse
import json
import statistics
import time

import torch
from transformers import BertConfig, BertModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=24)
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    parser.add_argument("--repeats", type=int, default=5, help="timed forward passes after one warm-up")
    args = parser.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = BertModel(BertConfig()).eval()
    ids = torch.randint(1000, 30000, (args.batch, args.length))
    types = torch.zeros_like(ids)
    mask = torch.ones_like(ids)

    times = []
    with torch.no_grad(), torch.inference_mode():
        model(input_ids=ids, token_type_ids=types, attention_mask=mask)  # warm-up
        for _ in range(args.repeats):
            start = time.perf_counter()
            model(input_ids=ids, token_type_ids=types, attention_mask=mask)
            times.append(time.perf_counter() - start)
    print(json.dumps({"seconds": statistics.median(times), "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
