/**
 * Per-pair RoPE divisors (llama.cpp's `rope_freqs.weight`, in every Llama 3.1+ GGUF file): the divisors of a Llama 3
 * scaling against the converter's formula, the scaling recovered from divisors alone, and GGUF files with the tensor
 * (as namm writes them, as llama.cpp writes them, combined with linear scaling, or holding divisors that are no
 * Llama 3 scaling) loading as the model they describe; malformed tensors and disagreements are refused by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { convertModel } from '../../src/cli/convert.js';
import { GgmlType, readGgufHeader, writeGguf, gv } from '../../src/models/gguf.js';
import { loadModelFiles } from '../../src/models/load.js';
import { Model } from '../../src/models/model.js';
import { llamaConfig, randomWeights } from '../../src/models/random.js';
import { rewriteGguf } from '../helpers/gguf-rewrite.js';
import { llama3FromDivisors, ropeFrequencyDivisors, ropeInvFreq } from '../../src/models/rope.js';
import type { ModelConfig, RopeScaling } from '../../src/models/types.js';
import { tempDir } from '../helpers/temp.js';

const dir = tempDir('namm-rope-freqs-');
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

/** The divisor of pair i as llama.cpp's converter defines it for Llama 3 scaling, written out from its formula. */
function converterDivisor(theta: number, dim: number, i: number, factor: number, low: number, high: number, orig: number): number {
  const freq = 1 / theta ** ((2 * i) / dim);
  const wavelen = (2 * Math.PI) / freq;
  if (wavelen < orig / high) return 1;
  if (wavelen > orig / low) return factor;
  const smooth = (orig / wavelen - low) / (high - low);
  return 1 / ((1 - smooth) / factor + smooth);
}

test('Llama 3 divisors follow the converter\'s formula, and Meta\'s Llama 3.1 / 3.2 scalings come back from their float32 divisors', () => {
  for (const [headDim, factor] of [[128, 8], [64, 32]] as const) {
    const c = llamaConfig({ hiddenSize: headDim * 4, nHeads: 4, nKvHeads: 1, headDim, ropeTheta: 500000 });
    const l3: RopeScaling = { type: 'llama3', factor, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 };
    const div = ropeFrequencyDivisors({ ...c, ropeScaling: l3 })!;
    assert.equal(div.length, headDim / 2);
    div.forEach((d, i) => assert.ok(Math.abs(d - converterDivisor(500000, headDim, i, factor, 1, 4, 8192)) < 1e-12 * d, `pair ${i}`));
    assert.equal(div[0], 1);
    assert.equal(div[headDim / 2 - 1], factor);
    const band = div.filter((d) => d > 1 && d < factor).length;
    assert.ok(band >= 2, `${band} pairs in the blended band`);
    // As stored in the file (float32), then read back.
    assert.deepEqual(llama3FromDivisors(c, div.map(Math.fround)), l3);
    // Dividing by them gives the Llama 3 frequencies.
    const viaFactors = ropeInvFreq({ ...c, ropeScaling: { type: 'factors', factors: div.map(Math.fround) } }, 10);
    const direct = ropeInvFreq({ ...c, ropeScaling: l3 }, 10);
    viaFactors.forEach((f, i) => assert.ok(Math.abs(f - direct[i]!) <= 2e-7 * direct[i]!, `pair ${i}: ${f} vs ${direct[i]}`));
  }
  const c = llamaConfig({ hiddenSize: 128, nHeads: 2, nKvHeads: 1, headDim: 64, ropeTheta: 500000 });
  // Divisors no Llama 3 scaling gives: none recovered.
  assert.equal(llama3FromDivisors(c, Array.from({ length: 32 }, (_, i) => 1 + (i % 3))), null);
  assert.equal(llama3FromDivisors(c, Array.from({ length: 32 }, () => 1)), null);
  assert.equal(llama3FromDivisors(c, Array.from({ length: 32 }, (_, i) => (i < 16 ? 0.5 : 2))), null);
  // A model config's factors are checked: one positive finite divisor per rotary pair.
  const bad = (factors: unknown) => () => new Model({ ...c, ropeScaling: { type: 'factors', factors } as unknown as RopeScaling }, new Map(), null);
  assert.throws(bad([1, 2]), /ropeScaling\.factors must be 32 positive finite numbers \(one per rotary pair\), got 2 values/);
  assert.throws(bad(Array.from({ length: 32 }, (_, i) => (i === 3 ? 0 : 1))), /ropeScaling\.factors must be 32 positive finite numbers/);
  assert.throws(bad('x'), /ropeScaling\.factors must be 32 positive finite numbers \(one per rotary pair\), got "x"/);
});

// A small Llama whose 16 rotary pairs span every band of the scaling (3 pairs blended), run past its original context.
const L3: RopeScaling = { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 128 };
const base = llamaConfig({ vocabSize: 256, hiddenSize: 64, nLayers: 2, nHeads: 2, nKvHeads: 1, intermediateSize: 128, maxPositions: 1024, ropeScaling: L3 });
const weights = randomWeights(base, 7, 0.15);

