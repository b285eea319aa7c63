#!/usr/bin/env python3
"""Converts facenet-pytorch's MTCNN weights (data/pnet.pt, rnet.pt, onet.pt) to safetensors, without torch.

Python: plain python3 with numpy only (Debian: /usr/bin/python3 + python3-numpy). torch is not needed: the .pt
files are legacy (pre-1.6, non-zip) `torch.save` streams of a state_dict, read here by a small unpickler.

File layout (learnt by parsing the files; every byte is accounted for), all little-endian:
  pickle 1: magic number 0x1950a86a20f9469cfc6c        pickle 2: protocol version 1001
  pickle 3: sys_info dict (little_endian, type sizes)   pickle 4: the state_dict, an OrderedDict whose values are
            torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks), each storage a
            persistent id ('storage', torch.FloatStorage, key, location, numel)
  pickle 5: the storage keys, in the order their data follows
  then per key: int64 element count, then that many float32 values.
The tensors are strided views (MTCNN's weights were permuted from TensorFlow arrays); they are written here in
C order, as safetensors requires, under their state_dict names (`conv1.weight`, `prelu1.weight`, `dense4.weight`,
`conv4_1.bias`, ...), dtype F32.

Usage:
  convert_mtcnn_weights.py --wheel Tools/.downloads/facenet_pytorch-2.6.0-py3-none-any.whl --out DIR
  convert_mtcnn_weights.py --pt-dir path/to/facenet_pytorch/data --out DIR
Writes DIR/pnet.safetensors, DIR/rnet.safetensors, DIR/onet.safetensors (each written to a temp file, then
renamed) and prints one line per tensor.
"""
import argparse
import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile

import numpy as np

NETS = ("pnet", "rnet", "onet")
MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

# Storage classes of a legacy torch.save, by the name `torch.<Name>` the pickle refers to.
STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class ConversionError(Exception):
    pass


class StorageType:
    """Stands for `torch.FloatStorage` & co. in the pickle."""

    def __init__(self, name):
        self.name = name
        self.dtype = STORAGE_DTYPES[name]


class Storage:
    """A storage announced by a persistent id; its values are filled in after the state_dict pickle."""

    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel = key, dtype, numel
        self.values = None


