#!/usr/bin/env python3
"""Writes a tiny random Gemma 3 text model (test/fixtures/tiny-gemma3: config.json and model.safetensors, laid out as
transformers saves Gemma3ForCausalLM) and test/fixtures/golden-gemma3.json: its logits on one prompt, computed in
float64 with numpy by a forward written here from transformers' Gemma 3 formulas, independently of namm's code.

What the model is chosen to catch (each moves the logits far past the test's tolerance; the script measures it):
- the embeddings scaled by sqrt(hidden_size) (8 here);
- every RMSNorm multiplying by 1 + weight (the weights are offsets drawn around 0), the q/k norms included;
- the attention output and the MLP output each normalised (post_attention_layernorm, post_feedforward_layernorm)
  before their residual adds, and pre_feedforward_layernorm before the MLP;
- the attention logits scaled by query_pre_attn_scalar^-1/2 (32 here), not head_dim^-1/2 (head_dim 24, apart from
  hidden_size / heads = 16);
- GeGLU: the tanh GELU of the gate times up;
- sliding layers (without layer_types: every layer but each sliding_window_pattern-th, so layers 0 and 1 of 3)
  attending only to the keys less than sliding_window (5) positions back, and turning at rope_local_base_freq
  unscaled, while the full layer turns at rope_theta with the linear rope_scaling;
- tied embeddings (no lm_head.weight).

Usage: python3 scripts/golden-gemma3-fixture.py. Needs numpy and safetensors. Deterministic: numpy's PCG64 with a fixed
seed, so the same numpy writes the same files.
"""
import math
import os

import numpy as np

from fixture_common import FIXTURES, Draws, logits_b64, write_golden, write_model

MODEL_DIR = os.path.join(FIXTURES, 'tiny-gemma3')
OUT = os.path.join(FIXTURES, 'golden-gemma3.json')

LAYERS, HIDDEN, HEADS, KV_HEADS, HEAD_DIM, INTERMEDIATE, VOCAB = 3, 64, 4, 2, 24, 96, 256
WINDOW, PATTERN, QUERY_SCALAR = 5, 3, 32
GLOBAL_THETA, LOCAL_THETA, LINEAR = 10000.0, 100.0, 4.0
CONFIG = {
    'architectures': ['Gemma3ForCausalLM'],
    'model_type': 'gemma3_text',
    'vocab_size': VOCAB,
    'hidden_size': HIDDEN,
    'intermediate_size': INTERMEDIATE,
    'num_hidden_layers': LAYERS,
    'num_attention_heads': HEADS,
    'num_key_value_heads': KV_HEADS,
    'head_dim': HEAD_DIM,
    'hidden_activation': 'gelu_pytorch_tanh',
    'max_position_embeddings': 64,
    'rms_norm_eps': 1e-6,
    'rope_theta': GLOBAL_THETA,
    'rope_local_base_freq': LOCAL_THETA,
    'rope_scaling': {'rope_type': 'linear', 'factor': LINEAR},
    'sliding_window': WINDOW,
    'sliding_window_pattern': PATTERN,
    'query_pre_attn_scalar': QUERY_SCALAR,
    'attn_logit_softcapping': None,
    'final_logit_softcapping': None,
    'attention_bias': False,
    'tie_word_embeddings': True,
    'bos_token_id': 2,
    'eos_token_id': 1,
    'pad_token_id': 0,
    'torch_dtype': 'float16',
}
PROMPT = [2, 17, 200, 3, 99, 128, 64, 0, 255, 31, 150, 77, 9, 240, 180, 45, 101, 6, 222, 58, 133, 12, 90, 199]
POSITIONS = [0, 3, 4, 5, 6, 11, 17, 23]


def weights(seed=20261205):
    """name -> float16 array. Projections N(0, 0.15^2), embeddings N(0, 0.5^2), norm weights (offsets from 1) N(0, 0.2^2)."""
    draw = Draws(seed)
    normal = draw.normal
    w = {'model.embed_tokens.weight': normal((VOCAB, HIDDEN), 0.5)}
    for layer in range(LAYERS):
        p = 'model.layers.%d.' % layer
        w[p + 'input_layernorm.weight'] = normal(HIDDEN, 0.2)
        w[p + 'self_attn.q_proj.weight'] = normal((HEADS * HEAD_DIM, HIDDEN), 0.15)
        w[p + 'self_attn.k_proj.weight'] = normal((KV_HEADS * HEAD_DIM, HIDDEN), 0.15)
        w[p + 'self_attn.v_proj.weight'] = normal((KV_HEADS * HEAD_DIM, HIDDEN), 0.15)
        w[p + 'self_attn.o_proj.weight'] = normal((HIDDEN, HEADS * HEAD_DIM), 0.15)
        w[p + 'self_attn.q_norm.weight'] = normal(HEAD_DIM, 0.2)
        w[p + 'self_attn.k_norm.weight'] = normal(HEAD_DIM, 0.2)
        w[p + 'post_attention_layernorm.weight'] = normal(HIDDEN, 0.2)
        w[p + 'pre_feedforward_layernorm.weight'] = normal(HIDDEN, 0.2)
        w[p + 'post_feedforward_layernorm.weight'] = normal(HIDDEN, 0.2)
        w[p + 'mlp.gate_proj.weight'] = normal((INTERMEDIATE, HIDDEN), 0.15)
        w[p + 'mlp.up_proj.weight'] = normal((INTERMEDIATE, HIDDEN), 0.15)
        w[p + 'mlp.down_proj.weight'] = normal((HIDDEN, INTERMEDIATE), 0.15)
    w['model.norm.weight'] = normal(HIDDEN, 0.2)
    return w


