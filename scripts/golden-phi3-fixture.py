#!/usr/bin/env python3
"""Writes a tiny random Phi-3 (test/fixtures/tiny-phi3: config.json and model.safetensors, laid out as transformers
saves Phi3ForCausalLM) and test/fixtures/golden-phi3.json: its logits on one prompt along three paths, computed in
float64 with numpy by a forward written here from transformers' Phi-3 formulas, independently of namm's code.

What the model is chosen to catch:
- the fused projections: `qkv_proj` stacks the queries' rows, then the keys', then the values' (grouped-query
  attention here: 4 heads, 2 KV heads, so the three parts differ in size), and `gate_up_proj` stacks the gate's rows
  and then the up projection's;
- LongRoPE: pair i turns at base^(-2i/d) / factor_i, with `long_factor` in a forward whose sequence (its last
  position + 1) is longer than the original context (16 here) and `short_factor` otherwise, and cos and sin
  multiplied by the attention factor sqrt(1 + ln(64/16) / ln 16) at every length (`_compute_longrope_parameters`
  with the top-level original_max_position_embeddings, as Phi-3's configs have it);
- partial rotary embeddings (partial_rotary_factor 0.75, as Phi-4-mini's): the first 12 of each head's 16 dims turn
  (rotate-half within them), the other 4 pass through;
- an untied output head, rms_norm_eps 1e-5, norm weights drawn around 1.

The paths:
- `long`: one forward over all 24 tokens (24 > 16: the long factors for every position);
- `short`: one forward over the first 12 (the short factors);
- `decoded`: a forward over the first 6 tokens, then one token at a time with the keys cached, as transformers'
  Phi3Model runs with past_key_values (and llama.cpp by batch): the token at position p is rotated with the factors
  of a forward of length p + 1, so positions 0..15 with the short factors and 16..23 with the long ones, and the
  cached keys keep the rotation they were made with. (Phi3ForCausalLM's generate instead drops its cache at the
  first token past the original context and runs the whole sequence again with the long factors.)
- `windowed` and `windowed_decoded`: `long` and `decoded` again with a sliding window of WINDOW tokens (the test
  gives the model's config `sliding_window`), masked as transformers' sliding-window mask does: the query at
  position p sees the keys at positions p - WINDOW + 1 .. p.

Usage: python3 scripts/golden-phi3-fixture.py. Needs numpy and safetensors. Deterministic: numpy's PCG64 with a fixed
seed, so the same numpy writes the same files.
"""
import math
import os

import numpy as np

from fixture_common import FIXTURES, Draws, logits_b64, write_golden, write_model

MODEL_DIR = os.path.join(FIXTURES, 'tiny-phi3')
OUT = os.path.join(FIXTURES, 'golden-phi3.json')

LAYERS, HIDDEN, HEADS, KV_HEADS, INTERMEDIATE, VOCAB = 2, 64, 4, 2, 96, 256
HEAD_DIM = HIDDEN // HEADS
PARTIAL = 0.75
ROTARY = int(HEAD_DIM * PARTIAL)
ORIGINAL, MAX_POSITIONS = 16, 64
SHORT = [1.0, 1.05, 1.3, 1.9, 2.6, 3.4]
LONG = [1.0, 1.4, 2.5, 5.0, 9.0, 16.0]
CONFIG = {
    'architectures': ['Phi3ForCausalLM'],
    'model_type': 'phi3',
    'vocab_size': VOCAB,
    'hidden_size': HIDDEN,
    'intermediate_size': INTERMEDIATE,
    'num_hidden_layers': LAYERS,
    'num_attention_heads': HEADS,
    'num_key_value_heads': KV_HEADS,
    'hidden_act': 'silu',
    'max_position_embeddings': MAX_POSITIONS,
    'original_max_position_embeddings': ORIGINAL,
    'rms_norm_eps': 1e-5,
    'rope_theta': 10000.0,
    'rope_scaling': {'type': 'longrope', 'short_factor': SHORT, 'long_factor': LONG},
    'partial_rotary_factor': PARTIAL,
    'sliding_window': None,
    'tie_word_embeddings': False,
    'bos_token_id': 1,
    'eos_token_id': 2,
    'pad_token_id': 0,
    'torch_dtype': 'float16',
}
# Ids from across the vocabulary, the first and the last included.
PROMPT = [1, 17, 200, 3, 99, 128, 64, 0, 255, 31, 150, 77, 9, 240, 180, 45, 101, 6, 222, 58, 133, 12, 90, 199]
SHORT_LENGTH, DECODE_FROM = 12, 6
POSITIONS = {'long': [0, 5, 11, 15, 16, 17, 23], 'short': [0, 5, 11], 'decoded': [5, 11, 15, 16, 17, 23],
             'windowed': [0, 4, 5, 11, 16, 23], 'windowed_decoded': [5, 6, 11, 16, 23]}