function logits(config: ModelConfig, w = weights): Float32Array {
  const ids = Array.from({ length: 300 }, (_, i) => 1 + ((i * 37) % 250));
  return new Model(config, w, null).createSessionWith(null, { chunkSize: 100 }).prefill(ids, { logits: 'all' }).slice();
}

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num += (a[i]! - b[i]!) ** 2; den += b[i]! ** 2; }
  return Math.sqrt(num / den);
}

const rewrite = rewriteGguf;

test('GGUF rope_freqs.weight: written for Llama 3 scaling, read back as the scaling (namm\'s files and llama.cpp\'s), combined with linear scaling, or kept as per-pair factors', async () => {
  const reference = logits(base);
  // The scaling matters at these positions: without it the logits are far off.
  assert.ok(relErr(logits({ ...base, ropeScaling: { type: 'none' } }), reference) > 1e-3);

  const ours = join(dir, 'l3.gguf');
  writeGguf(ours, base, weights, null);
  const fd = openSync(ours, 'r');
  const header = readGgufHeader(fd, ours);
  closeSync(fd);
  const freqs = header.tensors.find((t) => t.name === 'rope_freqs.weight');
  assert.ok(freqs, 'the divisors are written for llama.cpp');
  assert.equal(freqs.type, GgmlType.F32);
  assert.deepEqual([...freqs.dims], [16]);
  assert.ok(header.metadata.has('namm.rope_scaling'));
  const back = await loadModelFiles(ours);
  assert.deepEqual(back.config.ropeScaling, L3);
  assert.ok(!back.weights.has('rope_freqs.weight'));
  assert.ok(relErr(logits(back.config, back.weights), reference) < 1e-5);

  // As llama.cpp writes it: the divisors alone. The Llama 3 parameters come back (the original context from
  // llama.cpp's key, 8,192 when absent: only its ratio to low and high matters).
  const cpp = join(dir, 'l3-cpp.gguf');
  rewrite(ours, cpp, { meta: (m) => { m.delete('namm.rope_scaling'); m.set('llama.rope.scaling.original_context_length', gv.u32(128)); } });
  const fromCpp = await loadModelFiles(cpp);
  assert.deepEqual(fromCpp.config.ropeScaling, L3);
  assert.ok(relErr(logits(fromCpp.config, fromCpp.weights), reference) < 1e-5);
  const noKey = join(dir, 'l3-cpp-nokey.gguf');
  rewrite(ours, noKey, { meta: (m) => m.delete('namm.rope_scaling') });
  const fromNoKey = await loadModelFiles(noKey);
  const s = fromNoKey.config.ropeScaling;
  assert.equal(s.type, 'llama3');
  assert.ok(s.type === 'llama3' && s.originalMaxPositions === 8192 && s.factor === 8 && Math.abs(s.lowFreqFactor - 64) < 1e-3 && Math.abs(s.highFreqFactor - 256) < 1e-3, JSON.stringify(s));
  assert.ok(relErr(logits(fromNoKey.config, fromNoKey.weights), reference) < 1e-5);
  // So it converts to a Hugging Face folder whose config.json says Llama 3.
  const hf = join(dir, 'l3-hf');
  await convertModel({ from: cpp, to: 'safetensors', out: hf, dtype: 'f32' });
  const fromHf = await loadModelFiles(hf);
  assert.deepEqual(fromHf.config.ropeScaling, L3);
  assert.ok(relErr(logits(fromHf.config, fromHf.weights), reference) < 1e-5);

  // Divisors that are no Llama 3 scaling stay per-pair factors, and runs divide by them; llama.cpp's linear factor
  // multiplies them.
  const odd = Float32Array.from({ length: 16 }, (_, i) => 1 + (i % 4) * 0.75);
  const factorsFile = join(dir, 'factors.gguf');
  rewrite(ours, factorsFile, { meta: (m) => m.delete('namm.rope_scaling'), freqs: () => odd });
  const fromFactors = await loadModelFiles(factorsFile);
  assert.deepEqual(fromFactors.config.ropeScaling, { type: 'factors', factors: [...odd] });
  const expected = logits({ ...base, ropeScaling: { type: 'factors', factors: [...odd] } });
  assert.ok(relErr(expected, reference) > 1e-3);
  assert.ok(relErr(logits(fromFactors.config, fromFactors.weights), expected) < 1e-5);
  const linear = join(dir, 'factors-linear.gguf');
  rewrite(ours, linear, {
    meta: (m) => { m.delete('namm.rope_scaling'); m.set('llama.rope.scaling.type', gv.str('linear')); m.set('llama.rope.scaling.factor', gv.f32(2)); },
    freqs: () => odd,
  });
  assert.deepEqual((await loadModelFiles(linear)).config.ropeScaling, { type: 'factors', factors: [...odd].map((v) => v * 2) });
  // Such a model has no config.json form: refused before anything is written.
  const refused = join(dir, 'factors-hf');
  await assert.rejects(convertModel({ from: factorsFile, to: 'safetensors', out: refused, dtype: 'f32' }), /per-pair RoPE factors \(a GGUF file's rope_freqs\.weight\) have no config\.json form/);
  assert.equal(existsSync(refused), false);
  // And back to GGUF: the factors are written again, as llama.cpp reads them.
  const again = join(dir, 'factors-again.gguf');
  writeGguf(again, { ...fromFactors.config, ropeLayout: 'half' }, (await loadModelFiles(factorsFile)).weights, null);
  assert.deepEqual((await loadModelFiles(again)).config.ropeScaling, fromFactors.config.ropeScaling);
});

test('GGUF rope_freqs.weight that is malformed or contradicts the file\'s own scaling key is refused by name', async () => {
  const ours = join(dir, 'l3-bad-src.gguf');
  writeGguf(ours, base, weights, null);
  const cases: [string, Parameters<typeof rewrite>[2], RegExp][] = [
    ['short', { meta: (m) => m.delete('namm.rope_scaling'), freqs: () => new Float32Array(8).fill(1) }, /tensor "rope_freqs\.weight" must hold 16 values \(one per rotary pair\), got shape \[8\]/],
    ['zero', { meta: (m) => m.delete('namm.rope_scaling'), freqs: (v) => { const c = v.slice(); c[5] = 0; return c; } }, /tensor "rope_freqs\.weight" value 5 is 0, not a positive finite divisor/],
    ['nan', { meta: (m) => m.delete('namm.rope_scaling'), freqs: (v) => { const c = v.slice(); c[2] = NaN; return c; } }, /value 2 is NaN/],
    ['disagree', { freqs: (v) => { const c = v.slice(); c[4] = c[4]! * 1.01; return c; } }, /tensor "rope_freqs\.weight" disagrees with the llama3 RoPE scaling of metadata "namm\.rope_scaling" \(pair 4: /],
    ['ntk', { meta: (m) => m.set('namm.rope_scaling', gv.str(JSON.stringify({ rope_type: 'ntk', factor: 2, alpha: 1 }))) }, /disagrees with the ntk RoPE scaling/],
  ];
  for (const [name, edit, want] of cases) {
    const p = join(dir, `bad-${name}.gguf`);
    rewrite(ours, p, edit);
    await assert.rejects(loadModelFiles(p), want, name);
  }
});

test('GGUF linear scaling is read as llama.cpp reads it: the type defaults to linear, none never scales, the factor key comes before scale_linear', async () => {
  const c = llamaConfig({ hiddenSize: 64, nHeads: 2, nKvHeads: 1, headDim: 32, nLayers: 1, intermediateSize: 64, vocabSize: 64 });
  const plain = join(dir, 'plain-scaling.gguf');
  writeGguf(plain, c, randomWeights(c, 3), null);
  const scaling = async (edit: (m: Map<string, unknown>) => void): Promise<RopeScaling> => {
    const p = join(dir, 'scaling-edit.gguf');
    rewrite(plain, p, { meta: (m) => { m.delete('namm.rope_scaling'); edit(m as Map<string, unknown>); } });
    return (await loadModelFiles(p)).config.ropeScaling;
  };
  assert.deepEqual(await scaling(() => undefined), { type: 'none' });
  // A factor with no type was ignored: llama.cpp divides the frequencies by it.
  assert.deepEqual(await scaling((m) => m.set('llama.rope.scaling.factor', gv.f32(4))), { type: 'linear', factor: 4 });
  // 'none' never scales, whatever factor the file has (llama.cpp sets its frequency scale to 1).
  assert.deepEqual(await scaling((m) => { m.set('llama.rope.scaling.type', gv.str('none')); m.set('llama.rope.scaling.factor', gv.f32(2)); }), { type: 'none' });
  assert.deepEqual(await scaling((m) => { m.set('llama.rope.scaling.type', gv.str('none')); m.set('llama.rope.scale_linear', gv.f32(2)); }), { type: 'none' });
  assert.deepEqual(await scaling((m) => m.set('llama.rope.scale_linear', gv.f32(3))), { type: 'linear', factor: 3 });
  assert.deepEqual(await scaling((m) => { m.set('llama.rope.scale_linear', gv.f32(3)); m.set('llama.rope.scaling.factor', gv.f32(2)); }), { type: 'linear', factor: 2 });
  // A linear type with no factor, or a factor of 0, scales nothing (llama.cpp's frequency scale 1).
  assert.deepEqual(await scaling((m) => m.set('llama.rope.scaling.type', gv.str('linear'))), { type: 'none' });
  assert.deepEqual(await scaling((m) => m.set('llama.rope.scaling.factor', gv.f32(0))), { type: 'none' });
  await assert.rejects(scaling((m) => m.set('llama.rope.scaling.factor', gv.f32(-2))), /metadata "llama\.rope\.scaling\.factor" must be a number ≥ 0, got -2/);
});
