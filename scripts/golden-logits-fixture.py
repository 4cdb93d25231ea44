#!/usr/bin/env python3
"""Writes test/fixtures/golden-logits.json: the logits of the real TinyStories-656K model (../shared/models) on one
prompt, computed here in float64 with numpy from Hugging Face transformers' Llama formulas, written out independently
of namm's code: RMSNorm, rotate-half RoPE (default, linear, llama3 and YaRN frequencies, as transformers 5's
`_compute_*_parameters` define them), grouped-query causal attention, SwiGLU, the tied output head. `forward` also
runs Qwen3 (`model_type` "qwen3": RMSNorm over each query and key head before RoPE, as Qwen3Attention's q_norm and
k_norm), for scripts/golden-qwen3-fixture.py.

The tests load the same weights with namm (each backend) under each config variant and compare every logit of the
positions kept here. The greedy ids of SOURCE.md see only the argmax; these catch a misread config field (an
epsilon, a θ, a scaling rule) that leaves the argmax alone.

Usage: python3 scripts/golden-logits-fixture.py [MODEL_DIR] (default ../shared/models/tinystories-656k). Needs numpy.
Deterministic: the same weights write the same file.
"""
import base64
import json
import math
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, '..', '..', 'shared', 'models', 'tinystories-656k')
OUT = os.path.join(HERE, '..', 'test', 'fixtures', 'golden-logits.json')

# BOS, SOURCE.md's 24 greedy ids, then ids from across the vocabulary (the last is the final id).
PROMPT = [1, 147, 201, 282, 215, 286, 598, 1662, 356, 499, 826, 1363, 1145, 1652, 615, 242, 1482, 951, 628, 499, 826,
          872, 921, 318, 385, 5, 77, 1000, 2047, 3]

# Config overrides (merged into config.json) and the positions whose logits are kept.
VARIANTS = [
    ('as shipped', {}, [0, 7, 18, 29]),
    ('linear RoPE scaling', {'rope_scaling': {'rope_type': 'linear', 'factor': 2.0}}, [18, 29]),
    ('llama3 RoPE scaling', {'rope_scaling': {'rope_type': 'llama3', 'factor': 8.0, 'low_freq_factor': 1.0,
                                              'high_freq_factor': 4.0, 'original_max_position_embeddings': 128}}, [18, 29]),
    ('YaRN RoPE scaling', {'rope_scaling': {'rope_type': 'yarn', 'factor': 4.0}}, [18, 29]),
]


def load_safetensors(path):
    data = open(path, 'rb').read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        assert info['dtype'] == 'F32', name
        lo, hi = info['data_offsets']
        out[name] = np.frombuffer(data[base + lo:base + hi], dtype='<f4').reshape(info['shape']).astype(np.float64)
    return out


