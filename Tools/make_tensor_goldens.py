#!/usr/bin/env python3
"""Write the Tensor golden files: small random inputs and PyTorch outputs, for Tests/TensorTests.

Needs torch, numpy and safetensors (CPU torch is enough: `pip install torch numpy safetensors`). From the
repository root:

    python3 Tools/make_tensor_goldens.py          # writes Tests/Fixtures/tensor/

Every array is raw little-endian float32 (`.f32`), row-major. `manifest.json` lists each case: the op, its
parameters, input files and shapes, and the output file and shape; the Swift tests run the same op on the same
inputs. Inputs come from a fixed seed, so regenerating with another torch version changes outputs only by
rounding. Float32 throughout, as the models run.

It also writes `reference_writer.safetensors` with the official `safetensors.torch.save_file` (header padding,
dtype ordering and alignment as the real writer makes them): F32, F16 and BF16 tensors, an I64 `position_ids`
buffer, BERT-style `bert.` prefixes and legacy `gamma`/`beta` names; `reference_writer.json` holds the values each
float tensor must read back as (float32).
"""

import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "tensor")
torch.manual_seed(20240611)
torch.set_num_threads(1)

cases = []


def write(name, tensor):
    array = np.ascontiguousarray(tensor.detach().to(torch.float32).numpy(), dtype="<f4")
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(array.tobytes())
    return {"file": name, "shape": list(array.shape)}


def case(name, op, params, inputs, output):
    cases.append({
        "name": name,
        "op": op,
        "params": params,
        "inputs": {k: write(f"{name}_{k}.f32", v) for k, v in inputs.items()},
        "output": write(f"{name}_out.f32", output),
    })


def randn(*shape, scale=1.0):
    return torch.randn(*shape, dtype=torch.float32) * scale


# Linear: y = x·Wᵀ + b over leading axes.
x, w, b = randn(3, 5, 16), randn(7, 16, scale=0.25), randn(7)
case("linear", "linear", {}, {"x": x, "weight": w, "bias": b}, F.linear(x, w, b))

# LayerNorm with BERT's and HuBERT's eps, on rows with an offset mean.
for tag, eps in [("bert", 1e-12), ("hubert", 1e-5)]:
    x, g, b = randn(6, 48, scale=3.0) + 1.5, randn(48), randn(48)
    case(f"layer_norm_{tag}", "layer_norm", {"eps": eps}, {"x": x, "weight": g, "bias": b},
         F.layer_norm(x, (48,), g, b, eps))

# Activations over a wide range.
x = torch.cat([torch.linspace(-10, 10, 201), randn(55, scale=4.0)])
case("gelu", "gelu", {}, {"x": x}, F.gelu(x))
case("quick_gelu", "quick_gelu", {}, {"x": x}, x * torch.sigmoid(1.702 * x))
case("tanh", "tanh", {}, {"x": x}, torch.tanh(x))

# Softmax: last axis, and MTCNN's dim=1 over NCHW.
x = randn(5, 11, scale=5.0)
case("softmax_last", "softmax", {"axis": -1}, {"x": x}, torch.softmax(x, -1))
x = randn(2, 3, 4, 5, scale=3.0)
case("softmax_dim1", "softmax", {"axis": 1}, {"x": x}, torch.softmax(x, 1))


def reference_attention(q, k, v, heads, scale, mask_add):
    """transformers' eager attention: [B, L, H·D] → heads, scores·scale + mask, softmax, ·V, heads concatenated."""
    bsz, lq, width = q.shape
    lk, d = k.shape[1], width // heads
    qh = q.view(bsz, lq, heads, d).transpose(1, 2)
    kh = k.view(bsz, lk, heads, d).transpose(1, 2)
    vh = v.view(bsz, lk, heads, d).transpose(1, 2)
    scores = torch.matmul(qh, kh.transpose(-1, -2)) * scale
    if mask_add is not None:
        scores = scores + (mask_add[:, None, None, :] if mask_add.dim() == 2 else mask_add[:, None, :, :])
    probs = torch.softmax(scores, dim=-1)
    return torch.matmul(probs, vh).transpose(1, 2).reshape(bsz, lq, width)


