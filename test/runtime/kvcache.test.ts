/**
 * KVCache on its own: compaction by runs of kept rows (checked against a row-by-row reference), capacity reuse after
 * an eviction (the attention over a reused store equals the attention over a fresh one), when memory is handed back,
 * what the byte statistics mean, and that appending and compacting through backend kernels store the same rows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KVCache, HeadStore } from '../../src/runtime/kvcache.js';
import { JsBackend } from '../../src/tensor/js.js';
import type { Backend } from '../../src/tensor/backend.js';
import { getBackend } from '../../src/tensor/index.js';
import type { LayerObservation, MemoryPolicy } from '../../src/memory/policy.js';
import { Model } from '../../src/models/model.js';
import { llamaConfig, randomWeights } from '../../src/models/random.js';
import { Rng } from '../../src/util/rng.js';

const D = 8;
const ROW_BYTES = 2 * D * 4 + 4;

/** A [n, H, D] chunk whose every value encodes (position, head, dim), so a misplaced row is visible. */
function chunk(H: number, first: number, n: number): { k: Float32Array; v: Float32Array; pos: Int32Array } {
  const k = new Float32Array(n * H * D), v = new Float32Array(n * H * D);
  for (let t = 0; t < n; t++) for (let h = 0; h < H; h++) for (let j = 0; j < D; j++) {
    k[(t * H + h) * D + j] = (first + t) * 1000 + h * 10 + j;
    v[(t * H + h) * D + j] = -((first + t) * 1000 + h * 10 + j) - 0.5;
  }
  return { k, v, pos: Int32Array.from({ length: n }, (_, t) => first + t) };
}

/** A cache of one layer with `H` heads holding positions 0..n-1. */
function filled(n: number, H = 1): KVCache {
  const c = new KVCache(1, H, D);
  const { k, v, pos } = chunk(H, 0, n);
  c.append(0, k, v, pos, n);
  return c;
}

/** The valid rows of a store, row by row: [position, keys, values]. */
function rows(s: HeadStore): [number, number[], number[]][] {
  return Array.from({ length: s.len }, (_, r) => [s.positions[r]!, Array.from(s.keys.subarray(r * D, (r + 1) * D)), Array.from(s.values.subarray(r * D, (r + 1) * D))]);
}

const n = 40;
const patterns: Record<string, number[]> = {
  'everything kept': Array.from({ length: n }, (_, i) => i),
  'first row only': [0],
  'last row only (nothing but the newest)': [n - 1],
  'first and last rows': [0, n - 1],
  'single rows (every other one, first kept)': Array.from({ length: n / 2 }, (_, i) => 2 * i),
  'single rows (every other one, last kept)': Array.from({ length: n / 2 }, (_, i) => 2 * i + 1),
  'a kept prefix, then runs and gaps': [0, 1, 2, 3, 7, 8, 9, 12, 20, 21, 22, 23, 24, 25, 38, 39],
  'runs that start after a gap at row 0': [3, 4, 5, 10, 11, 30, 31, 32, 33],
  'all but the first row': Array.from({ length: n - 1 }, (_, i) => i + 1),
  'all but the last row': Array.from({ length: n - 1 }, (_, i) => i),
  'nothing': [],
};

for (const [name, keep] of Object.entries(patterns)) {
  test(`retain compacts runs of kept rows in place: ${name}`, () => {
    const c = filled(n);
    const s = c.store(0, 0);
    const before = rows(s);
    const keys = s.keys, values = s.values, positions = s.positions;
    const { removed } = c.retain(0, 0, Int32Array.from(keep));
    assert.equal(removed, n - keep.length);
    assert.deepEqual(rows(s), keep.map((r) => before[r]!));
    // In place: no new arrays (a 40-row store is too small to be reallocated; the capacity tests below cover that).
    assert.equal(s.keys, keys); assert.equal(s.values, values); assert.equal(s.positions, positions);
  });
}

test('retain on random patterns and several heads equals row-by-row filtering, and accepts plain arrays', () => {
  const rng = new Rng(11);
  for (let trial = 0; trial < 50; trial++) {
    const len = 1 + Math.floor(rng.float() * 90), H = 3;
    const c = filled(len, H);
    const p = rng.float();
    for (let h = 0; h < H; h++) {
      const s = c.store(0, h);
      const before = rows(s);
      const keep: number[] = [];
      for (let r = 0; r < len; r++) if (rng.float() < p) keep.push(r);
      c.retain(0, h, h === 0 ? keep : Int32Array.from(keep));
      assert.deepEqual(rows(s), keep.map((r) => before[r]!), `trial ${trial} head ${h}`);
    }
  }
});