def sliding(layer):
    return (layer + 1) % PATTERN != 0


def run(w, ids, embed_scale=True, plus_one=True, post_norms=True, query_scalar=QUERY_SCALAR, geglu=True,
        local_rope=True, window=WINDOW):
    """Logits [len(ids), VOCAB]; each keyword undoes one of Gemma's departures, to measure what it moves."""
    t = len(ids)
    eps = CONFIG['rms_norm_eps']

    def norm(x, weight):
        scale = 1 + weight if plus_one else weight
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * scale

    def rope(x, theta, factor):
        inv = 1.0 / (theta ** (np.arange(0, HEAD_DIM, 2, dtype=np.float64) / HEAD_DIM)) / factor
        angles = np.arange(t, dtype=np.float64)[:, None] * inv[None, :]
        cos = np.concatenate([np.cos(angles), np.cos(angles)], axis=-1)[:, None, :]
        sin = np.concatenate([np.sin(angles), np.sin(angles)], axis=-1)[:, None, :]
        half = np.concatenate([-x[..., HEAD_DIM // 2:], x[..., :HEAD_DIM // 2]], axis=-1)
        return x * cos + half * sin

    x = w['model.embed_tokens.weight'][ids] * (np.float32(math.sqrt(HIDDEN)) if embed_scale else 1.0)
    causal = np.triu(np.full((t, t), -np.inf), 1)
    windowed = causal + np.tril(np.full((t, t), -np.inf), -window) if window else causal
    for layer in range(LAYERS):
        p = 'model.layers.%d.' % layer
        h = norm(x, w[p + 'input_layernorm.weight'])
        q = (h @ w[p + 'self_attn.q_proj.weight'].T).reshape(t, HEADS, HEAD_DIM)
        k = (h @ w[p + 'self_attn.k_proj.weight'].T).reshape(t, KV_HEADS, HEAD_DIM)
        v = (h @ w[p + 'self_attn.v_proj.weight'].T).reshape(t, KV_HEADS, HEAD_DIM)
        q, k = norm(q, w[p + 'self_attn.q_norm.weight']), norm(k, w[p + 'self_attn.k_norm.weight'])
        local = sliding(layer) if local_rope else not sliding(layer)
        theta, factor = (LOCAL_THETA, 1.0) if local else (GLOBAL_THETA, LINEAR)
        q, k = rope(q, theta, factor), rope(k, theta, factor)
        mask = windowed if sliding(layer) else causal
        out = np.empty((t, HEADS, HEAD_DIM))
        group = HEADS // KV_HEADS
        for head in range(HEADS):
            kv = head // group
            scores = q[:, head] @ k[:, kv].T * query_scalar ** -0.5 + mask
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            out[:, head] = (scores / scores.sum(axis=-1, keepdims=True)) @ v[:, kv]
        o = out.reshape(t, HEADS * HEAD_DIM) @ w[p + 'self_attn.o_proj.weight'].T
        x = x + (norm(o, w[p + 'post_attention_layernorm.weight']) if post_norms else o)
        h = norm(x, w[p + 'pre_feedforward_layernorm.weight'])
        gate, up = h @ w[p + 'mlp.gate_proj.weight'].T, h @ w[p + 'mlp.up_proj.weight'].T
        if geglu:
            act = 0.5 * gate * (1 + np.tanh(math.sqrt(2 / math.pi) * (gate + 0.044715 * gate ** 3)))
        else:
            act = gate / (1 + np.exp(-gate))
        m = (act * up) @ w[p + 'mlp.down_proj.weight'].T
        x = x + (norm(m, w[p + 'post_feedforward_layernorm.weight']) if post_norms else m)
    return norm(x, w['model.norm.weight']) @ w['model.embed_tokens.weight'].T


def main():
    w = weights()
    wide = {k: v.astype(np.float64) for k, v in w.items()}
    logits = run(wide, PROMPT)
    moved = {}
    for name, kwargs in [('without_embed_scale', {'embed_scale': False}), ('norms_without_plus_one', {'plus_one': False}),
                         ('without_output_norms', {'post_norms': False}), ('scaled_by_head_dim', {'query_scalar': HEAD_DIM}),
                         ('with_silu', {'geglu': False}), ('ropes_swapped', {'local_rope': False}),
                         ('window_one_longer', {'window': WINDOW + 1}), ('without_window', {'window': None})]:
        other = run(wide, PROMPT, **kwargs)
        moved[name] = float(np.abs(other[POSITIONS] - logits[POSITIONS]).max())

    write_model(MODEL_DIR, CONFIG, w)
    fixture = {
        'source': 'numpy %s float64 forward, scripts/golden-gemma3-fixture.py' % np.__version__,
        'model': 'test/fixtures/tiny-gemma3 (random, seeded)', 'prompt': PROMPT, 'vocab': VOCAB, 'window': WINDOW,
        'moved': moved,
        'positions': POSITIONS,
        'logits_f32': logits_b64(logits[POSITIONS]),
    }
    write_golden(OUT, fixture)
    print('max |logit| %.3f; moved: %s' % (np.abs(logits).max(), ', '.join('%s %.3g' % kv for kv in moved.items())))
    print('wrote', os.path.relpath(MODEL_DIR), 'and', os.path.relpath(OUT))


if __name__ == '__main__':
    main()