WINDOW = 5


def weights(seed=20261204):
    """name → float16 array. Projections N(0, 0.15²), embeddings and head N(0, 0.5²), norm weights 1 + N(0, 0.2²)."""
    draw = Draws(seed)
    normal, around_one = draw.normal, draw.around_one
    w = {}

    w['model.embed_tokens.weight'] = normal((VOCAB, HIDDEN), 0.5)
    for layer in range(LAYERS):
        p = 'model.layers.%d.' % layer
        w[p + 'input_layernorm.weight'] = around_one(HIDDEN)
        w[p + 'self_attn.qkv_proj.weight'] = normal(((HEADS + 2 * KV_HEADS) * HEAD_DIM, HIDDEN), 0.15)
        w[p + 'self_attn.o_proj.weight'] = normal((HIDDEN, HEADS * HEAD_DIM), 0.15)
        w[p + 'post_attention_layernorm.weight'] = around_one(HIDDEN)
        w[p + 'mlp.gate_up_proj.weight'] = normal((2 * INTERMEDIATE, HIDDEN), 0.15)
        w[p + 'mlp.down_proj.weight'] = normal((HIDDEN, INTERMEDIATE), 0.15)
    w['model.norm.weight'] = around_one(HIDDEN)
    w['lm_head.weight'] = normal((VOCAB, HIDDEN), 0.5)
    return w


def cos_sin(position, forward_length, short=SHORT, long=LONG, attention_factor=True):
    """cos and sin over the ROTARY dims for one position, in a forward of `forward_length` tokens."""
    scale = MAX_POSITIONS / ORIGINAL
    attention = math.sqrt(1 + math.log(scale) / math.log(ORIGINAL)) if scale > 1 and attention_factor else 1.0
    factors = np.array(long if forward_length > ORIGINAL else short, dtype=np.float64)
    inv = 1.0 / (factors * CONFIG['rope_theta'] ** (np.arange(0, ROTARY, 2, dtype=np.float64) / ROTARY))
    angles = position * inv
    return (np.concatenate([np.cos(angles), np.cos(angles)]) * attention,
            np.concatenate([np.sin(angles), np.sin(angles)]) * attention)


