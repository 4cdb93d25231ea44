/**
 * The native training-attention kernel (trainAttentionForward/Backward) against its TypeScript twins:
 * attentionForwardGemm/attentionBackwardGemm on the TypeScript backend's GEMMs (what training runs without the
 * addon) and the plain-loop specification in attention.ts. Every SIMD path, 1, 2 and 3 threads (bit-identical),
 * odd sizes, GQA, T = 1, sequences longer than one 64-row tile (up to 1100 tokens at headDim 24), guard tails, misuse, and the routing through
 * `attentionKernelsOf`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JsBackend } from '../../src/tensor/js.js';
import { NativeBackend } from '../../src/tensor/native.js';
import { attentionBackward, attentionForward } from '../../src/train/ops/attention.js';
import { attentionBackwardGemm, attentionForwardGemm, attentionKernelsOf } from '../../src/train/ops/attention-gemm.js';
import { backendGemm } from '../../src/train/ops/gemm.js';
import { Rng } from '../../src/util/rng.js';
import { assertGuardIntact, randomF32, simdPaths, skipNative, zerosF32 } from './native-fixtures.js';

interface Case { T: number; nHeads: number; nKv: number; hd: number }
const CASES: Case[] = [
  { T: 1, nHeads: 2, nKv: 1, hd: 8 },
  { T: 7, nHeads: 4, nKv: 2, hd: 5 },
  { T: 65, nHeads: 3, nKv: 3, hd: 16 },
  { T: 130, nHeads: 4, nKv: 1, hd: 33 },
  { T: 200, nHeads: 8, nKv: 4, hd: 32 },
  // The project's small models: headDim 24, 8 query / 4 KV heads; a partial last tile and many tiles.
  { T: 300, nHeads: 8, nKv: 4, hd: 24 },
  { T: 1100, nHeads: 8, nKv: 4, hd: 24 },
];

function inputs(c: Case, seed: number) {
  const rng = new Rng(seed), qn = c.T * c.nHeads * c.hd, kvn = c.T * c.nKv * c.hd;
  return { q: randomF32(rng, qn, 2), k: randomF32(rng, kvn, 2), v: randomF32(rng, kvn), dout: randomF32(rng, qn), qn, kvn };
}

/**
 * max |got − want| / max(max |want|, 0.01) over the first n values. The floor: at T = 1 the softmax has one entry,
 * so dq is exactly 0 mathematically and both sides hold float32 cancellation noise (~1e-7).
 */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>, n: number): number {
  let err = 0, size = 0;
  for (let i = 0; i < n; i++) { err = Math.max(err, Math.abs(got[i]! - want[i]!)); size = Math.max(size, Math.abs(want[i]!)); }
  return err / Math.max(size, 0.01);
}

/** Per case, its inputs and the TypeScript references, made once for every SIMD path (they took most of the time). */
const references = new Map<(typeof CASES)[number], ReturnType<typeof makeReference>>();
function makeReference(c: (typeof CASES)[number]) {
  const { q, k, v, dout, qn, kvn } = inputs(c, 11 + c.T), scale = 1 / Math.sqrt(c.hd);
  // The twin: the GEMM formulation on the TypeScript backend (float32), as training runs without the addon.
  const js = backendGemm(new JsBackend());
  const refOut = zerosF32(qn), refLse = new Float64Array(c.T * c.nHeads);
  attentionForwardGemm(js, refOut, refLse, q, k, v, c.T, c.nHeads, c.nKv, c.hd, scale);
  const refDq = zerosF32(qn), refDk = zerosF32(kvn), refDv = zerosF32(kvn);
  attentionBackwardGemm(js, refDq, refDk, refDv, dout, q, k, v, refOut, refLse, c.T, c.nHeads, c.nKv, c.hd, scale);
  // And the plain-loop specification, for the lse (float64 sums there).
  const specOut = new Float32Array(qn), specLse = new Float64Array(c.T * c.nHeads);
  attentionForward(specOut, specLse, q, k, v, c.T, c.nHeads, c.nKv, c.hd, scale);
  return { q, k, v, dout, qn, kvn, scale, refOut, refDq, refDk, refDv, specOut, specLse };
}

