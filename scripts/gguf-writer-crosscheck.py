#!/usr/bin/env python3
"""Reads GGUF files that `namm convert` wrote with ggml's own Python package (gguf-py's GGUFReader), and checks them
against the Hugging Face folder they came from: the architecture metadata, every tensor (dequantized by gguf-py, q/k
rows put back from llama.cpp's interleaved layout), the vocabulary size, and for Q8_0/Q4_0 the quantized bytes of the
unpermuted matrices against gguf-py's own quantizer. An independent check of the writer; not part of the test suite
(CI has no Python packages).

Usage:
  for d in f32 f16 q8_0 q4_0; do namm convert --from MODEL --to gguf --out OUT/m-$d.gguf --dtype $d; done
  python3 scripts/gguf-writer-crosscheck.py MODEL OUT
Needs gguf (0.19.0), numpy and safetensors.
"""
import json
import os
import sys

import numpy as np
from gguf import GGUFReader
from gguf.constants import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize
from safetensors.numpy import load_file

model, out = sys.argv[1], sys.argv[2]
src = load_file(os.path.join(model, 'model.safetensors'))
cfg = json.load(open(os.path.join(model, 'config.json')))
n_head = cfg['num_attention_heads']
n_kv = cfg.get('num_key_value_heads', n_head)

GLOBAL = {'token_embd.weight': 'model.embed_tokens.weight', 'output_norm.weight': 'model.norm.weight', 'output.weight': 'lm_head.weight'}
LAYER = {'attn_q': 'self_attn.q_proj', 'attn_k': 'self_attn.k_proj', 'attn_v': 'self_attn.v_proj', 'attn_output': 'self_attn.o_proj',
         'ffn_gate': 'mlp.gate_proj', 'ffn_up': 'mlp.up_proj', 'ffn_down': 'mlp.down_proj', 'attn_norm': 'input_layernorm',
         'ffn_norm': 'post_attention_layernorm'}


def interleave(w, heads):
    """Rotate-half rows (i, i + d/2) of each head made adjacent (2i, 2i + 1), as llama.cpp stores q and k."""
    rows = w.shape[0]
    return w.reshape(heads, 2, rows // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def source_of(name):
    if name in GLOBAL:
        hf = GLOBAL[name]
    else:
        _, layer, kind, _ = name.split('.')
        hf = f'model.layers.{layer}.{LAYER[kind]}.weight'
    # Tied embeddings are stored once, under either name.
    if hf not in src:
        hf = {'lm_head.weight': 'model.embed_tokens.weight', 'model.embed_tokens.weight': 'lm_head.weight'}[hf]
    w = src[hf].astype(np.float32)
    if '.attn_q.' in name:
        w = interleave(w, n_head)
    if '.attn_k.' in name:
        w = interleave(w, n_kv)
    return w


def field(r, key):
    f = r.fields[key]
    v = f.parts[f.data[0]]
    if f.types[0].name == 'STRING':
        return v.tobytes().decode()
    v = v.tolist()
    return v[0] if isinstance(v, list) and len(v) == 1 else v


for dtype in ['f32', 'f16', 'q8_0', 'q4_0']:
    r = GGUFReader(os.path.join(out, f'm-{dtype}.gguf'))
    arch = field(r, 'general.architecture')
    want = {'block_count': cfg['num_hidden_layers'], 'embedding_length': cfg['hidden_size'], 'attention.head_count': n_head,
            'attention.head_count_kv': n_kv, 'feed_forward_length': cfg['intermediate_size']}
    meta = [k for k, v in want.items() if field(r, f'{arch}.{k}') != v]
    worst, same, differ = 0.0, 0, 0
    for t in r.tensors:
        w = source_of(t.name)
        got = dequantize(t.data, t.tensor_type).reshape(w.shape).astype(np.float32)
        worst = max(worst, float(np.abs(got - w).max() / (np.abs(w).max() or 1)))
        if t.tensor_type in (T.Q8_0, T.Q4_0):
            ref = quantize(w, t.tensor_type)
            if np.array_equal(np.asarray(t.data).reshape(-1).view(np.uint8), ref.reshape(-1).view(np.uint8)):
                same += 1
            else:
                differ += 1
    print(f'{dtype}: {arch}, {len(r.tensors)} tensors, metadata mismatches {meta or "none"}, vocabulary '
          f'{len(r.fields["tokenizer.ggml.tokens"].data)}, worst error {worst:.3g} of a tensor\'s largest value'
          + (f', {same} quantized tensors byte-identical to gguf-py\'s quantizer, {differ} not' if same + differ else ''))
