/**
 * Models with packed weights (`weights` load option, src/models/pack.ts) on the tinystories test model: a GGUF
 * (F16, Q8_0, Q4_0) or safetensors (F16, BF16) file loaded packed runs exactly as the same file loaded as float32,
 * in a fraction of the memory; converting at load (q8_0) still gives the model's golden greedy ids; workers of an
 * evolution share packed weights and score exactly as float32 ones; misuse is refused with clear messages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { convertModel } from '../../src/cli/convert.js';
import { loadModelFiles } from '../../src/models/load.js';
import { Model } from '../../src/models/model.js';
import { convertWeights, tensorValues, widenTensor } from '../../src/models/pack.js';
import { writeGguf } from '../../src/models/gguf.js';
import { modelFingerprint } from '../../src/evolve/reference-scores.js';
import { loadSharedModel, shareWeights, workerWeights } from '../../src/evolve/workers.js';
import { PackedMatrix } from '../../src/tensor/packed.js';
import { GOLDEN_FROM_BOS, greedyFromBos } from '../helpers/golden.js';
import { tempDir } from '../helpers/temp.js';

const MODEL = '../shared/models/tinystories-656k';
const GPT2 = 'models/namm-tiny-gpt2';
const GOLDEN = GOLDEN_FROM_BOS;

const dir = tempDir('namm-packed-');
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

/** Prefill logits of a fixed 300-token prompt, then 6 decode steps' logits, all concatenated. */
function run(model: Model): Float32Array[] {
  const ids = Array.from({ length: 300 }, (_, i) => 1 + ((i * 37) % 2000));
  const s = model.createSessionWith(null, { chunkSize: 64 });
  const out = [s.prefill(ids).slice()];
  for (let t = 0; t < 6; t++) out.push(s.decode(5 + 11 * t).slice());
  return out;
}

test('a GGUF loaded packed (F16, Q8_0, Q4_0) gives exactly the logits of the same file widened to float32, in a fraction of the memory', async () => {
  for (const [dtype, maxShare] of [['f16', 0.51], ['q8_0', 0.28], ['q4_0', 0.15]] as const) {
    const path = join(dir, `ts-${dtype}.gguf`);
    await convertModel({ from: MODEL, to: 'gguf', out: path, dtype });
    const wide = await Model.fromPretrained(path, { weights: 'f32' }), packed = await Model.fromPretrained(path, { weights: 'packed' });
    assert.deepEqual(run(packed), run(wide), dtype);
    // The default (auto) keeps them packed on the native backend.
    const auto = await Model.fromPretrained(path);
    if (auto.backend.name === 'native') assert.equal(auto.arch.weightBytes, packed.arch.weightBytes, `auto, ${dtype}`);
    const share = packed.arch.weightBytes / wide.arch.weightBytes;
    assert.ok(share < maxShare, `${dtype}: packed weights take ${(100 * share).toFixed(1)}% of the float32 bytes`);
    // Matrices are packed; norms stay float32.
    const files = await loadModelFiles(path, { weights: 'packed' });
    assert.equal(files.weights.get('model.layers.0.mlp.up_proj.weight')!.packed?.format, dtype);
    assert.equal(files.weights.get('model.norm.weight')!.packed, undefined);
  }
});

test('a safetensors folder in F16 or BF16 loaded packed runs exactly as loaded as float32', async () => {
  for (const dtype of ['f16', 'bf16']) {
    const out = join(dir, `hf-${dtype}`);
    await convertModel({ from: MODEL, to: 'safetensors', out, dtype });
    const wide = await Model.fromPretrained(out, { weights: 'f32' }), packed = await Model.fromPretrained(out, { weights: 'packed' });
    assert.deepEqual(run(packed), run(wide), dtype);
    assert.ok(packed.arch.weightBytes < 0.51 * wide.arch.weightBytes, dtype);
    const auto = await Model.fromPretrained(out);
    if (auto.backend.name === 'native') assert.equal(auto.arch.weightBytes, packed.arch.weightBytes, `auto, ${dtype}`);
    // The tied embedding stays one tensor, packed once.
    const files = await loadModelFiles(out, { weights: 'packed' });
    assert.equal(files.weights.get('lm_head.weight'), files.weights.get('model.embed_tokens.weight'));
  }
});

