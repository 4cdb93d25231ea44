#!/usr/bin/env python3
"""Writes a tiny random Qwen3 (test/fixtures/tiny-qwen3: config.json and model.safetensors, as transformers 5 saves
one) and test/fixtures/golden-qwen3.json: its logits on one prompt, computed in float64 with numpy by the forward of
scripts/golden-logits-fixture.py (written from transformers' formulas, independently of namm's code), which for
model_type "qwen3" normalises each query and key head (Qwen3Attention's q_norm and k_norm) before RoPE.

The model is chosen to catch what Qwen3 changes: head_dim (32) is not hidden_size / heads (16), so q_proj is 128 rows
wide, not 64; grouped-query attention (4 heads, 2 KV heads); per-head norm weights drawn around 1 (not ones, so that a
loader that ignored them, or applied q's to k, would be seen); tied embeddings stored once, as transformers stores
them; rope_theta 1,000,000 and rms_norm_eps 1e-6 as the released models. A vocabulary of 256 synthetic ids (no
tokenizer: the tests feed ids). Weights are stored as F16 (to keep the fixture small) and the reference runs on
exactly those values, widened.

Usage: python3 scripts/golden-qwen3-fixture.py. Needs numpy and safetensors. Deterministic: numpy's PCG64 with a fixed
seed, so the same numpy writes the same files.
"""
import importlib.util
import os

import numpy as np

from fixture_common import FIXTURES, Draws, logits_b64, write_golden, write_model

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.path.join(FIXTURES, 'tiny-qwen3')
OUT = os.path.join(FIXTURES, 'golden-qwen3.json')

spec = importlib.util.spec_from_file_location('golden_logits', os.path.join(HERE, 'golden-logits-fixture.py'))
golden = importlib.util.module_from_spec(spec)
spec.loader.exec_module(golden)

LAYERS, HIDDEN, HEADS, KV_HEADS, HEAD_DIM, INTERMEDIATE, VOCAB = 2, 64, 4, 2, 32, 96, 256
CONFIG = {
    'architectures': ['Qwen3ForCausalLM'],
    'model_type': 'qwen3',
    'vocab_size': VOCAB,
    'hidden_size': HIDDEN,
    'intermediate_size': INTERMEDIATE,
    'num_hidden_layers': LAYERS,
    'num_attention_heads': HEADS,
    'num_key_value_heads': KV_HEADS,
    'head_dim': HEAD_DIM,
    'hidden_act': 'silu',
    'max_position_embeddings': 256,
    'rms_norm_eps': 1e-6,
    # transformers 5's form: rope_parameters, and layer_types written out
    'rope_parameters': {'rope_theta': 1000000.0, 'rope_type': 'default'},
    'attention_bias': False,
    'attention_dropout': 0.0,
    'use_sliding_window': False,
    'sliding_window': None,
    'max_window_layers': LAYERS,
    'layer_types': ['full_attention'] * LAYERS,
    'tie_word_embeddings': True,
    'bos_token_id': 254,
    'eos_token_id': 255,
    'dtype': 'float16',
}
# Ids from across the vocabulary, the first and the last included; the logits of POSITIONS are kept.
PROMPT = [254, 17, 200, 3, 99, 128, 64, 0, 255, 31, 150, 77, 9, 240, 180, 45, 101, 6, 222, 58, 133, 12, 90, 199]
POSITIONS = [0, 5, 11, 17, 23]


def weights(seed=20250):
    """name → float16 array. Projections N(0, 0.15²), embeddings N(0, 0.5²), every norm weight 1 + N(0, 0.2²)."""
    draw = Draws(seed)
    normal, around_one = draw.normal, draw.around_one
    w = {}

    w['model.embed_tokens.weight'] = normal((VOCAB, HIDDEN), 0.5)
    for layer in range(LAYERS):
        p = 'model.layers.%d.' % layer
        w[p + 'input_layernorm.weight'] = around_one(HIDDEN)
        w[p + 'self_attn.q_proj.weight'] = normal((HEADS * HEAD_DIM, HIDDEN), 0.15)
        w[p + 'self_attn.k_proj.weight'] = normal((KV_HEADS * HEAD_DIM, HIDDEN), 0.15)
        w[p + 'self_attn.v_proj.weight'] = normal((KV_HEADS * HEAD_DIM, HIDDEN), 0.15)
        w[p + 'self_attn.o_proj.weight'] = normal((HIDDEN, HEADS * HEAD_DIM), 0.15)
        w[p + 'self_attn.q_norm.weight'] = around_one(HEAD_DIM)
        w[p + 'self_attn.k_norm.weight'] = around_one(HEAD_DIM)
        w[p + 'post_attention_layernorm.weight'] = around_one(HIDDEN)
        w[p + 'mlp.gate_proj.weight'] = normal((INTERMEDIATE, HIDDEN), 0.15)
        w[p + 'mlp.up_proj.weight'] = normal((INTERMEDIATE, HIDDEN), 0.15)
        w[p + 'mlp.down_proj.weight'] = normal((HIDDEN, INTERMEDIATE), 0.15)
    w['model.norm.weight'] = around_one(HIDDEN)
    return w


def logits(cfg, w):
    wide = {k: v.astype(np.float64) for k, v in w.items()}
    wide['lm_head.weight'] = wide['model.embed_tokens.weight']  # tied
    return golden.forward(cfg, wide, PROMPT)


def main():
    w = weights()
    # The forward reads rope_theta at the top level, as config.json had it before transformers 5.
    cfg = dict(CONFIG, rope_theta=CONFIG['rope_parameters']['rope_theta'])
    want = logits(cfg, w)
    # How far the logits move when the q/k norms are left out, or their weights taken as ones: the test is blind
    # below its tolerance, so both must move them far past it.
    without = logits(dict(cfg, model_type='qwen2-like'), w)
    ones = dict(w)
    for name in ones:
        if name.endswith(('q_norm.weight', 'k_norm.weight')):
            ones[name] = np.ones_like(ones[name])
    unit = logits(cfg, ones)
    moved = lambda other: float(np.abs(other[POSITIONS] - want[POSITIONS]).max())  # noqa: E731

    # Tied: the embedding alone, as transformers saves a tied model.
    write_model(MODEL_DIR, CONFIG, w)
    rows = want[POSITIONS].astype('<f4')
    fixture = {
        'source': 'numpy %s float64 forward, scripts/golden-qwen3-fixture.py' % np.__version__,
        'model': 'test/fixtures/tiny-qwen3 (random, seeded)', 'prompt': PROMPT, 'positions': POSITIONS, 'vocab': VOCAB,
        'moved_without_qk_norm': moved(without), 'moved_with_unit_qk_norm_weights': moved(unit),
        'logits_f32': logits_b64(rows),
    }
    write_golden(OUT, fixture)
    print('max |logit| %.3f; moved without the q/k norms %.3g, with unit norm weights %.3g'
          % (np.abs(rows).max(), fixture['moved_without_qk_norm'], fixture['moved_with_unit_qk_norm_weights']))
    print('wrote', os.path.relpath(MODEL_DIR), 'and', os.path.relpath(OUT))


if __name__ == '__main__':
    main()
