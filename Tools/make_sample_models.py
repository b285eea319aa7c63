#!/usr/bin/env python3
"""Tiny random checkpoints that stand in for the real ones on the bundled sample only (Samples/models/).

`pipeline run extract` on the bundled sample uses these when the real checkpoints named in
Pipelines/extract.yaml are not downloaded, and labels every output file made with them
(`model_note` attribute: "tiny random model bundled for the sample ... not real features").
They exist so that the default command runs every stage on a fresh machine without downloading 1.5 GB of
weights; their features mean nothing.

Python: any Python 3.10+ with torch, transformers and safetensors
(e.g. /work/scratch/tensor/.venv/bin/python, or `pip install torch transformers safetensors`).

Writes
  Samples/models/bert-tiny/    BertModel, hidden 32, 2 layers, 4 heads, intermediate 64, max_pos 512, with a
                               small uncased WordPiece vocab.txt (specials, characters, ## characters, and the
                               words of the sample's CSVs).
  Samples/models/hubert-tiny/  HubertModel, hidden 32, 2 layers, 4 heads, conv_dim 7 x 16 with hubert-base's
                               kernels and strides (20 ms frames), positional conv 16 / 4 groups, and
                               hubert-base's preprocessor_config.json (do_normalize true).
  Samples/models/clip-tiny/    CLIPModel, vision hidden 32, 2 layers, 4 heads, patch 32, image 224, projection 16
                               (a tiny text tower too, as in a real CLIPModel checkpoint), with clip-vit-base-patch32's
                               preprocessor_config.json.
Run: Tools/make_sample_models.py [--only bert|hubert|clip]
"""
import argparse
import csv
import json
import re
import string
from pathlib import Path

import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "Samples" / "MELD.Raw"
OUT = ROOT / "Samples" / "models"


def sample_words():
    words = set()
    for split in ("train", "dev", "test"):
        with open(SAMPLE / f"{split}_sent_emo.csv", encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                text = (row["Utterance"] + " " + row["Speaker"]).lower()
                words.update(re.findall(r"[a-z0-9]+", text))
    return sorted(words)


def make_bert():
    from transformers import BertConfig, BertModel

    chars = list(string.ascii_lowercase + string.digits + string.punctuation) + ["\u2019", "\u2026"]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars + ["##" + c for c in chars
                                                                      if c.isalnum()]
    vocab += [w for w in sample_words() if w not in vocab]
    folder = OUT / "bert-tiny"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}) + "\n")
    torch.manual_seed(20261121)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=512)
    model = BertModel(config).eval()
    config_dict = config.to_dict()
    config_dict["_note"] = "tiny random model for the bundled sample only; its features are not meaningful"
    (folder / "config.json").write_text(json.dumps(config_dict, indent=2, sort_keys=True) + "\n")
    state = {k: v.contiguous() for k, v in model.state_dict().items() if v.dtype.is_floating_point}
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    print(f"wrote {folder} ({len(vocab)} tokens)")


def save(model, folder, note_config):
    folder.mkdir(parents=True, exist_ok=True)
    config_dict = note_config.to_dict()
    config_dict["_note"] = "tiny random model for the bundled sample only; its features are not meaningful"
    (folder / "config.json").write_text(json.dumps(config_dict, indent=2, sort_keys=True) + "\n")
    state = {k: v.contiguous() for k, v in model.state_dict().items() if v.dtype.is_floating_point}
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    print(f"wrote {folder}")


def make_hubert():
    from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

    torch.manual_seed(20261122)
    config = HubertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                          conv_dim=[16] * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
    model = HubertModel(config).eval()
    folder = OUT / "hubert-tiny"
    save(model, folder, config)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                             return_attention_mask=False).save_pretrained(str(folder))


def make_clip():
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    torch.manual_seed(20261123)
    config = CLIPConfig(
        text_config={"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 4, "intermediate_size": 64,
                     "vocab_size": 100, "max_position_embeddings": 16},
        vision_config={"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
                       "patch_size": 32, "image_size": 224},
        projection_dim=16)
    model = CLIPModel(config).eval()
    folder = OUT / "clip-tiny"
    save(model, folder, config)
    CLIPImageProcessor().save_pretrained(str(folder))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["bert", "hubert", "clip"], default=None)
    args = ap.parse_args()
    if args.only in (None, "bert"):
        make_bert()
    if args.only in (None, "hubert"):
        make_hubert()
    if args.only in (None, "clip"):
        make_clip()


if __name__ == "__main__":
    main()