# BERT-style self-attention with a padding mask ([B, Lk], torch.finfo(float32).min where padded).
q, k, v = randn(2, 7, 24), randn(2, 7, 24), randn(2, 7, 24)
mask01 = torch.tensor([[1] * 7, [1] * 4 + [0] * 3], dtype=torch.float32)
mask_add = (1.0 - mask01) * torch.finfo(torch.float32).min
case("attention_padding", "attention", {"heads": 3, "scale": 1 / math.sqrt(8)},
     {"query": q, "key": k, "value": v, "mask01": mask01}, reference_attention(q, k, v, 3, 1 / math.sqrt(8), mask_add))
# Cross-attention shape (Lq ≠ Lk) with a per-query additive mask [B, Lq, Lk], no padding.
q, k, v = randn(1, 5, 16), randn(1, 6, 16), randn(1, 6, 16)
mask = torch.where(torch.rand(1, 5, 6) < 0.3, torch.tensor(-1e4), torch.tensor(0.0))
case("attention_per_query_mask", "attention", {"heads": 2, "scale": 0.25},
     {"query": q, "key": k, "value": v, "mask": mask}, reference_attention(q, k, v, 2, 0.25, mask))
# CLIP-style: 50 tokens, 4 heads of 16, no mask.
q, k, v = randn(1, 50, 64), randn(1, 50, 64), randn(1, 50, 64)
case("attention_nomask", "attention", {"heads": 4, "scale": 0.25},
     {"query": q, "key": k, "value": v}, reference_attention(q, k, v, 4, 0.25, None))


