#!/usr/bin/env bash
# Downloads the real checkpoints the default pipeline points at into Models/ (git-ignored):
#   Models/bert-base-uncased        (text stage)
#   Models/hubert-base-ls960        (hubert stage)
#   Models/clip-vit-base-patch32    (clip stage)
# from the Hugging Face hub (https://huggingface.co), only the files the pipeline reads (config, weights in
# safetensors, tokenizer / preprocessor config). Idempotent: files already there are kept.
#
# Usage: Tools/fetch_models.sh [bert] [hubert] [clip]     (no argument: all three)
# (The names bert-base-uncased, hubert-base-ls960, clip-vit-base-patch32 are accepted too.)
# Needs curl and network access to huggingface.co. Set HF_ENDPOINT for a mirror, HF_TOKEN if your network
# requires authentication. Elsewhere, download the same files by any means and pass the folder with
# `--set text.model=DIR` (hubert.model, clip.model).
set -euo pipefail
cd "$(dirname "$0")/.."
endpoint="${HF_ENDPOINT:-https://huggingface.co}"

fetch() { # repo folder files...
    local repo=$1 folder=$2; shift 2
    mkdir -p "Models/$folder"
    for f in "$@"; do
        local out="Models/$folder/$f"
        [ -s "$out" ] && continue
        echo "fetch_models: $repo/$f"
        local auth=()
        [ -n "${HF_TOKEN:-}" ] && auth=(-H "Authorization: Bearer $HF_TOKEN")
        if ! curl -fL --retry 3 "${auth[@]}" -o "$out.part" "$endpoint/$repo/resolve/main/$f"; then
            rm -f "$out.part"
            echo "fetch_models: could not download $endpoint/$repo/resolve/main/$f" >&2
            exit 1
        fi
        mv "$out.part" "$out"
    done
}

# Weights: model.safetensors, else the older pytorch_model.bin converted once with torch (some hub repos only
# have the .bin on their main branch).
weights() { # repo folder
    local repo=$1 folder=$2 out="Models/$2/model.safetensors"
    [ -s "$out" ] && return 0
    if (fetch "$repo" "$folder" model.safetensors) 2>/dev/null; then return 0; fi
    fetch "$repo" "$folder" pytorch_model.bin
    local py="${MELD_TORCH_PYTHON:-python3}"
    if ! "$py" -c "import torch, safetensors" 2>/dev/null; then
        echo "fetch_models: $repo has no model.safetensors; converting pytorch_model.bin needs a Python with torch and" >&2
        echo "  safetensors (pip install torch safetensors), then: MELD_TORCH_PYTHON=/path/to/python $0 $folder" >&2
        exit 1
    fi
    "$py" - "Models/$folder/pytorch_model.bin" "$out" <<'PY'
import sys, torch
from safetensors.torch import save_file
state = torch.load(sys.argv[1], map_location="cpu", weights_only=True)
save_file({k: v.contiguous() for k, v in state.items()}, sys.argv[2], metadata={"format": "pt"})
PY
    rm -f "Models/$folder/pytorch_model.bin"
}

want=("$@")
[ ${#want[@]} -eq 0 ] && want=(bert hubert clip)
for w in "${want[@]}"; do
    case "$w" in
        bert) fetch google-bert/bert-base-uncased bert-base-uncased \
                  config.json vocab.txt tokenizer.json tokenizer_config.json
              weights google-bert/bert-base-uncased bert-base-uncased ;;
        hubert) fetch facebook/hubert-base-ls960 hubert-base-ls960 config.json preprocessor_config.json
                weights facebook/hubert-base-ls960 hubert-base-ls960 ;;
        clip) fetch openai/clip-vit-base-patch32 clip-vit-base-patch32 config.json preprocessor_config.json
              weights openai/clip-vit-base-patch32 clip-vit-base-patch32 ;;
        bert-base-uncased) "$0" bert ;;
        hubert-base-ls960) "$0" hubert ;;
        clip-vit-base-patch32) "$0" clip ;;
        *) echo "fetch_models: unknown model '$w' (known: bert hubert clip)" >&2; exit 2 ;;
    esac
done
echo "fetch_models: done (Models/)"