test('weights: q8_0 converts a float32 model at load and keeps its golden greedy ids; q4_0 and bf16 convert too', async () => {
  const q8 = await Model.fromPretrained(MODEL, { weights: 'q8_0' });
  assert.deepEqual(greedyFromBos(q8), GOLDEN);
  const f32 = await Model.fromPretrained(MODEL);
  assert.ok(q8.arch.weightBytes < 0.28 * f32.arch.weightBytes);
  for (const w of ['q4_0', 'bf16'] as const) {
    const m = await Model.fromPretrained(MODEL, { weights: w });
    const files = await loadModelFiles(MODEL, { weights: w });
    assert.equal(files.weights.get('model.layers.1.self_attn.q_proj.weight')!.packed?.format, w);
    assert.equal(greedyFromBos(m).length, GOLDEN.length);
  }
  // 'packed' leaves a float32 file as it is; the files and the model say what was converted.
  const same = await loadModelFiles(MODEL, { weights: 'packed' });
  assert.ok([...same.weights.values()].every((t) => !t.packed));
  assert.equal(same.converted, 0);
  assert.equal((await loadModelFiles(MODEL, { weights: 'q8_0' })).converted, 15, '2 layers × 7 matrices + the tied embedding');
  assert.equal(q8.convertedWeights, 'q8_0');
  assert.equal(f32.convertedWeights, null);
  // A file already packed converts nothing: it is the file's own model.
  const kept = await Model.fromPretrained(join(dir, 'ts-q4_0.gguf'), { weights: 'q8_0' });
  assert.equal(kept.convertedWeights, null);
  // A llama2.c checkpoint (float32) converts too.
  const { encodeLlama2cCheckpoint } = await import('../../src/models/llama2c.js');
  const { convertRopeLayout } = await import('../../src/models/gguf.js');
  const { writeFileSync } = await import('node:fs');
  const src = await loadModelFiles(MODEL);
  writeFileSync(join(dir, 'model.bin'), encodeLlama2cCheckpoint({ ...src.config, ropeLayout: 'interleaved' }, convertRopeLayout(src.config, src.weights, 'interleaved')));
  const l2c = await loadModelFiles(join(dir, 'model.bin'), { weights: 'q8_0' });
  assert.equal(l2c.format, 'llama2c');
  assert.equal(l2c.converted, 15);
  assert.equal(l2c.weights.get('model.layers.1.mlp.down_proj.weight')!.packed?.format, 'q8_0');
});

test('auto keeps quantised matrices packed on the native backend and widens them on the TypeScript one', async () => {
  const { JsBackend } = await import('../../src/tensor/js.js');
  const path = join(dir, 'ts-q4_0.gguf');
  const native = await Model.fromPretrained(path), js = await Model.fromPretrained(path, { backend: new JsBackend() });
  const wide = await Model.fromPretrained(path, { weights: 'f32' });
  assert.equal(js.arch.weightBytes, wide.arch.weightBytes);
  if (native.backend.name === 'native') assert.ok(native.arch.weightBytes < 0.15 * wide.arch.weightBytes);
  // Asked for explicitly, packed weights also run on the TypeScript backend (widened per call), with the same logits.
  const jsPacked = await Model.fromPretrained(path, { backend: new JsBackend(), weights: 'packed' });
  assert.deepEqual(run(jsPacked), run(js));
});

test('GPT-2 models stay float32 whatever the weights option', async () => {
  const files = await loadModelFiles(GPT2, { weights: 'q8_0' });
  assert.ok([...files.weights.values()].every((t) => !t.packed));
  const converted = convertWeights(files.config, files.weights, 'q8_0');
  assert.equal(converted, 0);
});

test('packed tensors refuse silent float32 reads; tensorValues and widenTensor widen them; bad options are refused', async () => {
  const files = await loadModelFiles(join(dir, 'ts-q8_0.gguf'), { weights: 'packed' });
  const t = files.weights.get('model.layers.0.self_attn.k_proj.weight')!;
  assert.throws(() => t.data, /weight "blk\.0\.attn_k\.weight" is held packed \(q8_0\); this needs float32 weights/);
  const wide = await loadModelFiles(join(dir, 'ts-q8_0.gguf'));
  const want = wide.weights.get('model.layers.0.self_attn.k_proj.weight')!.data;
  assert.deepEqual(tensorValues(t), want);
  assert.deepEqual(widenTensor(t).data, want);
  // Writing needs float32 values: the writer meets the packed tensor's refusal, not an empty array.
  assert.throws(() => writeGguf(join(dir, 'x.gguf'), files.config, files.weights, null), /is held packed \(q8_0\)/);
  await assert.rejects(loadModelFiles(MODEL, { weights: 'q9' as never }), /weights must be one of auto, f32, packed, q8_0, q4_0, f16, bf16, got "q9"/);
});