test('retain rejects a bad keep list and leaves the store untouched', () => {
  const c = filled(10);
  const s = c.store(0, 0);
  const before = rows(s);
  for (const bad of [[0, 2, 2], [3, 1], [0, 10], [-1, 2], [0.5]]) {
    assert.throws(() => c.retain(0, 0, bad), /strictly ascending/);
    assert.deepEqual(rows(s), before);
  }
  assert.equal(c.rowsEvicted, 0);
});

test('HeadStore.compact, called directly, refuses a bad keep list on both paths and moves nothing', () => {
  for (const kernels of [undefined, getBackend()]) {
    const s = filled(10).store(0, 0);
    const before = rows(s);
    for (const bad of [[0, 2, 2], [3, 1], [0, 10], [-1, 2]]) {
      // Int32Array too, the kernel path's input (before, the plain-copy path compacted whatever it was given).
      for (const keep of [bad, Int32Array.from(bad)]) {
        assert.throws(() => s.compact(keep, kernels), /HeadStore\.compact: keep list must be strictly ascending row indices below 10/);
        assert.deepEqual(rows(s), before);
      }
    }
    assert.throws(() => s.compact([0.5], kernels), /entry 0 is 0\.5/);
    s.compact(Int32Array.of(1, 4), kernels);
    assert.deepEqual(rows(s), [before[1], before[4]]);
  }
});

test('an eviction keeps the capacity, and the tokens that follow reuse it without reallocating', () => {
  const c = filled(256);
  const s = c.store(0, 0);
  const cap = s.capacity, keys = s.keys;
  c.retain(0, 0, Int32Array.from({ length: 100 }, (_, i) => 2 * i + 50));
  assert.equal(s.capacity, cap);
  const { k, v, pos } = chunk(1, 256, 128);
  c.append(0, k, v, pos, 128);
  assert.equal(s.len, 228);
  assert.equal(s.keys, keys, 'grew back into the kept capacity');
  // Growth beyond the capacity is geometric, not to the exact size.
  const more = chunk(1, 384, 64);
  c.append(0, more.k, more.v, more.pos, 64);
  assert.ok(s.capacity >= Math.ceil(cap * 1.5), `capacity ${s.capacity} after growing from ${cap}`);
});

/** A one-head cache of n rows appended in chunks of `rows`. */
function filledInChunks(n: number, rows: number): KVCache {
  const c = new KVCache(1, 1, D);
  for (let t = 0; t < n; t += rows) {
    const { k, v, pos } = chunk(1, t, Math.min(rows, n - t));
    c.append(0, k, v, pos, Math.min(rows, n - t));
  }
  return c;
}

test('a store that falls below a quarter of its capacity is reallocated to twice its rows, or its rows and another chunk', () => {
  const c = filledInChunks(512, 64);
  const s = c.store(0, 0);
  assert.equal(s.capacity, 648, '64, 128, 192, 288, 432, 648');
  c.retain(0, 0, Int32Array.from({ length: 200 }, (_, i) => i * 2)); // 200 of 648: above a quarter, kept
  assert.equal(s.capacity, 648);
  c.retain(0, 0, Int32Array.from({ length: 100 }, (_, i) => i)); // 100 < 162: released, to twice the rows
  assert.equal(s.capacity, 200);
  assert.deepEqual(Array.from(s.positions.subarray(0, 3)), [0, 2, 4]);
  c.retain(0, 0, [99]); // the newest only: room for it and another chunk of 64
  assert.equal(s.capacity, 65);
  assert.equal(s.len, 1);
  assert.equal(s.positions[0], 198);
  assert.equal(s.keys[0], 198 * 1000);
  // In decoding (chunks of one row) twice the rows, at least 16.
  const d = filled(100);
  d.append(0, chunk(1, 100, 1).k, chunk(1, 100, 1).v, chunk(1, 100, 1).pos, 1);
  d.retain(0, 0, [100]);
  assert.equal(d.store(0, 0).capacity, 16);
});

