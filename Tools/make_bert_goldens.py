#!/usr/bin/env python3
"""Golden files for the Swift BERT (Sources/Models) parity tests, written to Tests/Fixtures/models/.

Python: /work/scratch/tensor/.venv/bin/python (any Python 3.10+ works) with the pip packages
`torch`, `transformers` and `safetensors` (`pip install torch transformers safetensors`).

Writes
  bert-tiny-a/  a random 2-layer BertModel (hidden 32, 4 heads, intermediate 37, vocab 99, max_pos 64), saved by
                `save_pretrained(safe_serialization=True)` (keys without `bert.`, LayerNorm `weight`/`bias`).
  bert-tiny-b/  a random 3-layer BertModel (hidden 48, 4 heads, intermediate 37, type_vocab 3), its keys rewritten
                to the hub's legacy spelling: `bert.` prefix, LayerNorm `gamma`/`beta`, plus a `cls.` head tensor
                and an int64 `bert.embeddings.position_ids` (both must be ignored by a strict loader).
  each with inputs.json (a padded batch of 3: ids, token_type_ids, attention_mask), last_hidden_state.f32 [B,L,H],
  pooler_output.f32 [B,H], hidden_states.f32 [layers+1,B,L,H] (little-endian float32).
  minilm/       all-MiniLM-L6-v2 (folder from Tools/fetch_minilm.sh, or $MELD_MINILM_DIR) on 4 fixed sentences,
                tokenised by transformers' BertTokenizerFast, padded: inputs.json, last_hidden_state.f32,
                pooler_output.f32. The checkpoint itself is never copied into the repository.

Run: Tools/make_bert_goldens.py   (from anywhere; paths are relative to this file)
"""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertModel, BertTokenizerFast

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "models"


def write_f32(path: Path, t: torch.Tensor) -> None:
    path.write_bytes(t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes())


def write_outputs(folder: Path, model: BertModel, ids, types, mask, all_hidden: bool) -> None:
    model.eval()
    with torch.no_grad():
        out = model(input_ids=torch.tensor(ids), token_type_ids=torch.tensor(types),
                    attention_mask=torch.tensor(mask), output_hidden_states=all_hidden)
    (folder / "inputs.json").write_text(json.dumps(
        {"ids": ids, "token_type_ids": types, "attention_mask": mask}, indent=None) + "\n")
    write_f32(folder / "last_hidden_state.f32", out.last_hidden_state)
    write_f32(folder / "pooler_output.f32", out.pooler_output)
    if all_hidden:
        write_f32(folder / "hidden_states.f32", torch.stack(out.hidden_states))


def tiny_inputs(vocab: int, types: int, gen: torch.Generator):
    lengths = [9, 6, 3]
    L = max(lengths)
    ids, tts, mask = [], [], []
    for n in lengths:
        row = torch.randint(1, vocab, (n,), generator=gen).tolist()
        tt = [0] * (n // 2) + [min(1 + (n % 2), types - 1)] * (n - n // 2)
        ids.append(row + [0] * (L - n))
        tts.append(tt + [0] * (L - n))
        mask.append([1] * n + [0] * (L - n))
    return ids, tts, mask


def tiny(name: str, legacy: bool, seed: int, **cfg) -> None:
    torch.manual_seed(seed)
    config = BertConfig(**cfg, attn_implementation="eager")
    model = BertModel(config, add_pooling_layer=True)
    # Non-trivial LayerNorm affine parameters (the default ones / zeros would hide mistakes).
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.LayerNorm):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    if legacy:
        state = {}
        for k, v in model.state_dict().items():
            if k.endswith("LayerNorm.weight"):
                k = k[: -len("weight")] + "gamma"
            elif k.endswith("LayerNorm.bias"):
                k = k[: -len("bias")] + "beta"
            state["bert." + k] = v.contiguous()
        state["bert.embeddings.position_ids"] = torch.arange(cfg["max_position_embeddings"]).unsqueeze(0)
        state["cls.predictions.bias"] = torch.zeros(cfg["vocab_size"])
        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    gen = torch.Generator().manual_seed(seed + 1)
    ids, tts, mask = tiny_inputs(cfg["vocab_size"], cfg["type_vocab_size"], gen)
    write_outputs(folder, model, ids, tts, mask, all_hidden=True)


def minilm_folder() -> Path:
    env = os.environ.get("MELD_MINILM_DIR")
    if env:
        return Path(env)
    out = subprocess.run([str(ROOT / "Tools" / "fetch_minilm.sh")], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


SENTENCES = [
    "Oh my God, he's lost it. He's totally lost it.",
    "What?",
    "Or! Or, we could go to the bank, close our accounts and cut them off at the source.",
    "You're a genius!",
]


def minilm() -> None:
    src = minilm_folder()
    tok = BertTokenizerFast.from_pretrained(str(src))
    enc = tok(SENTENCES, padding=True, truncation=True, max_length=128)
    model = BertModel.from_pretrained(str(src), attn_implementation="eager")
    folder = OUT / "minilm"
    folder.mkdir(parents=True, exist_ok=True)
    write_outputs(folder, model, enc["input_ids"], enc["token_type_ids"], enc["attention_mask"], all_hidden=False)
    (folder / "sentences.json").write_text(json.dumps(SENTENCES, indent=1) + "\n")


if __name__ == "__main__":
    tiny("bert-tiny-a", legacy=False, seed=0, vocab_size=99, hidden_size=32, num_hidden_layers=2,
         num_attention_heads=4, intermediate_size=37, max_position_embeddings=64, type_vocab_size=2)
    tiny("bert-tiny-b", legacy=True, seed=1, vocab_size=99, hidden_size=48, num_hidden_layers=3,
         num_attention_heads=4, intermediate_size=37, max_position_embeddings=64, type_vocab_size=3)
    minilm()
    print("wrote", OUT)
