#!/usr/bin/env python3
"""Golden files for the `text` stage (Tests/PipelineKitTests/TextStageTests.swift), in Tests/Fixtures/text/.

The stage must give what transformers gives for the same inputs: BertTokenizerFast (pairs, token types,
longest-first truncation to max_length) and BertModel, pooled as the stage pools. The checkpoint is the
tiny sample model Samples/models/bert-tiny (committed; Tools/make_sample_models.py), so the goldens test the
stage's plumbing (input text, context, truncation, batching, pooling, layer choice) end to end; the model itself
is proven against transformers by Tests/ModelsTests.

Python: any Python 3.10+ with torch and transformers (e.g. /work/scratch/tensor/.venv/bin/python).

Writes
  MELD.Raw/train_sent_emo.csv   a CSV-only dataset root (no clips): 3 dialogues with an ID gap, an empty
                                utterance, a 300-word utterance, quotes, non-ASCII text.
  cases.json                    for each case: its params, per item key, n_tokens, truncated, and the pooled
                                features (and for keep_tokens, the token rows).
Run: Tools/make_text_goldens.py
"""
import csv
import json
from pathlib import Path

import torch
from transformers import BertModel, BertTokenizerFast

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "text"
MODEL = ROOT / "Samples" / "models" / "bert-tiny"

ROWS = [
    # dialogue, utterance, speaker, text
    (0, 0, "Chandler", "Also I was the point person on my company's transition."),
    (0, 1, "The Interviewer", "You must've had your hands full."),
    (0, 2, "Chandler", "That I did. That I did."),
    (0, 3, "The Interviewer", 'So let\'s talk a little bit about your duties, "boss".'),
    (0, 5, "Chandler", ""),
    (1, 0, "Joey", "Hey! Caf\u00e9 au lait, s'il vous pla\u00eet\u2026"),
    (1, 1, "Rachel", " ".join(["transition"] * 150 + ["duties"] * 150)),
    (2, 1, "Monica", "Okay."),
    (2, 2, "Ross", "We were on a break!"),
]

CASES = [
    {"name": "cls", "params": {}},
    {"name": "mean_context2", "params": {"pooling": "mean", "context": 2}},
    {"name": "max_layer1", "params": {"pooling": "max", "layer": 1}},
    {"name": "meanmax_batch2", "params": {"pooling": "mean+max", "batch_size": 2}},
    {"name": "pooler_len16_context3", "params": {"pooling": "pooler", "max_length": 16, "context": 3}},
    {"name": "tokens_layer0", "params": {"keep_tokens": True, "layer": 0, "max_length": 24}},
]


def write_csv():
    folder = OUT / "MELD.Raw"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "train_sent_emo.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID",
                    "Season", "Episode", "StartTime", "EndTime"])
        for i, (d, u, spk, text) in enumerate(ROWS):
            w.writerow([i + 1, text, spk, "neutral", "neutral", d, u, 1, 1, "00:00:01,000", "00:00:02,500"])


def segments(index, context):
    d, u, spk, text = ROWS[index]
    if context == 0:
        return text, None
    prev = [r for r in ROWS if r[0] == d and r[1] < u][-context:]
    return " ".join(f"{r[2]}: {r[3]}" for r in prev), f"{spk}: {text}"


def run_case(tok, model, params):
    max_length = params.get("max_length", 128)
    context = params.get("context", 0)
    pooling = params.get("pooling", "cls")
    layer = params.get("layer", -1)
    keep = params.get("keep_tokens", False)
    items = []
    for i, (d, u, _, _) in enumerate(ROWS):
        a, b = segments(i, context)
        enc = tok(a, b, truncation=True, max_length=max_length, return_tensors="pt")
        full = len(tok(a, b)["input_ids"])
        with torch.no_grad():
            out = model(**enc, output_hidden_states=True)
        hidden = out.hidden_states[layer][0]
        if pooling == "cls":
            feat = hidden[0]
        elif pooling == "mean":
            feat = hidden.mean(0)
        elif pooling == "max":
            feat = hidden.max(0).values
        elif pooling == "mean+max":
            feat = torch.cat([hidden.mean(0), hidden.max(0).values])
        else:
            feat = out.pooler_output[0]
        item = {"key": f"train/dia{d}_utt{u}", "n_tokens": int(enc["input_ids"].shape[1]),
                "truncated": int(full > max_length), "features": feat.tolist()}
        if keep:
            item["tokens"] = hidden.flatten().tolist()
        items.append(item)
    return items


def main():
    write_csv()
    tok = BertTokenizerFast.from_pretrained(str(MODEL))  # transformers 5 ignores a bare vocab_file argument
    model = BertModel.from_pretrained(str(MODEL)).eval()
    cases = [{"name": c["name"], "params": c["params"], "items": run_case(tok, model, c["params"])} for c in CASES]
    (OUT / "cases.json").write_text(json.dumps({"model": "Samples/models/bert-tiny", "cases": cases}) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
