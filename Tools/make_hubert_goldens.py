#!/usr/bin/env python3
"""Golden files for the Swift HuBERT / wav2vec 2.0 (Sources/Models/HuBERT) parity tests, written to
Tests/Fixtures/hubert/.

Python: /work/scratch/tensor/.venv/bin/python (torch 2.13 CPU, transformers 5.23, safetensors 0.8, numpy 2.4);
any Python 3.10+ with `pip install torch transformers safetensors numpy` works. Deterministic for a given
torch / transformers version (seeded); re-running rewrites every file.

Writes (all .f32 files are little-endian float32, row-major)
  audio/<clip>.normalized.f32  synthetic 16 kHz "speech" (tones + noise + a DC offset) after
                               Wav2Vec2FeatureExtractor(do_normalize=True) (zero mean, unit variance), for the clips
                               in inputs.json: one-frame (400 samples, exactly one receptive field), 1s (16000),
                               2.3s (36801, an odd length): the models' inputs
  audio/<clip>.raw.f32         the same before normalisation, for one-frame and 1s only (the normaliser's golden;
                               2.3s is left out to keep the fixtures under 1 MB)
  inputs.json                  {"clips": [{"name", "samples", "frames"}], "models": [...]}
  <model>/config.json, model.safetensors, preprocessor_config.json   a tiny random model (save_pretrained)
  <model>/<clip>.last_hidden_state.f32  [1, T, H]
  <model>/<clip>.hidden_states.f32      [layers + 1, 1, T, H]  (transformers' hidden_states tuple, stacked)

Models (hidden 32, 2 layers, 4 heads, intermediate 37, conv_dim 7 x 16 with the real kernels and strides, so one
frame per 320 samples and a 400-sample receptive field; every parameter, including norm scales and the weight norm's
g, is perturbed away from its init so mistakes cannot hide):
  hubert-tiny-a   HubertModel, feat_extract_norm "group", positional conv kernel 16 / 4 groups, saved as transformers
                  saves it today (no prefix, `parametrizations.weight.original0/1`, `masked_spec_embed`).
  hubert-tiny-b   HubertModel, feat_extract_norm "layer", conv_bias true, feat_proj_layer_norm false, positional conv
                  kernel 15 (odd: no frame dropped) / 2 groups; keys rewritten to the legacy hub spelling: `hubert.`
                  prefix, `weight_g`/`weight_v`, plus an `lm_head.` head (must be ignored).
  wav2vec2-tiny   Wav2Vec2ForPreTraining (as the hub's wav2vec2-base): `wav2vec2.` prefix plus `quantizer.`,
                  `project_q.`, `project_hid.` heads (ignored); outputs are from its `.wav2vec2` base model.
Outputs come from the eval-mode model (attn_implementation="eager") under torch.no_grad(), on the normalized clip.

Run: Tools/make_hubert_goldens.py   (from anywhere; paths are relative to this file)
"""
import json
import math
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import (HubertConfig, HubertModel, Wav2Vec2Config, Wav2Vec2FeatureExtractor,
                          Wav2Vec2ForPreTraining)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "hubert"
RATE = 16000
CLIPS = {"one-frame": 400, "1s": 16000, "2.3s": 36801}
RAW_CLIPS = {"one-frame", "1s"}
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            conv_dim=[16] * 7, conv_kernel=[10, 3, 3, 3, 3, 2, 2], conv_stride=[5, 2, 2, 2, 2, 2, 2])


def write_f32(path: Path, t) -> None:
    a = t.detach().to(torch.float32).contiguous().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    path.write_bytes(a.astype("<f4").tobytes())


def synthetic_audio(n: int, seed: int) -> np.ndarray:
    """Two gliding tones with an envelope, noise and a DC offset: not zero-mean, not unit-variance."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE
    f0 = 140 + 40 * np.sin(2 * math.pi * 0.7 * t)
    phase = 2 * math.pi * np.cumsum(f0) / RATE
    env = 0.5 + 0.5 * np.sin(2 * math.pi * 2.3 * t) ** 2
    x = 0.3 * env * (np.sin(phase) + 0.4 * np.sin(3.1 * phase)) + 0.02 * rng.standard_normal(n) + 0.05
    return x.astype(np.float32)


def perturb(model: torch.nn.Module, seed: int) -> None:
    """Moves every parameter off its init: norm scales and weight-norm g to ×U(0.5, 1.5), biases to U(-0.2, 0.2)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("original0") or name.endswith("weight_g") or (p.dim() == 1 and name.endswith("weight")):
                p.mul_(torch.rand(p.shape, generator=gen) + 0.5)
            elif name.endswith("bias"):
                p.copy_(torch.rand(p.shape, generator=gen) * 0.4 - 0.2)