describe('native training attention', { skip: skipNative }, () => {
  for (const simd of simdPaths()) {
    for (const c of CASES) {
      it(`${simd}: T=${c.T}, ${c.nHeads} query / ${c.nKv} KV heads, headDim ${c.hd}: matches the TypeScript twin; any thread count`, () => {
        if (!references.has(c)) references.set(c, makeReference(c));
        const { q, k, v, dout, qn, kvn, scale, refOut, refDq, refDk, refDv, specOut, specLse } = references.get(c)!;

        let first: Float32Array[] | undefined;
        for (const threads of [1, 2, 3]) {
          const be = new NativeBackend({ simd, threads });
          const out = zerosF32(qn), lse = new Float64Array(c.T * c.nHeads);
          be.trainAttentionForward(out, lse, q, k, v, c.T, c.nHeads, c.nKv, c.hd, scale);
          const dq = zerosF32(qn).fill(7, 0, qn), dk = zerosF32(kvn).fill(7, 0, kvn), dv = zerosF32(kvn).fill(7, 0, kvn);
          be.trainAttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, c.T, c.nHeads, c.nKv, c.hd, scale);
          for (const [name, a, n] of [['out', out, qn], ['dq', dq, qn], ['dk', dk, kvn], ['dv', dv, kvn]] as const) assertGuardIntact(name, a, n);
          assert.ok(relErr(out, refOut, qn) < 2e-5, `out: relative error ${relErr(out, refOut, qn)}`);
          assert.ok(relErr(out, specOut, qn) < 2e-5, `out vs spec: relative error ${relErr(out, specOut, qn)}`);
          for (let i = 0; i < lse.length; i++) assert.ok(Math.abs(lse[i]! - specLse[i]!) < 2e-5 * (1 + Math.abs(specLse[i]!)), `lse[${i}] = ${lse[i]}, want ${specLse[i]}`);
          for (const [name, got, want, n] of [['dq', dq, refDq, qn], ['dk', dk, refDk, kvn], ['dv', dv, refDv, kvn]] as const) {
            assert.ok(relErr(got, want, n) < 5e-5, `${name}: relative error ${relErr(got, want, n)}`);
          }
          const outs = [out, lse.length ? Float32Array.from(lse) : out, dq, dk, dv];
          if (!first) first = outs;
          else outs.forEach((a, i) => assert.deepEqual(a, first![i], `threads=${threads} differs from threads=1 (output ${i})`));
        }
      });
    }
  }

  it('backward matches the loop specification on a long sequence (several 64-row tiles, GQA)', () => {
    const c = { T: 150, nHeads: 4, nKv: 2, hd: 12 }, { q, k, v, dout, qn, kvn } = inputs(c, 3), scale = 0.3;
    const out = new Float32Array(qn), lse = new Float64Array(c.T * c.nHeads);
    attentionForward(out, lse, q, k, v, c.T, c.nHeads, c.nKv, c.hd, scale);
    const want = [new Float32Array(qn), new Float32Array(kvn), new Float32Array(kvn)] as const;
    attentionBackward(...want, dout, q, k, v, out, lse, c.T, c.nHeads, c.nKv, c.hd, scale);
    const got = [new Float32Array(qn), new Float32Array(kvn), new Float32Array(kvn)] as const;
    new NativeBackend().trainAttentionBackward(...got, dout, q, k, v, out, lse, c.T, c.nHeads, c.nKv, c.hd, scale);
    ['dq', 'dk', 'dv'].forEach((name, i) => assert.ok(relErr(got[i]!, want[i]!, got[i]!.length) < 5e-5, `${name}: relative error ${relErr(got[i]!, want[i]!, got[i]!.length)}`));
  });

  it('attentionForwardGemm/BackwardGemm route float32 through the kernels of attentionKernelsOf(native), float64 stays in TypeScript', () => {
    const be = new NativeBackend();
    let calls = 0;
    const counted = { ...attentionKernelsOf(be) };
    const fwd = counted.trainAttentionForward!, bwd = counted.trainAttentionBackward!;
    counted.trainAttentionForward = (...a) => { calls++; fwd(...a); };
    counted.trainAttentionBackward = (...a) => { calls++; bwd(...a); };
    const g = { ...backendGemm(be), ...counted };
    const c = { T: 9, nHeads: 2, nKv: 1, hd: 4 }, { q, k, v, dout, qn, kvn } = inputs(c, 5);
    const out = new Float32Array(qn), lse = new Float64Array(c.T * c.nHeads);
    attentionForwardGemm(g, out, lse, q, k, v, c.T, c.nHeads, c.nKv, c.hd, 0.5);
    attentionBackwardGemm(g, new Float32Array(qn), new Float32Array(kvn), new Float32Array(kvn), dout, q, k, v, out, lse, c.T, c.nHeads, c.nKv, c.hd, 0.5);
    assert.equal(calls, 2, 'both float32 calls went to the native kernel');
    assert.deepEqual(attentionKernelsOf(new JsBackend()), {}, 'the TypeScript backend has no fused kernels');
  });

  it('misuse throws TypeError/RangeError before any kernel runs', () => {
    const be = new NativeBackend(), f = new Float32Array(64), d = new Float64Array(8);
    assert.throws(() => be.trainAttentionForward(f, d, f, f, f, 2, 3, 2, 4, 1), RangeError, 'nHeads not a multiple of nKvHeads');
    assert.throws(() => be.trainAttentionForward(f, d, f, f, f, 2, 2, 0, 4, 1), RangeError, 'zero KV heads');
    assert.throws(() => be.trainAttentionForward(f, d, f, f, f, 5, 4, 2, 4, 1), RangeError, 'q too short');
    assert.throws(() => be.trainAttentionForward(f, new Float64Array(3), f, f, f, 2, 2, 1, 4, 1), RangeError, 'lse too short');
    assert.throws(() => be.trainAttentionForward(f, new Float32Array(8) as unknown as Float64Array, f, f, f, 2, 2, 1, 4, 1), TypeError, 'lse must be float64');
    assert.throws(() => be.trainAttentionForward(f, d, f, f, f, 2, 2, 1, 4, NaN), RangeError, 'scale NaN');
    assert.throws(() => be.trainAttentionForward(f, d, f, f, f, 1.5, 2, 1, 4, 1), RangeError, 'fractional T');
    assert.throws(() => be.trainAttentionBackward(f, f, f, f, f, f, f, f, d, 2, 2, 1, 40, 1), RangeError, 'backward buffers too short');
    assert.throws(() => be.trainAttentionBackward(f, f, new Float64Array(64) as unknown as Float32Array, f, f, f, f, f, d, 2, 2, 1, 4, 1), TypeError, 'dv must be float32');
  });

  it('outputs that overlap an input or each other are refused before any kernel runs (every SIMD path)', () => {
    const c = { T: 9, nHeads: 4, nKv: 2, hd: 8 }, { q, k, v, dout, qn, kvn } = inputs(c, 5), lseN = c.T * c.nHeads;
    for (const simd of simdPaths()) {
      const be = new NativeBackend({ simd, threads: 2 });
      const buf = new Float32Array(4 * qn), lse = new Float64Array(lseN);
      const refused = (what: string, message: RegExp, call: () => void) => {
        const before = buf.slice();
        assert.throws(call, { name: 'RangeError', message }, `${simd} ${what}`);
        assert.deepEqual(buf, before, `${simd} ${what}: nothing written`);
      };
      buf.set(q.subarray(0, qn));
      refused('out over q', /^out must not overlap q$/, () => be.trainAttentionForward(buf.subarray(1), lse, buf, k, v, c.T, c.nHeads, c.nKv, c.hd, 0.3));
      refused('out is q', /^out must not overlap q$/, () => be.trainAttentionForward(buf, lse, buf, k, v, c.T, c.nHeads, c.nKv, c.hd, 0.3));
      refused('lse over out', /^lse must not overlap out$/, () => be.trainAttentionForward(buf.subarray(qn), new Float64Array(buf.buffer, 4 * qn, lseN), q, k, v, c.T, c.nHeads, c.nKv, c.hd, 0.3));
      const out = new Float32Array(qn);
      be.trainAttentionForward(out, lse, q, k, v, c.T, c.nHeads, c.nKv, c.hd, 0.3);
      buf.set(dout.subarray(0, qn));
      refused('dq over dout', /^dq must not overlap dout$/, () => be.trainAttentionBackward(buf.subarray(7), new Float32Array(kvn), new Float32Array(kvn), buf, q, k, v, out, lse, c.T, c.nHeads, c.nKv, c.hd, 0.3));
      refused('dv over dk', /^dv must not overlap dk$/, () => be.trainAttentionBackward(new Float32Array(qn), buf.subarray(qn), buf.subarray(qn + kvn - 1), dout, q, k, v, out, lse, c.T, c.nHeads, c.nKv, c.hd, 0.3));
    }
  });
});