def inverse_frequencies(cfg, dim):
    """inv_freq and the attention factor (which multiplies cos and sin) of transformers' rotary embedding."""
    base = cfg['rope_theta']
    inv = 1.0 / base ** (np.arange(0, dim, 2, dtype=np.float64) / dim)
    s = cfg.get('rope_scaling') or {}
    kind = s.get('rope_type', s.get('type', 'default'))
    if kind == 'default':
        return inv, 1.0
    if kind == 'linear':
        return inv / s['factor'], 1.0
    if kind == 'llama3':
        factor, low, high = s['factor'], s['low_freq_factor'], s['high_freq_factor']
        old = s['original_max_position_embeddings']
        wavelen = 2 * math.pi / inv
        scaled = np.where(wavelen > old / low, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= old / high) & (wavelen <= old / low)
        return np.where(medium, smoothed, scaled), 1.0
    if kind == 'yarn':
        factor = s['factor']
        original = s.get('original_max_position_embeddings', cfg['max_position_embeddings'])
        attention = 0.1 * math.log(factor) + 1.0 if factor > 1 else 1.0

        def correction_dim(rotations):
            return dim * math.log(original / (rotations * 2 * math.pi)) / (2 * math.log(base))

        low = max(math.floor(correction_dim(s.get('beta_fast', 32))), 0)
        high = min(math.ceil(correction_dim(s.get('beta_slow', 1))), dim - 1)
        if low == high:
            high += 0.001
        ramp = np.clip((np.arange(dim // 2, dtype=np.float64) - low) / (high - low), 0, 1)
        extrapolation = 1 - ramp
        return (inv / factor) * (1 - extrapolation) + inv * extrapolation, attention
    raise ValueError(kind)


def forward(cfg, w, ids):
    t = len(ids)
    d, nh, nkv = cfg['hidden_size'], cfg['num_attention_heads'], cfg['num_key_value_heads']
    hd = cfg.get('head_dim') or d // nh
    eps = cfg['rms_norm_eps']

    def norm(x, weight):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight

    inv, att = inverse_frequencies(cfg, hd)
    angles = np.outer(np.arange(t, dtype=np.float64), inv)
    cos = np.concatenate([np.cos(angles), np.cos(angles)], axis=-1) * att
    sin = np.concatenate([np.sin(angles), np.sin(angles)], axis=-1) * att

    def rotate(x):  # [t, heads, hd]
        half = np.concatenate([-x[..., hd // 2:], x[..., :hd // 2]], axis=-1)
        return x * cos[:, None, :] + half * sin[:, None, :]

    embed = w.get('model.embed_tokens.weight', w['lm_head.weight'])
    x = embed[ids]
    mask = np.triu(np.full((t, t), -np.inf), 1)
    for layer in range(cfg['num_hidden_layers']):
        p = 'model.layers.%d.' % layer
        h = norm(x, w[p + 'input_layernorm.weight'])
        q = (h @ w[p + 'self_attn.q_proj.weight'].T).reshape(t, nh, hd)
        k = (h @ w[p + 'self_attn.k_proj.weight'].T).reshape(t, nkv, hd)
        if cfg['model_type'] == 'qwen3':  # Qwen3Attention: q_norm / k_norm over each head's hd values, then RoPE
            q = norm(q, w[p + 'self_attn.q_norm.weight'])
            k = norm(k, w[p + 'self_attn.k_norm.weight'])
        q, k = rotate(q), rotate(k)
        v = (h @ w[p + 'self_attn.v_proj.weight'].T).reshape(t, nkv, hd)
        group = nh // nkv
        out = np.empty((t, nh, hd))
        for head in range(nh):
            kv = head // group
            scores = q[:, head] @ k[:, kv].T / math.sqrt(hd) + mask
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            out[:, head] = (scores / scores.sum(axis=-1, keepdims=True)) @ v[:, kv]
        x = x + out.reshape(t, nh * hd) @ w[p + 'self_attn.o_proj.weight'].T
        h = norm(x, w[p + 'post_attention_layernorm.weight'])
        gate = h @ w[p + 'mlp.gate_proj.weight'].T
        up = h @ w[p + 'mlp.up_proj.weight'].T
        x = x + (gate / (1 + np.exp(-gate)) * up) @ w[p + 'mlp.down_proj.weight'].T
    return norm(x, w['model.norm.weight']) @ w['lm_head.weight'].T


def main():
    base_cfg = json.load(open(os.path.join(MODEL, 'config.json')))
    weights = load_safetensors(os.path.join(MODEL, 'model.safetensors'))
    shipped = forward(base_cfg, weights, PROMPT)
    variants = []
    for name, override, positions in VARIANTS:
        cfg = dict(base_cfg, **override)
        logits = forward(cfg, weights, PROMPT)
        # How far the variant moves the logits from the shipped config: the tests are blind below their tolerance.
        moved = float(np.abs(logits[positions] - shipped[positions]).max())
        rows = logits[positions].astype('<f4')
        variants.append({
            'name': name, 'config': override, 'positions': positions, 'moved_from_shipped': moved,
            'logits_f32': base64.b64encode(rows.tobytes()).decode('ascii'),
        })
        print('%-22s max |logit| %.3f, moved from shipped %.3g' % (name, np.abs(rows).max(), moved))
    fixture = {
        'source': 'numpy %s float64 forward, scripts/golden-logits-fixture.py' % np.__version__,
        'model': 'tinystories-656k (model.safetensors sha256 187d0d5e…)', 'prompt': PROMPT,
        'vocab': base_cfg['vocab_size'], 'variants': variants,
    }
    with open(OUT, 'w') as f:
        json.dump(fixture, f, indent=1)
        f.write('\n')
    print('wrote', os.path.relpath(OUT))


if __name__ == '__main__':
    main()