test('shared weights stay packed in shared memory, rebuild in workers, and keep the float32 fingerprint', async () => {
  const path = join(dir, 'ts-q4_0.gguf');
  const packed = await loadSharedModel(path, undefined, 'packed');
  const wide = await loadSharedModel(path, undefined, 'f32');
  assert.equal(packed.fingerprint, wide.fingerprint, 'the same file is the same model, packed or not');
  const converted = await loadSharedModel(MODEL, undefined, 'q8_0');
  assert.notEqual(converted.fingerprint, (await loadSharedModel(MODEL)).fingerprint, 'converted weights are another model');
  // A converting storage that finds nothing to convert (the file is quantised already) loads the file's own model.
  const notConverted = await loadSharedModel(path, undefined, 'q8_0');
  assert.equal(notConverted.converted, 0);
  assert.equal(notConverted.fingerprint, wide.fingerprint);
  const t = packed.weights.get('model.layers.0.mlp.down_proj.weight')!;
  assert.ok(t.packed!.bytes.buffer instanceof SharedArrayBuffer);
  // Tied aliases still share one copy.
  assert.equal(packed.weights.get('lm_head.weight'), packed.weights.get('model.embed_tokens.weight'));
  // What a worker receives (plain fields, as postMessage leaves them) rebuilds the same model.
  const posted = [...packed.weights].map(([name, w]) => [name, w.shape, w.packed
    ? { format: w.packed.format, rows: w.packed.rows, cols: w.packed.cols, bytes: w.packed.bytes }
    : w.data] as [string, number[], Float32Array | { format: 'q4_0'; rows: number; cols: number; bytes: Uint8Array }]);
  const rebuilt = workerWeights(posted);
  assert.ok(rebuilt.get('model.layers.0.mlp.down_proj.weight')!.packed instanceof PackedMatrix);
  assert.deepEqual(run(new Model(packed.model.config, rebuilt, null)), run(wide.model));
  assert.equal(modelFingerprint(packed.model.config, shareWeights(rebuilt)), wide.fingerprint);
});

/**
 * A random Llama GGUF (hidden 256, intermediate 384) whose matrices are random blocks of ggml formats with moderate
 * float16 factors: rows of whole 256-value super-blocks take the `big` formats in turn, the down projections' rows
 * of 384 values (not whole super-blocks: llama.cpp then falls back to 32-value blocks, as this file does) the
 * `small` ones; the rest stays as written. Entries: [ggml type, bytes per block, values per block, float16 offsets].
 */
async function randomBlocksGguf(
  path: string, seed: string, big: readonly (readonly [number, number, number, readonly number[]])[],
  small: readonly (readonly [number, number, number, readonly number[]])[],
): Promise<{ turn: number; fallbacks: number }> {
  const { llamaConfig, randomWeights } = await import('../../src/models/random.js');
  const { readGgufHeader, writeGgufContainer } = await import('../../src/models/gguf.js');
  const { openSync, closeSync, readSync } = await import('node:fs');
  const { Rng } = await import('../../src/util/rng.js');
  const config = llamaConfig({ vocabSize: 2048, hiddenSize: 256, nLayers: 2, nHeads: 4, nKvHeads: 2, intermediateSize: 384, maxPositions: 512 });
  const f32 = join(dir, `${seed}-f32.gguf`);
  writeGguf(f32, config, randomWeights(config, 3), null);
  const fd = openSync(f32, 'r');
  const header = readGgufHeader(fd, f32);
  const rng = new Rng(seed);
  let turn = 0, fallbacks = 0;
  const tensors = header.tensors.map((t) => {
    if (t.dims.length === 2 && t.dims[0]! % 32 === 0) {
      const [type, size, per, scales] = t.dims[0]! % 256 === 0 ? big[turn++ % big.length]! : small[fallbacks++ % small.length]!;
      const blocks = (t.dims[0]! / per) * t.dims[1]!;
      const bytes = new Uint8Array(blocks * size).map(() => rng.int(256));
      for (let b = 0; b < blocks; b++) {
        for (const o of scales) {
          // A float16 of exponent field 9..12 (2^-6 .. 2^-3): small weights, finite logits.
          const h = ((rng.int(2) << 15) | ((9 + rng.int(4)) << 10) | rng.int(1024)) >>> 0;
          bytes[b * size + o] = h & 0xff; bytes[b * size + o + 1] = h >> 8;
        }
      }
      return { name: t.name, dims: t.dims, type, bytes };
    }
    const bytes = new Uint8Array(t.end - t.begin);
    readSync(fd, bytes, 0, bytes.length, t.begin);
    return { name: t.name, dims: t.dims, type: t.type, bytes };
  });
  closeSync(fd);
  writeGgufContainer(path, header.metadata, tensors);
  return { turn, fallbacks };
}

