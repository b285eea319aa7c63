#!/usr/bin/env python3
"""Write the DSP golden files: small inputs and librosa 0.11.0 outputs, for Tests/DSPTests.

Run with the pyenv `python3` that has librosa 0.11.0 installed (`pip install librosa==0.11.0`), from the
repository root:

    python3 Tools/make_dsp_goldens.py            # writes Tests/Fixtures/dsp/

Needs `espeak-ng` on PATH (`apt-get install -y espeak-ng`) for the speech cases.

Every array is raw little-endian float32 (`.f32`), row-major. `manifest.json` maps each case to its input file,
sample count, output files and shapes, and the exact librosa calls and parameters used:

- MFCC (coefficient-major, untruncated, shape [n_mfcc, T]):
  librosa.feature.mfcc(y=y, sr=16000, n_mfcc=13, n_fft=400, hop_length=160, n_mels=40, fmin=0, fmax=8000)
- log-mel (time-major, shape [T, n_mels]):
  librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=16000, n_fft=1024, hop_length=160, n_mels=40),
                      ref=1.0, amin=1e-10, top_db=80).T
- filterbanks (shape [n_mels, 1 + n_fft // 2]): librosa.filters.mel(sr=16000, n_fft=..., n_mels=40, fmin=0, fmax=8000)

The speech audio comes from espeak-ng, so regenerating may change the speech inputs (and their outputs) with
another espeak-ng version; the tests only compare our output with the stored librosa output of the stored input.
"""

import json
import os
import subprocess
import sys
import tempfile

import librosa
import numpy as np
import soundfile as sf

SR = 16000
OUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "dsp"))

MFCC_PARAMS = dict(sr=SR, n_mfcc=13, n_fft=400, hop_length=160, n_mels=40, fmin=0, fmax=8000)
MEL_PARAMS = dict(sr=SR, n_fft=1024, hop_length=160, n_mels=40)
DB_PARAMS = dict(ref=1.0, amin=1e-10, top_db=80)
FILTERBANKS = [dict(sr=SR, n_fft=400, n_mels=40, fmin=0, fmax=8000),
               dict(sr=SR, n_fft=1024, n_mels=40, fmin=0, fmax=8000)]


def call_text(fn, params, first=None):
    args = ([first] if first else []) + [f"{k}={v!r}" for k, v in params.items()]
    return f"{fn}(" + ", ".join(args) + ")"


def write_f32(name, array):
    array = np.ascontiguousarray(array, dtype="<f4")
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(array.tobytes())
    return name


def speech(text, seconds=None):
    """espeak-ng at its native rate, resampled to 16 kHz (soxr_hq), peak-normalised to 0.5, float32."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "speech.wav")
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", wav, text], check=True)
        y, sr = sf.read(wav, dtype="float64")
    if y.ndim > 1:
        y = y.mean(axis=1)
    if sr != SR:
        y = librosa.resample(y, orig_sr=sr, target_sr=SR)
    if seconds is not None:
        n = int(round(seconds * SR))
        y = np.pad(y, (0, max(0, n - len(y))))[:n]
    y = 0.5 * y / np.max(np.abs(y))
    return y.astype(np.float32)


def main():
    assert librosa.__version__ == "0.11.0", f"librosa 0.11.0 required, found {librosa.__version__}"
    os.makedirs(OUT, exist_ok=True)
    t = np.arange(2 * SR, dtype=np.float64) / SR
    cases = {
        "speech": (speech("The quick brown fox jumps over the lazy dog."),
                   "espeak-ng -v en-us 'The quick brown fox jumps over the lazy dog.', resampled to 16 kHz, peak 0.5"),
        "speech_5s": (speech("I never said she stole my money, but somebody certainly did, and I want it back today.",
                             seconds=5.0),
                      "espeak-ng -v en-us sentence, resampled to 16 kHz, cut to exactly 5.0 s (80000 samples), peak 0.5"),
        "silence": (np.zeros(SR, dtype=np.float32), "1 s of zeros"),
        "tone": (np.sin(2 * np.pi * 440.0 * t).astype(np.float32), "2 s full-scale 440 Hz sine, amplitude 1.0"),
        "short": ((0.1 * np.random.default_rng(0).standard_normal(100)).astype(np.float32),
                  "100 samples of Gaussian noise, std 0.1, numpy default_rng(0)"),
    }

    manifest = {
        "generator": "Tools/make_dsp_goldens.py",
        "librosa": librosa.__version__,
        "numpy": np.__version__,
        "format": "raw little-endian float32, row-major",
        "mfcc_call": call_text("librosa.feature.mfcc", MFCC_PARAMS, first="y=y") + "  # shape [n_mfcc, T]",
        "logmel_call": "librosa.power_to_db(" + call_text("librosa.feature.melspectrogram", MEL_PARAMS, first="y=y")
                       + ", " + ", ".join(f"{k}={v!r}" for k, v in DB_PARAMS.items()) + ").T  # shape [T, n_mels]",
        "cases": {},
        "filterbanks": {},
    }

    for name, (y, description) in cases.items():
        assert y.dtype == np.float32
        mfcc = librosa.feature.mfcc(y=y, **MFCC_PARAMS)
        logmel = librosa.power_to_db(librosa.feature.melspectrogram(y=y, **MEL_PARAMS), **DB_PARAMS).T
        manifest["cases"][name] = {
            "description": description,
            "input": write_f32(f"{name}_input.f32", y),
            "samples": int(len(y)),
            "mfcc": {"file": write_f32(f"{name}_mfcc.f32", mfcc), "shape": list(mfcc.shape)},
            "logmel": {"file": write_f32(f"{name}_logmel.f32", logmel), "shape": list(logmel.shape)},
        }
        print(f"{name}: {len(y)} samples, mfcc {mfcc.shape}, logmel {logmel.shape}")

    for p in FILTERBANKS:
        fb = librosa.filters.mel(**p)
        key = f"mel_{p['sr']}_{p['n_fft']}_{p['n_mels']}_{p['fmin']}_{p['fmax']}"
        manifest["filterbanks"][key] = {
            "file": write_f32(f"{key}.f32", fb),
            "shape": list(fb.shape),
            "params": p,
            "call": call_text("librosa.filters.mel", p),
        }
        print(f"{key}: {fb.shape}")

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {OUT}: {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