test('a store a policy cuts to a few rows after every chunk is not shrunk and grown back at every chunk', () => {
  const c = new KVCache(1, 1, D);
  const s = c.store(0, 0);
  let resizes = 0;
  const resize = s.resize.bind(s);
  s.resize = (capacity: number) => { if (capacity !== s.capacity) resizes++; resize(capacity); };
  for (let t = 0; t < 128 * 16; t += 128) {
    const { k, v, pos } = chunk(1, t, 128);
    c.append(0, k, v, pos, 128);
    c.retain(0, 0, Int32Array.from({ length: 16 }, (_, i) => s.len - 16 + i)); // a window of the newest 16 rows
  }
  // Growth to 128, then to 192 (144 rows needed), then one shrink to 144 (16 rows and a chunk): three in all,
  // where the shrink to twice the rows made two at every chunk.
  assert.equal(resizes, 3);
  assert.equal(s.capacity, 144);
  assert.deepEqual(Array.from(s.positions.subarray(0, s.len)), Array.from({ length: 16 }, (_, i) => 128 * 16 - 16 + i));
});

test('a store grows and shrinks in place within its reserve, and past it reallocates, keeping its rows', () => {
  const c = new KVCache(1, 1, D, 0, 300);
  const s = c.store(0, 0);
  for (let t = 0; t < 200; t += 20) {
    const { k, v, pos } = chunk(1, t, 20);
    c.append(0, k, v, pos, 20);
  }
  const keys = s.keys, values = s.values, positions = s.positions;
  assert.ok((keys.buffer as ArrayBuffer).resizable, 'keys live in a resizable buffer');
  c.retain(0, 0, Int32Array.from({ length: 40 }, (_, i) => 5 * i)); // 40 < 202 / 4: the store shrinks
  assert.equal(s.capacity, 80);
  assert.equal(s.keys, keys, 'shrunk in place: the same views');
  assert.equal(keys.length, 80 * D, 'the views track the new size');
  assert.equal(keys.buffer.byteLength, 80 * D * 4, 'the buffer itself gave the bytes up');
  const more = chunk(1, 200, 250);
  c.append(0, more.k, more.v, more.pos, 250); // 290 rows: grows within the reserve of 300
  assert.equal(s.keys, keys);
  assert.equal(s.values, values);
  // The positions are a plain array, replaced when the capacity changes (4 bytes a row: no reservation of their own).
  assert.notEqual(s.positions, positions);
  assert.equal(s.positions.length, s.capacity);
  assert.deepEqual(Array.from(s.positions.subarray(0, 40)), Array.from({ length: 40 }, (_, i) => 5 * i));
  const again = chunk(1, 450, 60);
  c.append(0, again.k, again.v, again.pos, 60); // 350 rows: past the reserve, reallocated
  assert.notEqual(s.keys, keys);
  assert.equal(s.len, 350);
  const want = [...Array.from({ length: 40 }, (_, i) => 5 * i), ...Array.from({ length: 310 }, (_, i) => 200 + i)];
  assert.deepEqual(Array.from(s.positions.subarray(0, s.len)), want);
  for (let r = 0; r < s.len; r++) {
    assert.equal(s.keys[r * D + 3], want[r]! * 1000 + 3, `key row ${r}`);
    assert.equal(s.values[r * D + 7], -(want[r]! * 1000 + 7) - 0.5, `value row ${r}`);
  }
  // The new buffers reserve room to grow again in place.
  const grown = s.keys;
  c.append(0, chunk(1, 510, 100).k, chunk(1, 510, 100).v, chunk(1, 510, 100).pos, 100);
  assert.equal(s.keys, grown);
  assert.equal(s.len, 450);
});

/** Attention of `nQ` fixed queries over every head of layer 0 (the last nQ rows are the chunk's own). */
function attend(backend: Backend, c: KVCache, q: Float32Array, nQ: number, nHeads: number): Float32Array {
  const stores = c.layerStores(0);
  const out = new Float32Array(nQ * nHeads * D);
  const lens = Int32Array.from(stores, (s) => s.len);
  const probs = stores.map((s) => new Float32Array(nQ * s.len));
  backend.attention({ q, nQ, nHeads, nKvHeads: stores.length, headDim: D, keys: stores.map((s) => s.keys), values: stores.map((s) => s.values), lens, scale: 1 / Math.sqrt(D), out, probs });
  const all = new Float32Array(out.length + probs.reduce((a, p) => a + p.length, 0));
  all.set(out);
  let o = out.length;
  for (const p of probs) { all.set(p, o); o += p.length; }
  return all;
}