def conv1d_case(name, shape, cout, k, stride, padding, groups, bias):
    x = randn(*shape)
    w = randn(cout, shape[1] // groups, k, scale=1 / math.sqrt(shape[1] // groups * k))
    b = randn(cout) if bias else None
    inputs = {"x": x, "weight": w}
    if bias:
        inputs["bias"] = b
    case(name, "conv1d", {"stride": stride, "padding": padding, "groups": groups}, inputs,
         F.conv1d(x, w, b, stride=stride, padding=padding, groups=groups))


conv1d_case("conv1d_groups_pad", (2, 4, 37), 6, 5, 2, 3, 2, True)
conv1d_case("conv1d_hubert_first", (1, 1, 400), 8, 10, 5, 0, 1, False)  # k=10 s=5 on raw audio
conv1d_case("conv1d_hubert_strided", (1, 8, 61), 8, 3, 2, 0, 1, False)
conv1d_case("conv1d_posconv", (1, 16, 20), 16, 8, 1, 4, 4, True)  # even k, padding k/2, groups: T+1 outputs


def conv2d_case(name, shape, cout, k, stride, padding, groups, bias):
    x = randn(*shape)
    w = randn(cout, shape[1] // groups, k[0], k[1], scale=1 / math.sqrt(shape[1] // groups * k[0] * k[1]))
    b = randn(cout) if bias else None
    inputs = {"x": x, "weight": w}
    if bias:
        inputs["bias"] = b
    case(name, "conv2d", {"stride": list(stride), "padding": list(padding), "groups": groups}, inputs,
         F.conv2d(x, w, b, stride=stride, padding=padding, groups=groups))


conv2d_case("conv2d_stride_pad", (2, 3, 11, 13), 5, (3, 3), (2, 1), (1, 2), 1, True)
conv2d_case("conv2d_groups", (1, 4, 9, 9), 6, (3, 2), (2, 2), (0, 1), 2, True)
conv2d_case("conv2d_patch", (1, 3, 64, 32), 4, (32, 32), (32, 32), (0, 0), 1, False)  # CLIP's patch conv
conv2d_case("conv2d_mtcnn", (2, 3, 12, 12), 10, (3, 3), (1, 1), (0, 0), 1, True)
conv2d_case("conv2d_pointwise", (1, 6, 5, 7), 4, (1, 1), (1, 1), (0, 0), 1, True)  # MTCNN's 1x1 heads

# GroupNorm: HuBERT's groups = channels over time, fewer groups, and NCHW.
for name, shape, groups in [("group_norm_per_channel", (2, 6, 50), 6), ("group_norm_grouped", (2, 6, 50), 3),
                            ("group_norm_nchw", (2, 4, 5, 5), 2)]:
    x, g, b = randn(*shape, scale=2.0) + 0.5, randn(shape[1]), randn(shape[1])
    case(name, "group_norm", {"groups": groups, "eps": 1e-5}, {"x": x, "weight": g, "bias": b},
         F.group_norm(x, groups, g, b, 1e-5))

# MaxPool2d with ceil_mode (MTCNN), kernel 3 stride 2 and kernel 2 stride 2 on odd sizes, and floor mode.
x = randn(1, 2, 11, 10)
case("maxpool_k3s2_ceil", "max_pool2d", {"kernel": 3, "stride": 2, "ceil_mode": True}, {"x": x},
     F.max_pool2d(x, 3, 2, ceil_mode=True))
x = randn(2, 3, 7, 9)
case("maxpool_k2s2_ceil", "max_pool2d", {"kernel": 2, "stride": 2, "ceil_mode": True}, {"x": x},
     F.max_pool2d(x, 2, 2, ceil_mode=True))
case("maxpool_k3s2_floor", "max_pool2d", {"kernel": 3, "stride": 2, "ceil_mode": False}, {"x": x},
     F.max_pool2d(x, 3, 2, ceil_mode=False))

# PReLU per channel on NCHW and on [N, C] (MTCNN's dense layers).
x, a = randn(2, 3, 4, 4), torch.rand(3) * 0.5
case("prelu_nchw", "prelu", {}, {"x": x, "weight": a}, F.prelu(x, a))
x, a = randn(4, 5), torch.rand(5) * 0.5
case("prelu_dense", "prelu", {}, {"x": x, "weight": a}, F.prelu(x, a))

# Weight norm over dim 2 (HuBERT's positional conv): torch's own parametrization computes the weight.
conv = torch.nn.Conv1d(16, 16, 8, padding=4, groups=4)
conv = torch.nn.utils.parametrizations.weight_norm(conv, name="weight", dim=2)
with torch.no_grad():
    conv.parametrizations.weight.original0.copy_(torch.rand(1, 1, 8) + 0.5)
g = conv.parametrizations.weight.original0.detach().clone()
v = conv.parametrizations.weight.original1.detach().clone()
case("weight_norm_dim2", "weight_norm", {"dim": 2}, {"g": g, "v": v}, conv.weight.detach())

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump({"generator": "Tools/make_tensor_goldens.py", "torch": torch.__version__, "cases": cases}, f, indent=1)

# A checkpoint written by the official safetensors writer.
gen = torch.Generator().manual_seed(7)
tensors = {
    "bert.embeddings.word_embeddings.weight": torch.randn(5, 4, generator=gen),
    "bert.embeddings.LayerNorm.gamma": torch.randn(4, generator=gen).to(torch.float16),
    "bert.embeddings.LayerNorm.beta": torch.randn(4, generator=gen).to(torch.bfloat16),
    "bert.embeddings.position_ids": torch.arange(6, dtype=torch.int64).unsqueeze(0),
    "bert.pooler.dense.weight": torch.randn(3, 4, generator=gen),
    "bert.pooler.dense.bias": torch.randn(3, generator=gen).to(torch.float16),
    "cls.predictions.bias": torch.randn(5, generator=gen),
    "scalar": torch.tensor(2.5),
}
save_file(tensors, os.path.join(OUT, "reference_writer.safetensors"), metadata={"format": "pt"})
with open(os.path.join(OUT, "reference_writer.json"), "w") as f:
    json.dump({name: {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
                      "values": [float(x) for x in t.to(torch.float32).flatten()] if t.is_floating_point()
                      else [int(x) for x in t.flatten()]}
               for name, t in tensors.items()}, f, indent=1)
print(f"wrote {len(cases)} cases and reference_writer.safetensors to {os.path.normpath(OUT)}")