def rotate(x, cos, sin):
    """x [heads, HEAD_DIM]: rotate-half over the first ROTARY dims, the rest passed through."""
    rot, rest = x[:, :ROTARY], x[:, ROTARY:]
    half = np.concatenate([-rot[:, ROTARY // 2:], rot[:, :ROTARY // 2]], axis=-1)
    return np.concatenate([rot * cos + half * sin, rest], axis=-1)


def run(w, ids, forward_of, long=LONG, attention_factor=True, window=None):
    """Logits [len(ids), VOCAB]; forward_of[p] is the length of the forward in which position p is computed; with
    `window`, the query at position p sees only the keys at positions above p - window."""
    t = len(ids)
    eps = CONFIG['rms_norm_eps']

    def norm(x, weight):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight

    x = w['model.embed_tokens.weight'][ids]
    q_rows, kv_rows = HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM
    for layer in range(LAYERS):
        p = 'model.layers.%d.' % layer
        h = norm(x, w[p + 'input_layernorm.weight'])
        qkv = h @ w[p + 'self_attn.qkv_proj.weight'].T
        q = qkv[:, :q_rows].reshape(t, HEADS, HEAD_DIM)
        k = qkv[:, q_rows:q_rows + kv_rows].reshape(t, KV_HEADS, HEAD_DIM)
        v = qkv[:, q_rows + kv_rows:].reshape(t, KV_HEADS, HEAD_DIM)
        for pos in range(t):
            cos, sin = cos_sin(pos, forward_of[pos], long=long, attention_factor=attention_factor)
            q[pos], k[pos] = rotate(q[pos], cos, sin), rotate(k[pos], cos, sin)
        out = np.empty((t, HEADS, HEAD_DIM))
        group = HEADS // KV_HEADS
        mask = np.triu(np.full((t, t), -np.inf), 1)
        if window is not None:
            mask = mask + np.tril(np.full((t, t), -np.inf), -window)
        for head in range(HEADS):
            kv = head // group
            scores = q[:, head] @ k[:, kv].T / math.sqrt(HEAD_DIM) + mask
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            out[:, head] = (scores / scores.sum(axis=-1, keepdims=True)) @ v[:, kv]
        x = x + out.reshape(t, q_rows) @ w[p + 'self_attn.o_proj.weight'].T
        h = norm(x, w[p + 'post_attention_layernorm.weight'])
        gate_up = h @ w[p + 'mlp.gate_up_proj.weight'].T
        gate, up = gate_up[:, :INTERMEDIATE], gate_up[:, INTERMEDIATE:]
        x = x + (gate / (1 + np.exp(-gate)) * up) @ w[p + 'mlp.down_proj.weight'].T
    return norm(x, w['model.norm.weight']) @ w['lm_head.weight'].T


def main():
    w = weights()
    wide = {k: v.astype(np.float64) for k, v in w.items()}
    n = len(PROMPT)
    decoded_of = [DECODE_FROM if p < DECODE_FROM else p + 1 for p in range(n)]
    paths = {
        'long': run(wide, PROMPT, [n] * n),
        'short': run(wide, PROMPT[:SHORT_LENGTH], [SHORT_LENGTH] * SHORT_LENGTH),
        'decoded': run(wide, PROMPT, decoded_of),
        'windowed': run(wide, PROMPT, [n] * n, window=WINDOW),
        'windowed_decoded': run(wide, PROMPT, decoded_of, window=WINDOW),
    }
    # How far the logits move when the long factors are taken as the short ones, or the gate and up halves swapped
    # (and, below, keys and values swapped, or the attention factor left out): the test is blind below its
    # tolerance, so each must move them far past it.
    same_factors = run(wide, PROMPT, [n] * n, long=SHORT)
    swapped = dict(wide)
    for layer in range(LAYERS):
        name = 'model.layers.%d.mlp.gate_up_proj.weight' % layer
        swapped[name] = np.concatenate([wide[name][INTERMEDIATE:], wide[name][:INTERMEDIATE]])
    swapped_logits = run(swapped, PROMPT, [n] * n)
    # Keys and values are the same size here: taken the other way round, and the attention factor left out.
    kv_swapped = dict(wide)
    q_rows, kv_rows = HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM
    for layer in range(LAYERS):
        name = 'model.layers.%d.self_attn.qkv_proj.weight' % layer
        qkv = wide[name]
        kv_swapped[name] = np.concatenate([qkv[:q_rows], qkv[q_rows + kv_rows:], qkv[q_rows:q_rows + kv_rows]])
    kv_swapped_logits = run(kv_swapped, PROMPT, [n] * n)
    unscaled = run(wide, PROMPT, [n] * n, attention_factor=False)
    positions = POSITIONS['long']
    moved = lambda other: float(np.abs(other[positions] - paths['long'][positions]).max())  # noqa: E731
    # The window must matter where it cuts, and by one position (a window one longer) as well.
    cut = [p for p in POSITIONS['windowed'] if p >= WINDOW]
    off_by_one = run(wide, PROMPT, [n] * n, window=WINDOW + 1)
    window_off_by_one = float(np.abs(off_by_one[cut] - paths['windowed'][cut]).max())

    write_model(MODEL_DIR, CONFIG, w)
    fixture = {
        'source': 'numpy %s float64 forward, scripts/golden-phi3-fixture.py' % np.__version__,
        'model': 'test/fixtures/tiny-phi3 (random, seeded)', 'prompt': PROMPT, 'vocab': VOCAB,
        'short_length': SHORT_LENGTH, 'decode_from': DECODE_FROM, 'window': WINDOW,
        'moved_with_short_factors_for_long': moved(same_factors), 'moved_with_gate_up_swapped': moved(swapped_logits),
        'moved_with_k_v_swapped': moved(kv_swapped_logits), 'moved_without_attention_factor': moved(unscaled),
        'moved_without_window': float(np.abs(paths['windowed'][cut] - paths['long'][cut]).max()),
        'moved_with_window_one_longer': window_off_by_one,
        'paths': {
            name: {'positions': POSITIONS[name],
                   'logits_f32': logits_b64(logits[POSITIONS[name]])}
            for name, logits in paths.items()
        },
    }
    write_golden(OUT, fixture)
    print('max |logit| %.3f; moved with the short factors for the long %.3g, with gate and up swapped %.3g, with k and v'
          ' swapped %.3g, without the attention factor %.3g'
          % (np.abs(paths['long']).max(), fixture['moved_with_short_factors_for_long'], fixture['moved_with_gate_up_swapped'],
             fixture['moved_with_k_v_swapped'], fixture['moved_without_attention_factor']))
    print('wrote', os.path.relpath(MODEL_DIR), 'and', os.path.relpath(OUT))


if __name__ == '__main__':
    main()