def legacy_state(model: HubertModel, prefix: str, hidden: int, vocab: int) -> dict:
    """The model's state dict as old hub checkpoints spell it: prefix, weight_g/weight_v, and an lm_head."""
    state = {}
    for k, v in model.state_dict().items():
        k = k.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1", "weight_v")
        state[prefix + k] = v.contiguous()
    gen = torch.Generator().manual_seed(7)
    state["lm_head.weight"] = torch.randn(vocab, hidden, generator=gen)
    state["lm_head.bias"] = torch.zeros(vocab)
    return state


def run(model: torch.nn.Module, folder: Path, clip: str, values: np.ndarray) -> int:
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(values)[None], output_hidden_states=True)
    hs = torch.stack(out.hidden_states)
    assert torch.equal(hs[-1], out.last_hidden_state)
    write_f32(folder / f"{clip}.last_hidden_state.f32", out.last_hidden_state)
    write_f32(folder / f"{clip}.hidden_states.f32", hs)
    return out.last_hidden_state.shape[1]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "audio").mkdir(exist_ok=True)
    extractor = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=RATE, padding_value=0.0, do_normalize=True,
                                         return_attention_mask=False)
    normalized = {}
    for i, (clip, n) in enumerate(CLIPS.items()):
        raw = synthetic_audio(n, seed=100 + i)
        values = extractor(raw, sampling_rate=RATE, return_tensors="np").input_values[0].astype(np.float32)
        if clip in RAW_CLIPS:
            write_f32(OUT / "audio" / f"{clip}.raw.f32", raw)
        write_f32(OUT / "audio" / f"{clip}.normalized.f32", values)
        normalized[clip] = values

    models = {}

    # hubert-tiny-a: today's spelling.
    torch.manual_seed(0)
    config = HubertConfig(**TINY, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                          feat_extract_norm="group", attn_implementation="eager")
    model = HubertModel(config)
    perturb(model, seed=1)
    folder = OUT / "hubert-tiny-a"
    model.save_pretrained(folder, safe_serialization=True)
    extractor.save_pretrained(folder)
    models["hubert-tiny-a"] = {c: run(model, folder, c, v) for c, v in normalized.items()}

    # hubert-tiny-b: "layer" norm, conv bias, no feature-projection LayerNorm, odd positional kernel, legacy keys.
    torch.manual_seed(2)
    config = HubertConfig(**TINY, num_conv_pos_embeddings=15, num_conv_pos_embedding_groups=2,
                          feat_extract_norm="layer", conv_bias=True, feat_proj_layer_norm=False,
                          attn_implementation="eager")
    model = HubertModel(config)
    perturb(model, seed=3)
    folder = OUT / "hubert-tiny-b"
    model.save_pretrained(folder, safe_serialization=True)
    save_file(legacy_state(model, "hubert.", config.hidden_size, config.vocab_size),
              str(folder / "model.safetensors"), metadata={"format": "pt"})
    extractor.save_pretrained(folder)
    models["hubert-tiny-b"] = {c: run(model, folder, c, v) for c, v in normalized.items()}

    # wav2vec2-tiny: a pre-training checkpoint with its quantizer heads.
    torch.manual_seed(4)
    config = Wav2Vec2Config(**TINY, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                             feat_extract_norm="group", num_codevectors_per_group=8, num_codevector_groups=2,
                             codevector_dim=16, proj_codevector_dim=16, attn_implementation="eager")
    pretraining = Wav2Vec2ForPreTraining(config)
    perturb(pretraining, seed=5)
    folder = OUT / "wav2vec2-tiny"
    pretraining.save_pretrained(folder, safe_serialization=True)
    extractor.save_pretrained(folder)
    models["wav2vec2-tiny"] = {c: run(pretraining.wav2vec2, folder, c, v) for c, v in normalized.items()}

    frames = models["hubert-tiny-a"]
    (OUT / "inputs.json").write_text(json.dumps({
        "clips": [{"name": c, "samples": n, "frames": frames[c], "raw": c in RAW_CLIPS} for c, n in CLIPS.items()],
        "models": list(models),
    }, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
