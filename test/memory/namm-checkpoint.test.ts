import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectWarnings } from '../helpers/warnings.js';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeNammCheckpoint, encodeNammCheckpoint, loadNammPolicy, NAMM_PARAM_COUNT, readNammCheckpoint, saveNammCheckpoint, zeroNammParams,
  type NammCheckpoint, NammPolicy,
} from '../../src/memory/namm/index.js';
import { tempDir } from '../helpers/temp.js';

function sample(): NammCheckpoint {
  return {
    scorer: 'bam',
    params: Float32Array.from({ length: NAMM_PARAM_COUNT }, (_, i) => Math.sin(i) * 0.1),
    normStats: { mean: Float32Array.from({ length: 17 }, (_, i) => i * 1e-3), variance: new Float32Array(17).fill(2e-6), count: 12345 },
    updateEvery: 512,
    selection: 'min-over-heads',
    taps: 'bf16',
    provenance: { model: 'tiny-llama', generation: 40, tasks: ['passage_retrieval_en'] },
  };
}

test('.namm round trip keeps params, statistics and config exactly; the write is atomic', () => {
  const dir = tempDir('namm-ckpt-');
  try {
    const path = join(dir, 'policy.namm');
    const ck = sample();
    saveNammCheckpoint(path, ck);
    saveNammCheckpoint(path, { ...ck, cacheSize: 2048 }); // overwrite in place
    assert.deepEqual(readdirSync(dir), ['policy.namm'], 'no temporary file left behind');
    const back = readNammCheckpoint(path);
    assert.deepEqual(Array.from(back.params), Array.from(ck.params));
    assert.deepEqual(Array.from(back.normStats!.mean), Array.from(ck.normStats!.mean));
    assert.deepEqual(Array.from(back.normStats!.variance), Array.from(ck.normStats!.variance));
    assert.equal(back.normStats!.count, 12345);
    assert.equal(back.cacheSize, 2048);
    assert.deepEqual(back.provenance, ck.provenance);
    const bytes = readFileSync(path);
    assert.equal(bytes.subarray(0, 4).toString('latin1'), 'NAMM');
    assert.equal(bytes.readUInt32LE(4), 1);
    // Float32 payload at the end, little-endian: the last variance value.
    assert.equal(bytes.readFloatLE(bytes.length - 4), Math.fround(2e-6));
    const noStats = decodeNammCheckpoint(encodeNammCheckpoint({ ...ck, normStats: null }));
    assert.equal(noStats.normStats, null);
    assert.equal(back.taps, 'bf16');
    assert.equal(decodeNammCheckpoint(encodeNammCheckpoint({ ...ck, taps: 'fp32' })).taps, 'fp32');
    assert.throws(() => encodeNammCheckpoint({ ...ck, taps: 'fp16' as never }), /taps must be fp32 or bf16, got "fp16"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('.namm reading reports truncation, corruption, wrong counts and NaN clearly', () => {
  const good = encodeNammCheckpoint(sample());
  assert.throws(() => decodeNammCheckpoint(good.subarray(0, good.length - 3)), /truncated/);
  assert.throws(() => decodeNammCheckpoint(good.subarray(0, 8)), /too short/);
  const extra = new Uint8Array(good.length + 4); extra.set(good);
  assert.throws(() => decodeNammCheckpoint(extra), /unexpected bytes/);
  const flipped = good.slice(); flipped[flipped.length - 10]! ^= 0x40;
  assert.throws(() => decodeNammCheckpoint(flipped), /checksum/);
  const magic = good.slice(); magic[0] = 0x58;
  assert.throws(() => decodeNammCheckpoint(magic), /bad magic/);
  const version = good.slice(); new DataView(version.buffer).setUint32(4, 7, true);
  assert.throws(() => decodeNammCheckpoint(version), /version 7/);
  const nan = sample(); nan.params[5] = NaN;
  assert.throws(() => encodeNammCheckpoint(nan), /params\[5\] is not finite/);
  assert.throws(() => encodeNammCheckpoint({ ...sample(), params: new Float32Array(100) }), /4172 parameters/);
  assert.throws(() => encodeNammCheckpoint({ ...sample(), updateEvery: 500 }), /multiple of 16/);
  // Before, 1e30 (a multiple of 16 as far as floating point goes) was written, and every run of the file failed.
  assert.throws(() => encodeNammCheckpoint({ ...sample(), updateEvery: 1e30 }), /updateEvery must be at most 65536/);
  // A header that lies about the count (hand-built file).
  const json = new TextEncoder().encode(JSON.stringify({
    scorer: 'bam', paramCount: 4000, featureDim: 25, nBins: 17, recencyDims: 8, bamHidden: 32, updateEvery: 512,
    selection: 'min-over-heads', cacheSize: null, norm: null, provenance: {}, payloadBytes: 16000, payloadCrc32: 0,
  }));
  const lying = new Uint8Array(12 + json.length); lying.set(new TextEncoder().encode('NAMM'));
  new DataView(lying.buffer).setUint32(4, 1, true); new DataView(lying.buffer).setUint32(8, json.length, true); lying.set(json, 12);
  assert.throws(() => decodeNammCheckpoint(lying), /needs 4172 parameters, header says 4000/);
  // A file written before the taps field existed was evolved on float32 probabilities, and reads as such.
  const ck = sample(), enc = encodeNammCheckpoint(ck);
  const headerLen = new DataView(enc.buffer).getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(enc.subarray(12, 12 + headerLen)));
  assert.equal(header.taps, 'bf16');
  delete header.taps;
  const oldJson = new TextEncoder().encode(JSON.stringify(header));
  const payload = enc.subarray((12 + headerLen + 3) & ~3);
  const old = new Uint8Array(((12 + oldJson.length + 3) & ~3) + payload.length);
  old.set(enc.subarray(0, 12)); new DataView(old.buffer).setUint32(8, oldJson.length, true); old.set(oldJson, 12);
  old.set(payload, (12 + oldJson.length + 3) & ~3);
  assert.equal(decodeNammCheckpoint(old).taps, 'fp32');
  // Header entries removed by hand: named, not a TypeError.
  const rewrite = (edit: (h: Record<string, unknown>) => void): Uint8Array => {
    const h = JSON.parse(JSON.stringify(header)) as Record<string, unknown>;
    edit(h);
    const j = new TextEncoder().encode(JSON.stringify(h));
    const out = new Uint8Array(((12 + j.length + 3) & ~3) + payload.length);
    out.set(enc.subarray(0, 12)); new DataView(out.buffer).setUint32(8, j.length, true); out.set(j, 12);
    out.set(payload, (12 + j.length + 3) & ~3);
    return out;
  };
  assert.throws(() => decodeNammCheckpoint(rewrite((h) => { delete h.norm; })), /no usable "norm" entry/);
  assert.throws(() => decodeNammCheckpoint(rewrite((h) => { delete h.payloadCrc32; })), /no payload checksum/);
  // A size of the wrong type is shown as written (it read "features 25 … differ from this build's (25, …)").
  assert.throws(() => decodeNammCheckpoint(rewrite((h) => { h.featureDim = '25'; delete h.nBins; })), /sizes \(features "25", bins missing, recency 8, hidden 32\) differ/);
  assert.throws(() => readNammCheckpoint('/nonexistent/x.namm'), /cannot read NAMM checkpoint/);
  // A header that is JSON but no object: an array read as one with no scorer ('unknown scorer "undefined"').
  for (const bad of ['[]', '[1,2]', 'null', '"bam"']) {
    const j = new TextEncoder().encode(bad);
    const f = new Uint8Array(((12 + j.length + 3) & ~3) + payload.length);
    f.set(enc.subarray(0, 12)); new DataView(f.buffer).setUint32(8, j.length, true); f.set(j, 12);
    assert.throws(() => decodeNammCheckpoint(f), /header is not an object/, bad);
  }
});

test('loadNammPolicy applies and validates spec-string overrides', () => {
  const dir = tempDir('namm-load-');
  try {
    const path = join(dir, 'p.namm');
    writeFileSync(path, encodeNammCheckpoint(sample()));
    const p = loadNammPolicy(path, {}) as NammPolicy;
    assert.equal(p.updateEvery, 512);
    assert.equal(p.selection, 'min-over-heads');
    assert.equal(p.needsAttention, true);
    assert.equal(p.tapPrecision, 'bf16', 'the file says bf16');
    const f = loadNammPolicy(path, { taps: 'fp32' }) as NammPolicy;
    assert.equal(f.tapPrecision, 'fp32');
    assert.match(f.name, /,taps=fp32$/);
    assert.throws(() => loadNammPolicy(path, { taps: 'f16' }), /taps=f16 is invalid \(expected fp32 or bf16\)/);
    const q = loadNammPolicy(path, { selection: 'per-head', update: '256', cache: '1024' }) as NammPolicy;
    assert.equal(q.selection, 'per-head');
    assert.equal(q.updateEvery, 256);
    assert.equal(q.cacheSize, 1024);
    assert.match(q.name, /^namm:.*p\.namm,selection=per-head,update=256,cacheSize=1024$/);
    assert.throws(() => loadNammPolicy(path, { ratio: '0.5' }), /unknown option "ratio"/);
    assert.throws(() => loadNammPolicy(path, { selection: 'max' }), /selection=max is invalid/);
    assert.throws(() => loadNammPolicy(path, { update: '100' }), /multiple of 16/);
    assert.throws(() => loadNammPolicy(path, { cacheSize: '-3' }), /positive integer/);
    assert.throws(() => loadNammPolicy(path, { calibrate: 'yes' }), /true or false/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('.namm header fields of the wrong JSON type are named as they are (a string 4172 read "needs 4172, says 4172")', () => {
  const good = encodeNammCheckpoint({ scorer: 'bam', params: zeroNammParams(), normStats: null, updateEvery: 512, selection: 'min-over-heads', taps: 'fp32', provenance: {} });
  // The file again around the edited header: magic and version, the header's length, the header, padding to 4.
  const withHeader = (edit: (h: Record<string, unknown>) => void): Uint8Array => withHeaderText(good, (text) => {
    const header = JSON.parse(text) as Record<string, unknown>;
    edit(header);
    return JSON.stringify(header);
  });
  assert.equal(decodeNammCheckpoint(withHeader(() => undefined)).updateEvery, 512, 'the rebuilt file reads');
  assert.throws(() => decodeNammCheckpoint(withHeader((h) => { h.paramCount = '4172'; })), /bam scorer needs 4172 parameters, header says "4172"/);
  assert.throws(() => decodeNammCheckpoint(withHeader((h) => { h.updateEvery = '512'; })), /updateEvery must be a positive multiple of 16, got "512"/);
  assert.throws(() => decodeNammCheckpoint(withHeader((h) => { h.cacheSize = 1e300; })), /cacheSize must be a positive integer \(at most 2\^53 − 1\), got 1e\+300/);
  // A provenance nested 100,000 deep read, then overflowed the stack when `namm inspect` printed it.
  let deep: unknown = 1;
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.throws(() => decodeNammCheckpoint(withHeaderText(good, (text) => text.replace('"provenance":{}', `"provenance":{"x":${'['.repeat(100_000)}1${']'.repeat(100_000)}}`))), /provenance is nested more than 64 levels deep/);
  assert.throws(() => encodeNammCheckpoint({ scorer: 'bam', params: zeroNammParams(), normStats: null, updateEvery: 512, selection: 'min-over-heads', taps: 'fp32', provenance: { x: deep } }), /provenance is nested more than 64 levels deep/);
  assert.throws(() => decodeNammCheckpoint(withHeader((h) => { h.scorer = [[['bam']]]; })), /unknown scorer \[\[\["bam"\]\]\]/);
  // A file from before the field reads fp32 taps; a null one is damaged, not that (it loaded as fp32).
  assert.equal(decodeNammCheckpoint(withHeader((h) => { delete h.taps; })).taps, 'fp32');
  assert.throws(() => decodeNammCheckpoint(withHeader((h) => { h.taps = null; })), /taps must be fp32 or bf16, got null/);
});

test('loadNammPolicy says when an update= override reads the file\'s statistics at another cadence (once per file and cadence)', async () => {
  const dir = tempDir('namm-load-');
  const warnings = collectWarnings('NAMM_STATS_CADENCE');
  try {
    const path = join(dir, 'cadence.namm'), bare = join(dir, 'bare.namm');
    writeFileSync(path, encodeNammCheckpoint(sample()));
    writeFileSync(bare, encodeNammCheckpoint({ ...sample(), normStats: null }));
    loadNammPolicy(path, { update: '512' });
    loadNammPolicy(bare, { update: '256' });
    // (Another test's override, warned on the next tick, may arrive here: only this folder's files count.)
    const mine = async () => (await warnings.seen()).filter((w) => w.message.includes(dir));
    assert.deepEqual(await mine(), [], 'the file\'s own cadence, or no statistics: nothing to say');
    loadNammPolicy(path, { update: '256' });
    loadNammPolicy(path, { updateEvery: '256' });
    const seen = await mine();
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.message, `namm: ${path} holds normalisation statistics collected with update=512; with update=256 they normalise features of another scale, so its scores are not those it was evolved and calibrated for; statistics for it: namm calibrate --namm ${path} --update 256 --out FILE`);
  } finally {
    warnings.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The file `good` with its header's JSON text edited by `edit` (as text: also a value JSON.stringify could not write). */
function withHeaderText(good: Uint8Array, edit: (text: string) => string): Uint8Array {
  const len = new DataView(good.buffer, good.byteOffset, good.byteLength).getUint32(8, true);
  const text = new TextEncoder().encode(edit(new TextDecoder().decode(good.subarray(12, 12 + len))));
  const payload = good.subarray((12 + len + 3) & ~3);
  const start = (12 + text.length + 3) & ~3;
  const out = new Uint8Array(start + payload.length);
  out.set(good.subarray(0, 8), 0);
  new DataView(out.buffer).setUint32(8, text.length, true);
  out.set(text, 12);
  out.set(payload, start);
  return out;
}