class TensorRef:
    """What `_rebuild_tensor_v2` describes: a strided view of a storage."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def materialize(self, name):
        values = self.storage.values
        if values is None:
            raise ConversionError(f"{name}: storage {self.storage.key} has no data")
        # Bounds: the largest element index this view touches must lie inside the storage.
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride) if n > 0)
        if any(n == 0 for n in self.size):
            return np.zeros(self.size, dtype=values.dtype)
        if self.offset < 0 or last >= values.size or any(s < 0 for s in self.stride):
            raise ConversionError(f"{name}: view offset {self.offset} size {self.size} stride {self.stride} "
                                  f"runs outside its storage of {values.size} elements")
        view = np.lib.stride_tricks.as_strided(values[self.offset:], shape=self.size,
                                               strides=tuple(s * values.itemsize for s in self.stride))
        return np.ascontiguousarray(view)


def rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                      metadata=None):
    return TensorRef(storage, storage_offset, size, stride)


class LegacyUnpickler(pickle.Unpickler):
    """Resolves only the globals a state_dict pickle needs; anything else is refused (no code runs)."""

    def __init__(self, file, storages):
        super().__init__(file, encoding="utf-8")
        self.storages = storages

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return rebuild_tensor_v2
        if module == "torch" and name in STORAGE_DTYPES:
            return StorageType(name)
        raise ConversionError(f"unexpected global {module}.{name} in the pickle")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage" and len(pid) >= 5):
            raise ConversionError(f"unexpected persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1], pid[2], pid[3], pid[4]
        if len(pid) > 5 and pid[5] is not None:
            raise ConversionError(f"storage {key}: view metadata {pid[5]!r} is not supported")
        if not isinstance(storage_type, StorageType):
            raise ConversionError(f"storage {key}: unexpected type {storage_type!r}")
        if key not in self.storages:
            self.storages[key] = Storage(key, storage_type.dtype, numel)
        return self.storages[key]


def read_state_dict(data: bytes, label: str):
    """The state_dict of a legacy torch.save stream, as {name: C-order numpy array}."""
    f = io.BytesIO(data)

    def plain_load(what):
        try:
            return LegacyUnpickler(f, {}).load()
        except Exception as e:
            raise ConversionError(f"{label}: cannot read the {what}: {e}") from e

    magic = plain_load("magic number")
    if magic != MAGIC:
        raise ConversionError(f"{label}: not a legacy torch.save file (magic {magic!r}; zip-format files are "
                              "not supported)")
    version = plain_load("protocol version")
    if version != PROTOCOL_VERSION:
        raise ConversionError(f"{label}: protocol version {version}, expected {PROTOCOL_VERSION}")
    sys_info = plain_load("sys_info")
    if not sys_info.get("little_endian", False):
        raise ConversionError(f"{label}: written on a big-endian machine")
    storages = {}
    try:
        state = LegacyUnpickler(f, storages).load()
    except ConversionError as e:
        raise ConversionError(f"{label}: {e}") from e
    keys = plain_load("storage key list")
    for key in keys:
        if key not in storages:
            raise ConversionError(f"{label}: storage {key} has data but no tensor refers to it")
        s = storages[key]
        header = f.read(8)
        if len(header) != 8:
            raise ConversionError(f"{label}: truncated before storage {key}")
        (numel,) = struct.unpack("<q", header)
        if numel != s.numel:
            raise ConversionError(f"{label}: storage {key} has {numel} elements, the pickle said {s.numel}")
        raw = f.read(numel * s.dtype.itemsize)
        if len(raw) != numel * s.dtype.itemsize:
            raise ConversionError(f"{label}: storage {key} is truncated")
        s.values = np.frombuffer(raw, dtype=s.dtype)
    rest = len(data) - f.tell()
    if rest:
        raise ConversionError(f"{label}: {rest} bytes after the last storage")
    if not isinstance(state, dict):
        raise ConversionError(f"{label}: the pickle holds a {type(state).__name__}, not a state_dict")
    out = collections.OrderedDict()
    for name, ref in state.items():
        if not isinstance(ref, TensorRef):
            raise ConversionError(f"{label}: entry {name} is a {type(ref).__name__}, not a tensor")
        out[name] = ref.materialize(f"{label}:{name}")
    return out


SAFETENSORS_DTYPES = {np.dtype("<f4"): "F32", np.dtype("<f8"): "F64", np.dtype("<f2"): "F16",
                      np.dtype("<i8"): "I64", np.dtype("<i4"): "I32", np.dtype("<i2"): "I16",
                      np.dtype("i1"): "I8", np.dtype("u1"): "U8", np.dtype("?"): "BOOL"}


def write_safetensors(path: str, tensors, metadata) -> None:
    """Writes a safetensors file (names sorted, header padded with spaces to 8 bytes), via a temp file + rename."""
    header = {"__metadata__": metadata}
    offset = 0
    names = sorted(tensors)
    for name in names:
        t = tensors[name]
        header[name] = {"dtype": SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + t.nbytes]}
        offset += t.nbytes
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * ((8 - (8 + len(blob)) % 8) % 8)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for name in names:
            f.write(np.ascontiguousarray(tensors[name]).tobytes())
    os.replace(tmp, path)


def load_sources(args):
    """{net: (bytes, label)} from the wheel or the folder."""
    out = {}
    if args.wheel:
        with zipfile.ZipFile(args.wheel) as z:
            names = z.namelist()
            for net in NETS:
                member = next((n for n in names if n.endswith(f"facenet_pytorch/data/{net}.pt")), None)
                if member is None:
                    raise ConversionError(f"{args.wheel}: no facenet_pytorch/data/{net}.pt inside")
                out[net] = (z.read(member), f"{os.path.basename(args.wheel)}:{member}")
    else:
        for net in NETS:
            path = os.path.join(args.pt_dir, f"{net}.pt")
            with open(path, "rb") as f:
                out[net] = (f.read(), path)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--wheel", help="a facenet_pytorch-*.whl (the .pt files are read from inside it)")
    src.add_argument("--pt-dir", help="a folder holding pnet.pt, rnet.pt, onet.pt")
    p.add_argument("--out", required=True, help="output folder (created)")
    args = p.parse_args(argv)
    try:
        sources = load_sources(args)
        os.makedirs(args.out, exist_ok=True)
        for net in NETS:
            data, label = sources[net]
            tensors = read_state_dict(data, label)
            for name, t in tensors.items():
                if t.dtype != np.dtype("<f4"):
                    raise ConversionError(f"{label}: {name} has dtype {t.dtype}, expected float32")
                print(f"{net}: {name} {list(t.shape)}")
            # The same bytes whichever way the .pt was read (no paths in the metadata).
            write_safetensors(os.path.join(args.out, f"{net}.safetensors"), tensors,
                              {"format": "pt", "source": f"facenet-pytorch data/{net}.pt"})
    except (ConversionError, OSError, zipfile.BadZipFile) as e:
        print(f"convert_mtcnn_weights: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