for (const backend of [getBackend(), new JsBackend()]) {
  test(`[${backend.name}] attention over a store reused after evict-then-grow equals attention over a fresh cache`, () => {
    const H = 2, nHeads = 4, rng = new Rng(5);
    const used = new KVCache(1, H, D);
    const kept: { k: Float32Array; v: Float32Array; pos: number }[][] = [[], []];
    let T = 0;
    const rand = (m: number) => Float32Array.from({ length: m }, () => rng.normal());
    // Three rounds of: append a chunk, evict a head-dependent pattern (the cache keeps its capacity).
    for (let round = 0; round < 3; round++) {
      const m = 96;
      const k = rand(m * H * D), v = rand(m * H * D);
      used.append(0, k, v, Int32Array.from({ length: m }, (_, t) => T + t), m);
      for (let h = 0; h < H; h++) {
        for (let t = 0; t < m; t++) kept[h]!.push({ k: k.slice((t * H + h) * D, (t * H + h + 1) * D), v: v.slice((t * H + h) * D, (t * H + h + 1) * D), pos: T + t });
        const len = used.store(0, h).len;
        const keep = Array.from({ length: len }, (_, r) => r).filter((r) => r === len - 1 || (r * (h + 3) + round) % 5 < 3);
        used.retain(0, h, keep);
        kept[h] = keep.map((r) => kept[h]![r]!);
      }
      T += m;
    }
    const capsBefore = used.layerStores(0).map((s) => s.keys);
    // The next chunk grows into the reused capacity.
    const m = 24;
    const k = rand(m * H * D), v = rand(m * H * D), q = rand(m * nHeads * D);
    const positions = Int32Array.from({ length: m }, (_, t) => T + t);
    used.append(0, k, v, positions, m);
    assert.ok(used.layerStores(0).every((s, h) => s.keys === capsBefore[h]), 'no reallocation: the evicted rows were reused');
    // A fresh cache holding exactly the kept rows, then the same chunk.
    const fresh = new KVCache(1, H, D);
    for (let h = 0; h < H; h++) {
      const rowsH = kept[h]!;
      const s = fresh.store(0, h);
      s.reserve(rowsH.length);
      rowsH.forEach((row, r) => { s.keys.set(row.k, r * D); s.values.set(row.v, r * D); s.positions[r] = row.pos; });
      s.len = rowsH.length;
    }
    fresh.append(0, k, v, positions, m);
    for (let h = 0; h < H; h++) {
      assert.deepEqual(rows(used.store(0, h)), rows(fresh.store(0, h)));
      assert.ok(used.store(0, h).capacity > fresh.store(0, h).capacity);
    }
    assert.deepEqual(attend(backend, used, q, m, nHeads), attend(backend, fresh, q, m, nHeads));
  });
}

test('byte statistics: used = valid rows, held = allocated (slack included), freed = evicted rows', () => {
  const H = 2;
  const c = filled(300, H);
  assert.equal(c.bytesUsed(), 2 * 300 * ROW_BYTES);
  assert.equal(c.bytesHeld(), 2 * 300 * ROW_BYTES, 'a single append allocates exactly its rows');
  c.retain(0, 0, Int32Array.from({ length: 120 }, (_, i) => i));
  c.retain(0, 1, Int32Array.from({ length: 200 }, (_, i) => i + 100));
  assert.equal(c.bytesUsed(), (120 + 200) * ROW_BYTES);
  assert.equal(c.bytesFreed(), (180 + 100) * ROW_BYTES);
  assert.equal(c.bytesHeld(), 2 * 300 * ROW_BYTES, 'the capacity is kept for the next tokens');
  // shrinkToFit(2) only trims stores holding more than twice their rows: head 0 (120 of 300), not head 1.
  assert.equal(c.shrinkToFit(2), 180 * ROW_BYTES);
  assert.deepEqual(c.layerStores(0).map((s) => s.capacity), [120, 300]);
  // shrinkToFit() releases all the slack; then the bytes held are the bytes used.
  assert.equal(c.shrinkToFit(), 100 * ROW_BYTES);
  assert.equal(c.bytesHeld(), c.bytesUsed());
  assert.equal(c.shrinkToFit(), 0);
  assert.equal(c.bytesFreed(), (180 + 100) * ROW_BYTES, 'releasing memory does not count as evicting rows');
  // Rows kept after the trim are intact.
  assert.deepEqual(rows(c.store(0, 1))[0]![0], 100);
  c.clear();
  assert.equal(c.bytesUsed(), 0);
  assert.equal(c.bytesFreed(), 0);
  assert.equal(c.bytesHeld(), 2 * 16 * ROW_BYTES);
});

