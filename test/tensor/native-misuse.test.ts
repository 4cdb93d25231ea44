/**
 * Misuse of the native entry points: wrong types, short buffers, bad counts, inconsistent attention arguments.
 * Each must throw a TypeError/RangeError that names the problem, before anything is written.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NativeBackend } from '../../src/tensor/native.js';
import type { AttentionArgs } from '../../src/tensor/backend.js';
import { skipNative } from './native-fixtures.js';
import { Worker } from 'node:worker_threads';
import { gatherRowsTs } from '../../src/memory/namm/selection.js';

const f32 = (n: number) => new Float32Array(n);

function attentionArgs(): AttentionArgs {
  // 2 queries, 4 heads over 2 KV heads, headDim 3, 5 cached rows per KV head.
  return {
    q: f32(2 * 4 * 3), nQ: 2, nHeads: 4, nKvHeads: 2, headDim: 3,
    keys: [f32(15), f32(15)], values: [f32(15), f32(15)], lens: new Int32Array([5, 5]),
    scale: 0.5, out: f32(24).fill(7), probs: [f32(10), f32(10)],
  };
}

describe('native argument checks', { skip: skipNative }, () => {
  const b = (): NativeBackend => new NativeBackend({ threads: 2 });

  it('GEMM: wrong array types are TypeErrors naming the argument', () => {
    for (const op of ['matmulABt', 'matmulAB', 'matmulAtB'] as const) {
      assert.throws(() => b()[op](new Float64Array(4) as never, f32(4), f32(4), 2, 2, 2), { name: 'TypeError', message: /a must be a Float32Array/ });
      assert.throws(() => b()[op](f32(4), [1, 2, 3, 4] as never, f32(4), 2, 2, 2), { name: 'TypeError', message: /b must be a Float32Array/ });
      assert.throws(() => b()[op](f32(4), f32(4), new Uint16Array(4) as never, 2, 2, 2), { name: 'TypeError', message: /c must be a Float32Array/ });
      assert.throws(() => b()[op](f32(4), f32(4), f32(4), 2, 2, 2, 1 as never), { name: 'TypeError', message: /accumulate must be a boolean/ });
    }
  });

  it('GEMM: short buffers and bad counts are RangeErrors', () => {
    const be = b();
    assert.throws(() => be.matmulABt(f32(5), f32(6), f32(6), 2, 3, 2), { name: 'RangeError', message: /a holds 5 values but 6 are needed/ });
    assert.throws(() => be.matmulAB(f32(6), f32(5), f32(4), 2, 3, 2), { name: 'RangeError', message: /b holds 5 values but 6 are needed/ });
    assert.throws(() => be.matmulAtB(f32(6), f32(6), f32(3), 2, 3, 2), { name: 'RangeError', message: /c holds 3 values but 4 are needed/ });
    for (const bad of [-1, 1.5, NaN, Infinity, '2', undefined, 2 ** 53])
      assert.throws(() => be.matmulABt(f32(4), f32(4), f32(4), bad as never, 2, 2), { name: 'RangeError', message: /M must be a non-negative integer/ });
    assert.throws(() => be.matmulABt(f32(4), f32(4), f32(4), 2 ** 40, 2 ** 40, 1), { name: 'RangeError' });
  });

  it('a failed call writes nothing', () => {
    const c = f32(4).fill(3);
    assert.throws(() => b().matmulABt(f32(4), f32(3), c, 2, 2, 2));
    assert.deepEqual([...c], [3, 3, 3, 3]);
    const args = attentionArgs();
    args.probs = [f32(10), f32(9)];
    assert.throws(() => b().attention(args), { name: 'RangeError', message: /probs\[1\] holds 9 values but 10 are needed/ });
    assert.ok(args.out.every((v) => v === 7), 'out untouched');
    assert.ok(args.probs[0]!.every((v) => v === 0), 'probs[0] untouched');
  });

  it('norms, RoPE and activations check their arguments', () => {
    const be = b();
    assert.throws(() => be.rmsNorm(f32(6), f32(5), f32(3), 2, 3, 1e-5), { name: 'RangeError', message: /x holds 5 values/ });
    assert.throws(() => be.rmsNorm(f32(6), f32(6), f32(2), 2, 3, 1e-5), { name: 'RangeError', message: /weight holds 2 values/ });
    assert.throws(() => be.rmsNorm(f32(6), f32(6), f32(3), 2, 3, 'x' as never), { name: 'TypeError', message: /eps must be a number/ });
    assert.throws(() => be.layerNorm(f32(6), f32(6), f32(3), f32(3), 2, 3, NaN), { name: 'RangeError', message: /eps must be finite/ });
    assert.throws(() => be.layerNorm(f32(6), f32(6), f32(3), f32(2), 2, 3, 1e-5), { name: 'RangeError', message: /bias holds 2 values/ });
    assert.throws(() => be.rope(f32(8), 2, 1, 4, new Int32Array(1), f32(2), 'half'), { name: 'RangeError', message: /positions holds 1 values but 2 are needed/ });
    assert.throws(() => be.rope(f32(8), 2, 1, 4, new Float32Array(2) as never, f32(2), 'half'), { name: 'TypeError', message: /positions must be an Int32Array/ });
    assert.throws(() => be.rope(f32(8), 2, 1, 4, new Int32Array(2), f32(3), 'half'), { name: 'RangeError', message: /invFreq has 3 entries/ });
    assert.throws(() => be.rope(f32(8), 2, 1, 4, new Int32Array(2), f32(2), 'rotate' as never), { name: 'TypeError', message: /unknown RoPE layout/ });
    assert.throws(() => be.rope(f32(7), 2, 1, 4, new Int32Array(2), f32(2), 'half'), { name: 'RangeError', message: /x holds 7 values but 8/ });
    assert.throws(() => be.gelu(f32(4), f32(4), 4, 'relu' as never), { name: 'TypeError', message: /unknown GELU kind/ });
    assert.throws(() => be.siluMul(f32(4), f32(4), f32(3), 4), { name: 'RangeError', message: /up holds 3 values/ });
    assert.throws(() => be.softmax(f32(5), 2, 3), { name: 'RangeError', message: /x holds 5 values but 6/ });
    assert.throws(() => be.add(f32(4), f32(4), f32(4), -4), { name: 'RangeError', message: /n must be a non-negative integer, got -4/ });
    assert.throws(() => be.addBias(f32(6), f32(2), 2, 3), { name: 'RangeError', message: /bias holds 2 values/ });
  });

  it('weight conversions check types, lengths and the Q8_0 block size', () => {
    const be = b();
    assert.throws(() => be.f16ToF32(new Int16Array(4) as never, f32(4), 4), { name: 'TypeError', message: /src must be a Uint16Array/ });
    assert.throws(() => be.bf16ToF32(new Uint16Array(3), f32(4), 4), { name: 'RangeError', message: /src holds 3 values but 4/ });
    assert.throws(() => be.q8_0ToF32(new Uint8Array(34), f32(31), 31), { name: 'RangeError', message: /not a multiple of 32/ });
    assert.throws(() => be.q8_0ToF32(new Uint8Array(33), f32(32), 32), { name: 'RangeError', message: /src holds 33 values but 34/ });
    assert.throws(() => be.q8_0ToF32(new Uint8ClampedArray(34) as never, f32(32), 32), { name: 'TypeError', message: /src must be a Uint8Array/ });
  });

  it('attention checks every field', () => {
    const be = b();
    const bad = (patch: Partial<AttentionArgs>, message: RegExp, name = 'RangeError') =>
      assert.throws(() => be.attention({ ...attentionArgs(), ...patch }), { name, message });
    assert.throws(() => be.attention(undefined as never), { name: 'TypeError', message: /AttentionArgs object/ });
    bad({ nHeads: 3 }, /nHeads \(3\) must be a positive multiple of nKvHeads \(2\)/);
    bad({ nKvHeads: 0 }, /positive multiple/);
    bad({ nQ: -1 }, /nQ must be a non-negative integer/);
    bad({ headDim: 2.5 }, /headDim must be a non-negative integer/);
    bad({ keys: [f32(15)] }, /keys and values need one array per KV head/);
    bad({ values: 'x' as never }, /values must be an array of Float32Array/, 'TypeError');
    bad({ nHeads: 0 }, /nHeads \(0\) must be a positive multiple/);
    bad({ keys: [f32(15), f32(14)] }, /keys\[1\] holds 14 values but 15/);
    bad({ values: [f32(15), new Float64Array(15) as never] }, /values\[1\] must be a Float32Array/, 'TypeError');
    bad({ lens: new Int32Array([5, 1]) }, /lens\[1\] = 1 is smaller than the chunk \(2 queries\)/);
    bad({ lens: new Int32Array([5, -3]) }, /lens\[1\] = -3 is smaller/);
    bad({ lens: new Int32Array([5]) }, /lens holds 1 values but 2 are needed/);
    bad({ lens: [5, 5] as never }, /lens must be an Int32Array/, 'TypeError');
    bad({ lens: new Int32Array([6, 5]) }, /keys\[0\] holds 15 values but 18/);
    bad({ scale: NaN }, /scale must be finite/);
    bad({ scale: Infinity }, /scale must be finite/);
    bad({ q: f32(23) }, /q holds 23 values but 24/);
    bad({ out: f32(1) }, /out holds 1 values but 24/);
    bad({ probs: [f32(10)] }, /probs needs one array per KV head/);
    bad({ probs: null as never }, /probs must be an array of Float32Array/, 'TypeError');
    bad({ scale: '0.5' as never }, /scale must be a number/, 'TypeError');
    bad({ probsBf16: 'yes' as never }, /probsBf16 must be a boolean/, 'TypeError');
    be.attention({ ...attentionArgs(), probs: undefined }); // valid: no probabilities requested
  });

  it('attention reads every property before taking any pointer (a getter cannot detach a checked buffer)', () => {
    const args = attentionArgs();
    const q = args.q;
    const sneaky = {
      ...args,
      get probs() {
        structuredClone(q.buffer, { transfer: [q.buffer as ArrayBuffer] }); // detaches q after q was read
        return undefined;
      },
    };
    assert.throws(() => b().attention(sneaky as AttentionArgs), { name: 'RangeError', message: /q holds 0 values but 24/ });
  });

  it('threads accepts 1…256 only, and forceSimd refuses unknown or unavailable paths', () => {
    const be = b();
    for (const t of [0, -1, 1.5, 257, NaN, '2', undefined]) {
      assert.throws(() => { be.threads = t as never; }, { name: 'RangeError', message: /threads must be an integer from 1 to 256/ });
      assert.equal(be.threads, 2);
    }
    be.threads = 1;
    assert.equal(be.threads, 1);
    assert.throws(() => be.forceSimd('sse4' as never), { name: 'RangeError', message: /unknown SIMD path 'sse4'/ });
    assert.throws(() => be.forceSimd(3 as never), { name: 'TypeError' });
    for (const path of ['scalar', 'avx2', 'avx512'] as const) {
      if (NativeBackend.availableSimd().includes(path)) assert.equal(be.forceSimd(path), path);
      else assert.throws(() => be.forceSimd(path), { message: new RegExp(`cannot run the ${path} kernels`) });
    }
    assert.equal(be.forceSimd('auto'), NativeBackend.availableSimd().at(-1));
  });

  it('sizes that no buffer bounds are refused or end at once, and an allocation beyond memory is an error, not an abort', () => {
    const be = b();
    // headDim 0 would leave the heads and cache lengths unbounded by any buffer (and the scratch size wrapping).
    assert.throws(() => be.attention({ ...attentionArgs(), q: f32(0), out: f32(0), headDim: 0 }), { name: 'RangeError', message: /headDim must be a positive integer, got 0/ });
    // lens is checked before the per-head arrays are walked: a sparse array of 2^32 − 1 heads is not iterated.
    const sparse = new Array(2 ** 32 - 1);
    assert.throws(() => be.attention({ ...attentionArgs(), nQ: 0, nHeads: 2 ** 32 - 1, nKvHeads: 2 ** 32 - 1, keys: sparse, values: sparse, lens: new Int32Array(0) }),
      { name: 'RangeError', message: /lens holds 0 values but 4294967295 are needed/ });
    // A valid request whose scratch (8 queries × 2^21 heads per group × 2^24 keys = 2^50 bytes) exceeds the address space.
    const nHeads = 2 ** 21, len = 2 ** 24;
    assert.throws(() => be.attention({ q: f32(8 * nHeads), out: f32(8 * nHeads), nQ: 8, nHeads, nKvHeads: 1, headDim: 1, keys: [f32(len)], values: [f32(len)], lens: Int32Array.of(len), scale: 1 }),
      { name: 'RangeError', message: /attention: out of memory for the scratch of 8 queries × 2097152 heads per group against caches of up to 16777216 rows/ });
    // A scratch whose size does not fit in 64 bits (1 query × 2^31 heads per group × (2^31 − 1) keys, about 2^62 floats)
    // wrapped around to 8 GiB, which the kernel then wrote far past (a segfault). The shape alone decides that, so it is
    // refused before any buffer is checked: the buffers here are deliberately empty (real ones would take 16 GB).
    for (const path of NativeBackend.availableSimd()) {
      be.forceSimd(path);
      assert.throws(() => be.attention({ q: f32(0), out: f32(0), nQ: 1, nHeads: 2 ** 31, nKvHeads: 1, headDim: 1, keys: [f32(0)], values: [f32(0)], lens: Int32Array.of(2 ** 31 - 1), scale: 1 }),
        { name: 'RangeError', message: /^attention: out of memory for the scratch of 1 queries × 2147483648 heads per group against caches of up to 2147483647 rows$/ }, path);
    }
    be.forceSimd('auto');
    be.addBias(f32(0), f32(0), 2 ** 53 - 1, 0); // returns: no row has anything to add
    assert.throws(() => be.gatherRows(f32(1), 0, f32(1), 0, 2 ** 53 - 1, 1, Int32Array.of(0), 1), { name: 'RangeError', message: /dstPlane \(0\) must be at least k·width \(1\) when planes > 1/ });
    assert.throws(() => gatherRowsTs(f32(1), 0, f32(1), 0, 2, 1, Int32Array.of(0), 1), { name: 'RangeError', message: /dstPlane \(0\) must be at least k·width \(1\) when planes > 1/ });
  });

  it('index arrays are copied before they are checked: another thread changing them cannot make a kernel go out of bounds', async () => {
    const be = b();
    be.threads = 1;
    // keep[0] flips between 0 and an index far past src while gatherRows runs; src is a view of the first 64 floats
    // of a larger buffer whose float 100 is a sentinel that must never reach dst.
    const whole = f32(256).fill(1);
    whole[100] = -7;
    const src = whole.subarray(0, 64), dst = f32(64);
    const keep = new Int32Array(new SharedArrayBuffer(64 * 4)).map((_, i) => i);
    const flipper = new Worker(`const { workerData: { sab } } = require('node:worker_threads'); const v = new Int32Array(sab);
      for (;;) { Atomics.store(v, 0, 100); Atomics.store(v, 0, 0); }`, { eval: true, workerData: { sab: keep.buffer } });
    try {
      let refused = 0;
      for (let i = 0; i < 20000; i++) {
        try { be.gatherRows(src, 0, dst, 0, 1, 1, keep, 64); } catch (e) { assert.match((e as Error).message, /src holds 64 values but 101 are needed/); refused++; }
        assert.notEqual(dst[0], -7, `call ${i} read past src`);
      }
      assert.ok(refused < 20000, 'some calls ran');
    } finally {
      await flipper.terminate();
    }
  });
});
