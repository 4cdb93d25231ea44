#!/usr/bin/env python3
"""Writes test/fixtures/ggml-reference.json: random blocks of every ggml weight format namm reads, each with the
float32 values that ggml's own Python package (gguf-py, `gguf.quants.dequantize`) widens them to. The tests compare
namm's decoders with these values bit for bit, so the fixture is an independent reference for the block layouts.

Usage: python3 scripts/ggml-reference-fixture.py [PATH_TO_GGUF_PY]
  PATH_TO_GGUF_PY: a folder holding the `gguf` package (e.g. an unpacked gguf-0.19.0 wheel); default: the installed
  one (pip install gguf==0.19.0). Needs numpy. Deterministic: the same package version writes the same file.
"""
import base64
import json
import os
import sys

if len(sys.argv) > 1:
    sys.path.insert(0, sys.argv[1])

import numpy as np  # noqa: E402
import gguf  # noqa: E402
from gguf import quants  # noqa: E402
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T  # noqa: E402

rng = np.random.default_rng(20261130)


def half_scales(count):
    """Finite float16 scale fields: either sign, exponent field 5..14 (2^-10 .. 0.5), a few zeros."""
    sign = rng.integers(0, 2, count, dtype=np.uint16) << 15
    exp = rng.integers(5, 15, count, dtype=np.uint16) << 10
    mant = rng.integers(0, 1024, count, dtype=np.uint16)
    h = sign | exp | mant
    h[rng.random(count) < 0.05] = 0
    return h


# Byte offsets of the float16 fields of each block format (the rest of a block is random bytes).
HALF_FIELDS = {
    T.Q8_0: [0], T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
    T.IQ4_NL: [0], T.IQ4_XS: [0],
}


def blocks_of(qtype, n_blocks):
    values, size = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, (n_blocks, size), dtype=np.uint8)
    for f, off in enumerate(HALF_FIELDS[qtype]):
        h = half_scales(n_blocks)
        if len(HALF_FIELDS[qtype]) == 2:
            # A scale and an offset (d, m or dmin): blocks take the four sign pairs in turn, so every format's
            # values come with both signs.
            h = (h & 0x7FFF) | (((np.arange(n_blocks) >> f) & 1).astype(np.uint16) << 15)
        raw[:, off] = h & 0xFF
        raw[:, off + 1] = h >> 8
    return raw.reshape(-1), values * n_blocks


def halves(count):
    """float16/bfloat16 bit patterns: random finite values, plus ±0, subnormals and ±inf (no NaN)."""
    bits = rng.integers(0, 1 << 16, count, dtype=np.uint16)
    special = np.array([0x0000, 0x8000, 0x0001, 0x8001, 0x03FF], dtype=np.uint16)
    bits[: len(special)] = special
    return bits


def entry(name, raw, values, widened):
    widened = np.asarray(widened, dtype=np.float32).reshape(-1)
    assert widened.size == values, (name, widened.size, values)
    return {
        "format": name,
        "values": int(values),
        "bytes": base64.b64encode(np.ascontiguousarray(raw).tobytes()).decode(),
        "float32": base64.b64encode(widened.astype("<f4").tobytes()).decode(),
    }


def main():
    out = []
    # F16: every exponent, ±0, subnormals, ±inf (0x7C00, 0xFC00); NaN left out (payloads are not compared).
    f16 = halves(512)
    f16[5:7] = [0x7C00, 0xFC00]
    f16 = f16[((f16 & 0x7C00) != 0x7C00) | ((f16 & 0x03FF) == 0)]
    out.append(entry("f16", f16.view(np.uint8), f16.size, quants.dequantize(f16.view(np.uint8), T.F16)))
    bf16 = halves(512)
    bf16[5:7] = [0x7F80, 0xFF80]
    bf16 = bf16[((bf16 & 0x7F80) != 0x7F80) | ((bf16 & 0x007F) == 0)]
    out.append(entry("bf16", bf16.view(np.uint8), bf16.size, quants.dequantize(bf16.view(np.uint8), T.BF16)))
    for qtype, name, n_blocks in [
        (T.Q8_0, "q8_0", 16), (T.Q4_0, "q4_0", 16), (T.Q4_1, "q4_1", 16), (T.Q5_0, "q5_0", 16), (T.Q5_1, "q5_1", 16),
        (T.Q2_K, "q2_k", 4), (T.Q3_K, "q3_k", 4), (T.Q4_K, "q4_k", 4), (T.Q5_K, "q5_k", 4), (T.Q6_K, "q6_k", 4),
        (T.IQ4_NL, "iq4_nl", 16), (T.IQ4_XS, "iq4_xs", 4),
    ]:
        raw, values = blocks_of(qtype, n_blocks)
        out.append(entry(name, raw, values, quants.dequantize(raw, qtype)))
    version = getattr(gguf, "__version__", None)
    if version is None:
        from importlib.metadata import PackageNotFoundError, version as pkg_version
        try:
            version = pkg_version("gguf")
        except PackageNotFoundError:
            version = "unknown"
    doc = {
        "source": f"gguf-py {version} (gguf.quants.dequantize), numpy {np.__version__}; scripts/ggml-reference-fixture.py",
        "formats": out,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "ggml-reference.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.normpath(path)}: {', '.join(e['format'] for e in out)}")


if __name__ == "__main__":
    main()