test('resize refuses to drop valid rows', () => {
  const c = filled(20);
  assert.throws(() => c.store(0, 0).resize(19), /valid rows/);
});

/** Keeps every third row and the newest at given T_abs. */
class ThinningPolicy implements MemoryPolicy {
  readonly name = 'thinning';
  readonly needsAttention = false;
  constructor(private readonly at: number[]) {}
  reset(): void {}
  observe(o: LayerObservation): Int32Array[] | null {
    if (!this.at.includes(o.totalTokens)) return null;
    return Array.from(o.lens, (len) => Int32Array.from({ length: len }, (_, r) => r).filter((r) => r % 3 === 0 || r === len - 1));
  }
}

test('a session releases the slack its evictions left at the end of each prefill, and its statistics say so', () => {
  const config = llamaConfig({ vocabSize: 64, hiddenSize: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, intermediateSize: 48, maxPositions: 1024 });
  const model = new Model(config, randomWeights(config, 3), null, getBackend());
  const ids = Array.from({ length: 600 }, (_, i) => 1 + ((i * 17) % 63));
  const rowBytes = 2 * config.headDim * 4 + 4;
  const V = config.vocabSize;
  // Two prefills (the first ends right after the eviction at 256) against one; chunks fall on the same boundaries.
  const split = model.createSessionWith(new ThinningPolicy([256, 512, 600]), { chunkSize: 64 });
  const a = split.prefill(ids.slice(0, 256), { logits: 'all' });
  const afterFirst = split.memoryStats();
  assert.equal(afterFirst.bytesUsed, 2 * 2 * 86 * rowBytes, 'rows 0, 3, …, 255 of each head of each layer');
  assert.equal(afterFirst.bytesHeld, afterFirst.bytesUsed, 'the slack the eviction left is released');
  const b = split.prefill(ids.slice(256), { logits: 'all' });
  const whole = model.createSessionWith(new ThinningPolicy([256, 512, 600]), { chunkSize: 64 });
  const all = whole.prefill(ids, { logits: 'all' });
  assert.deepEqual(a, all.subarray(0, 256 * V));
  assert.deepEqual(b, all.subarray(256 * V));
  for (const s of [split, whole]) {
    const m = s.memoryStats();
    assert.equal(m.bytesUsed, s.cache.totalRows() * rowBytes);
    assert.equal(m.bytesHeld, s.cache.bytesHeld());
    assert.ok(m.bytesHeld <= 2 * m.bytesUsed, `after the prompt the cache holds ${m.bytesHeld} bytes for ${m.bytesUsed} used`);
    assert.equal(m.bytesFreed, s.cache.rowsEvicted * rowBytes);
    assert.ok(m.bytesFreed > 0);
  }
  // Decoding goes on identically (into freshly grown capacity).
  for (let t = 0; t < 5; t++) assert.deepEqual(split.decode(5 + t), whole.decode(5 + t));
});

