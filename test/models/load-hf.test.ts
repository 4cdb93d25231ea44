import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadModelFiles } from '../../src/models/load.js';
import { tempDir } from '../helpers/temp.js';

const MODEL = '../shared/models/tinystories-656k';

/** Reads a tensor straight out of the file with a DataView, independently of the loader. */
function rawTensor(name: string): Float32Array {
  const buf = readFileSync(`${MODEL}/model.safetensors`);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const [b, e] = header[name].data_offsets as [number, number];
  const out = new Float32Array((e - b) / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(8 + n + b + 4 * i);
  return out;
}

test('loads the tinystories HF folder: config, tied embeddings, weights, tokenizer', async () => {
  const m = await loadModelFiles(MODEL);
  assert.equal(m.format, 'safetensors');
  assert.equal(m.config.arch, 'llama');
  assert.equal(m.config.hiddenSize, 128);
  assert.equal(m.config.nLayers, 2);
  assert.equal(m.config.nHeads, 8);
  assert.equal(m.config.nKvHeads, 4);
  assert.equal(m.config.headDim, 16);
  assert.equal(m.config.intermediateSize, 384);
  assert.equal(m.config.ropeLayout, 'half');
  assert.equal(m.config.tieEmbeddings, true);
  assert.equal(m.config.bosTokenId, 1);
  assert.deepEqual(m.config.eosTokenIds, [2]);
  assert.equal(m.weights.size, 21); // 20 stored tensors + the embedding alias from __metadata__
  const head = m.weights.get('lm_head.weight')!;
  assert.deepEqual(head.shape, [2048, 128]);
  assert.equal(m.weights.get('model.embed_tokens.weight'), head, 'tied: the same Tensor object');
  const q = m.weights.get('model.layers.1.self_attn.k_proj.weight')!;
  assert.deepEqual(q.shape, [64, 128]);
  assert.deepEqual(q.data, rawTensor('model.layers.1.self_attn.k_proj.weight'));
  assert.deepEqual(head.data, rawTensor('lm_head.weight'));
  assert.ok(m.tokenizer);
  assert.equal(m.tokenizer.vocabSize, 2048);
});

test('a model folder whose config.json or model.safetensors is a folder: the error names the path', async () => {
  const { cpSync, mkdirSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const dir = tempDir('namm-load-');
  try {
    for (const f of ['config.json', 'model.safetensors']) {
      const m = join(dir, f.replace('.', '-'));
      cpSync(MODEL, m, { recursive: true });
      rmSync(join(m, f));
      mkdirSync(join(m, f));
      // Before: "EISDIR: illegal operation on a directory, read", with no path.
      await assert.rejects(loadModelFiles(m), new RegExp(`${f.replace('.', '\\.')} is a folder, not a`));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tie_word_embeddings with both matrices stored: the embedding serves as both (as transformers ties them), the stored head is not kept; untied, each is its own', async () => {
  const { cpSync, rmSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { writeSafetensors } = await import('../../src/models/safetensors.js');
  const { Model } = await import('../../src/models/model.js');
  const dir = tempDir('namm-tied-');
  try {
    const src = await loadModelFiles(MODEL);
    const embed = src.weights.get('model.embed_tokens.weight')!;
    // Both stored, the head different from the embedding (every value negated).
    const tensors = new Map([...src.weights].filter(([n]) => n !== 'lm_head.weight')
      .map(([n, t]) => [n, { dtype: 'F32' as const, shape: t.shape, data: t.data }]));
    tensors.set('lm_head.weight', { dtype: 'F32', shape: embed.shape, data: embed.data.map((v) => -v) });
    const config = JSON.parse(readFileSync(join(MODEL, 'config.json'), 'utf8'));
    for (const tie of [true, false]) {
      const m = join(dir, `tie-${tie}`);
      cpSync(MODEL, m, { recursive: true });
      writeSafetensors(join(m, 'model.safetensors'), tensors, { format: 'pt' });
      writeFileSync(join(m, 'config.json'), JSON.stringify({ ...config, tie_word_embeddings: tie }));
      const got = await loadModelFiles(m);
      const head = got.weights.get('lm_head.weight')!, e = got.weights.get('model.embed_tokens.weight')!;
      assert.deepEqual(e.data, embed.data);
      if (tie) assert.equal(head, e, 'tied: the embedding under both names');
      else assert.deepEqual(head.data, embed.data.map((v) => -v));
      // The logits follow: tied, the same as the original model's; untied, the negated head gives negated logits.
      const logits = new Model(got.config, got.weights, null).createSessionWith(null).prefill([1, 5, 9]);
      const ref = new Model(src.config, src.weights, null).createSessionWith(null).prefill([1, 5, 9]);
      for (let i = 0; i < ref.length; i += 97) assert.ok(Math.abs(logits[i]! - (tie ? ref[i]! : -ref[i]!)) < 1e-4, `${tie} ${i}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