/** The packed formats a model's weights are held in. */
function heldFormats(weights: Map<string, { packed?: PackedMatrix }>): Set<string> {
  return new Set([...weights.values()].flatMap((t) => (t.packed ? [t.packed.format] : [])));
}

test('a GGUF with k-quant matrices (Q4_K, Q5_K, Q6_K, and Q4_1/Q5_0/Q5_1 where rows are not whole super-blocks) loads as float32 or packed with the same logits', async () => {
  const { GgmlType } = await import('../../src/models/gguf.js');
  const kq = join(dir, 'random-k.gguf');
  const { turn, fallbacks } = await randomBlocksGguf(kq, 'k-quant gguf',
    [[GgmlType.Q4_K, 144, 256, [0, 2]], [GgmlType.Q5_K, 176, 256, [0, 2]], [GgmlType.Q6_K, 210, 256, [208]]],
    [[GgmlType.Q4_1, 20, 32, [0, 2]], [GgmlType.Q5_0, 22, 32, [0]], [GgmlType.Q5_1, 24, 32, [0, 2]]]);
  assert.ok(turn >= 9 && fallbacks === 2, `${turn} matrices became k-quants, ${fallbacks} 32-value blocks`);
  const wide = await Model.fromPretrained(kq, { weights: 'f32' }), packed = await Model.fromPretrained(kq, { weights: 'packed' });
  const logits = run(packed);
  assert.ok(logits.every((l) => l.every(Number.isFinite)));
  assert.deepEqual(logits, run(wide));
  assert.ok(packed.arch.weightBytes < 0.3 * wide.arch.weightBytes);
  const files = await loadModelFiles(kq, { weights: 'packed' });
  assert.deepEqual(heldFormats(files.weights), new Set(['q4_k', 'q5_k', 'q6_k', 'q4_1', 'q5_0']));
});

test('a GGUF with Q2_K, Q3_K, IQ4_XS and IQ4_NL matrices loads as float32 or packed with the same logits', async () => {
  const { GgmlType } = await import('../../src/models/gguf.js');
  const path = join(dir, 'random-low-bit.gguf');
  const { turn, fallbacks } = await randomBlocksGguf(path, 'low-bit gguf',
    [[GgmlType.Q2_K, 84, 256, [80, 82]], [GgmlType.Q3_K, 110, 256, [108]], [GgmlType.IQ4_XS, 136, 256, [0]]],
    [[GgmlType.IQ4_NL, 18, 32, [0]]]);
  assert.ok(turn >= 9 && fallbacks === 2, `${turn} matrices of super-blocks, ${fallbacks} of 32-value blocks`);
  const wide = await Model.fromPretrained(path, { weights: 'f32' });
  const want = run(wide);
  assert.ok(want.every((l) => l.every(Number.isFinite)));
  for (const weights of ['auto', 'packed'] as const) {
    const packed = await Model.fromPretrained(path, { weights });
    assert.deepEqual(run(packed), want, weights);
    assert.ok(packed.arch.weightBytes < 0.2 * wide.arch.weightBytes, `${weights}: ${packed.arch.weightBytes} of ${wide.arch.weightBytes} bytes`);
  }
  const files = await loadModelFiles(path, { weights: 'packed' });
  assert.deepEqual(heldFormats(files.weights), new Set(['q2_k', 'q3_k', 'iq4_xs', 'iq4_nl']));
});