test('with a backend\'s row kernels, append (gatherRows) and retain (compactRows) store exactly what plain copies store', () => {
  const be = getBackend();
  assert.ok(be.gatherRows && be.compactRows, 'the native backend has both kernels');
  const H = 3;
  const plain = new KVCache(2, H, D), fast = new KVCache(2, H, D, 0, 64, be);
  for (const c of [plain, fast]) {
    let first = 0;
    for (const [layer, n] of [[0, 5], [0, 1], [1, 17], [0, 40], [1, 1], [1, 2]] as const) {
      const { k, v, pos } = chunk(H, first, n);
      c.append(layer, k, v, pos, n);
      first += n;
    }
  }
  for (let l = 0; l < 2; l++) for (let h = 0; h < H; h++) assert.deepEqual(rows(fast.store(l, h)), rows(plain.store(l, h)), `layer ${l} head ${h}`);
  assert.ok(fast.store(0, 0).len === 46 && fast.store(1, 2).len === 20);
  // Scattered keeps (short runs), a kept prefix, runs at the end, everything, nothing but the last row.
  const rng = new Rng(9);
  for (let round = 0; round < 4; round++) {
    for (let l = 0; l < 2; l++) for (let h = 0; h < H; h++) {
      const n = plain.store(l, h).len;
      const keep = Int32Array.from({ length: n }, (_, i) => i).filter((i) => i < 2 || i === n - 1 || rng.float() < [0.5, 0.9, 1, 0][round]!);
      plain.retain(l, h, keep);
      fast.retain(l, h, keep);
      assert.deepEqual(rows(fast.store(l, h)), rows(plain.store(l, h)), `round ${round} layer ${l} head ${h}`);
    }
    for (let l = 0; l < 2; l++) {
      const { k, v, pos } = chunk(H, plain.store(l, 0).positions[plain.store(l, 0).len - 1]! + 1, 9);
      for (const c of [plain, fast]) c.append(l, k, v, pos, 9);
    }
  }
  // Bad keep lists are refused before anything moves.
  const data = Float32Array.from({ length: 12 }, (_, i) => i);
  assert.throws(() => be.compactRows!(data, 3, Int32Array.of(1, 1), 2), /strictly ascending/);
  assert.throws(() => be.compactRows!(data, 3, Int32Array.of(0, 4), 2), /data/);
  assert.deepEqual(Array.from(data), Array.from({ length: 12 }, (_, i) => i));
  be.compactRows!(data, 3, Int32Array.of(1, 3), 2);
  assert.deepEqual(Array.from(data.subarray(0, 6)), [3, 4, 5, 9, 10, 11]);
  // Keys and values in one call (two threads from 32K floats on): each array as when compacted alone.
  for (const [n, width] of [[40, 3], [3000, 64]] as const) {
    const keys = Float32Array.from({ length: n * width }, (_, i) => i), values = keys.map((x) => -x);
    const keep = Int32Array.from({ length: n }, (_, i) => i).filter((i) => i === n - 1 || rng.float() < 0.6);
    const wantK = keys.slice(), wantV = values.slice();
    be.compactRows!(wantK, width, keep, keep.length);
    be.compactRows!(wantV, width, keep, keep.length);
    be.compactRows!(keys, width, keep, keep.length, values);
    assert.deepEqual(keys, wantK, `keys ${n}×${width}`);
    assert.deepEqual(values, wantV, `values ${n}×${width}`);
    assert.deepEqual(Array.from(keys.subarray(width, 2 * width)), Array.from({ length: width }, (_, c) => keep[1]! * width + c));
  }
  const shared = new Float32Array(24);
  assert.throws(() => be.compactRows!(shared.subarray(0, 12), 3, Int32Array.of(1, 3), 2, shared.subarray(6)), /compactRows: also must not overlap data/);
});

test('append and HeadStore refuse bad arguments instead of storing a corrupt cache', () => {
  for (const kernels of [undefined, getBackend()]) {
    const c = new KVCache(1, 2, 4, 0, 64, kernels);
    const pos = Int32Array.of(0, 1, 2);
    assert.throws(() => c.append(0, new Float32Array(24), new Float32Array(24), pos, -1), /row count must be an integer ≥ 0, got -1/);
    assert.throws(() => c.append(0, new Float32Array(24), new Float32Array(24), pos, 1.5), /row count/);
    // One row needs nKvHeads·headDim = 8 values of k and v; a short array used to be copied in part (or read past).
    assert.throws(() => c.append(0, new Float32Array(5), new Float32Array(8), pos, 1), /k holds 5 values, 8 needed for 1 rows/);
    assert.throws(() => c.append(0, new Float32Array(24), new Float32Array(23), pos, 3), /v holds 23 values, 24 needed/);
    assert.throws(() => c.append(0, new Float32Array(32), new Float32Array(32), pos, 4), /positions holds 3 values, 4 needed/);
    assert.throws(() => c.append(0, [0, 0] as unknown as Float32Array, new Float32Array(8), pos, 1), /k must be a Float32Array/);
    assert.deepEqual(c.lens(0), Int32Array.of(0, 0), 'nothing was stored');
    c.append(0, new Float32Array(24), new Float32Array(24), pos, 3);
    assert.deepEqual(c.lens(0), Int32Array.of(3, 3));
  }
  assert.throws(() => new HeadStore(Number.NaN, 4), /headDim must be an integer ≥ 1, got NaN/);
  assert.throws(() => new HeadStore(0, 4), /headDim must be an integer ≥ 1, got 0/);
  assert.throws(() => new HeadStore(4, -1), /capacity must be an integer ≥ 0, got -1/);
  assert.throws(() => new HeadStore(4, 8, 2.5), /reserveRows must be an integer ≥ 0, got 2.5/);
  assert.throws(() => new KVCache(2, 2, 4, 1e12), /^RangeError: KV cache: cannot allocate 1000000000000 rows of head size 4 \(keys and values: 32000000000000 bytes\): /);
});

test('a cache that would take the process past its memory-mapping limit is refused with an error, not an abort', { skip: process.platform !== 'linux' }, async () => {
  const { readFileSync } = await import('node:fs');
  const { setMapLimitForTesting } = await import('../../src/runtime/kvcache.js');
  const maps = () => readFileSync('/proc/self/maps', 'latin1').split('\n').length - 1;
  // A Llama-3-8B-shaped cache: 32 layers × 8 KV heads, 512 buffers (keys and values), two mappings each once used.
  // At the real limit (65,530) about 40 such live sessions, with a third buffer per store then, aborted the process.
  const shape = [32, 8, 8] as const;
  const limit = Math.ceil((maps() + 3 * 2 * 512 + 400) / 0.85);
  setMapLimitForTesting(limit);
  const live: KVCache[] = [];
  try {
    const row = (n: number) => ({ k: new Float32Array(n * 8 * 8), v: new Float32Array(n * 8 * 8), p: Int32Array.from({ length: n }, (_, i) => i) });
    let error: unknown = null;
    for (let i = 0; i < 12 && error === null; i++) {
      try {
        const c = new KVCache(...shape, 0, 4096);
        const r = row(1);
        for (let l = 0; l < 32; l++) c.append(l, r.k, r.v, r.p, 1);
        live.push(c);
      } catch (err) { error = err; }
    }
    assert.ok(live.length >= 2 && live.length <= 6, `${live.length} caches made before the refusal`);
    assert.match(String(error), /^RangeError: a KV cache of 32 layers × 8 KV heads needs about 1024 more memory mappings \(two for each of its 512 buffers: keys and values per layer and KV head\), and this process already holds \d+ of the \d+ the system allows \(vm\.max_map_count\); past that the process would abort\. Drop the sessions/);
  } finally {
    setMapLimitForTesting(null);
  }
});

test('clone makes one store per layer and KV head, no placeholders (each buffer counts towards the mapping limit)', async () => {
  const { liveBuffersForTesting } = await import('../../src/runtime/kvcache.js');
  const c = new KVCache(3, 2, 4, 0, 64);
  const r = { k: new Float32Array(5 * 2 * 4).map((_, i) => i), v: new Float32Array(5 * 2 * 4).map((_, i) => -i), p: Int32Array.of(0, 1, 2, 3, 4) };
  for (let l = 0; l < 3; l++) c.append(l, r.k, r.v, r.p, 5);
  const before = liveBuffersForTesting();
  const copy = c.clone();
  assert.equal(liveBuffersForTesting() - before, 2 * 3 * 2, 'keys and values of six stores');
  for (let l = 0; l < 3; l++) for (let h = 0; h < 2; h++) {
    const a = c.store(l, h), b = copy.store(l, h);
    assert.notEqual(a.keys.buffer, b.keys.buffer);
    assert.deepEqual(b.keys.subarray(0, b.len * 4), a.keys.subarray(0, a.len * 4));
    assert.deepEqual(b.positions.subarray(0, b.len), a.positions.subarray(0, a.len));
  }
  assert.throws(() => new KVCache(1, 1, 4, 0, 0, undefined, () => new HeadStore(8, 0, 0)), /makeStore\(0, 0\) must return a HeadStore of head size 4/);
});
