/** Finite-difference checks (float64) of every backward op of the trainer. See gradcheck.ts for the tolerance. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../src/util/rng.js';
import { erf, geluBackward, geluForward, swigluBackward, swigluForward } from '../../src/train/ops/activation.js';
import { attentionBackward, attentionForward } from '../../src/train/ops/attention.js';
import { attentionBackwardGemm, attentionForwardGemm } from '../../src/train/ops/attention-gemm.js';
import { crossEntropyForwardBackward, crossEntropyLoss, IGNORE } from '../../src/train/ops/cross-entropy.js';
import { embeddingBackward, embeddingForward } from '../../src/train/ops/embedding.js';
import { referenceGemm } from '../../src/train/ops/gemm.js';
import { linearBackward, linearForward } from '../../src/train/ops/linear.js';
import { layerNormBackward, layerNormForward, rmsNormBackward, rmsNormForward } from '../../src/train/ops/norm.js';
import { ropeApply, ropeTable } from '../../src/train/ops/rope.js';
import { assertNonTrivial, checkGradient, dot, randomVec } from './gradcheck.js';

describe('training ops: finite-difference gradients (float64)', () => {
  it('linear layer: dX, dW, db (odd sizes)', () => {
    const rng = new Rng(1), M = 3, K = 5, N = 4;
    const x = randomVec(rng, M * K), w = randomVec(rng, N * K), b = randomVec(rng, N), r = randomVec(rng, M * N);
    const y = new Float64Array(M * N);
    const loss = () => { linearForward(referenceGemm, y, x, w, b, M, K, N); return dot(y, r); };
    const dx = new Float64Array(M * K), dw = new Float64Array(N * K), db = new Float64Array(N);
    linearBackward(referenceGemm, dx, dw, db, r, x, w, M, K, N, false);
    for (const [name, v, g] of [['dx', x, dx], ['dW', w, dw], ['db', b, db]] as const) { assertNonTrivial(name, g); checkGradient(name, loss, v, g); }
  });

  it('token + learned position embedding: repeated ids sum their gradients', () => {
    const rng = new Rng(2), V = 6, D = 3, ids = Int32Array.from([4, 1, 4, 0, 4]), T = ids.length;
    const table = randomVec(rng, V * D), pos = randomVec(rng, T * D), r = randomVec(rng, T * D), out = new Float64Array(T * D);
    const loss = () => { embeddingForward(out, table, ids, D, V, pos); return dot(out, r); };
    const dTable = new Float64Array(V * D), dPos = new Float64Array(T * D);
    embeddingBackward(dTable, r, ids, D, dPos);
    checkGradient('dTable', loss, table, dTable);
    checkGradient('dPos', loss, pos, dPos);
    assert.throws(() => embeddingForward(out, table, Int32Array.from([6]), D, V), /outside the vocabulary/);
  });

  it('RMSNorm: dx (accumulated onto the residual gradient) and dw', () => {
    const rng = new Rng(3), rows = 3, D = 7;
    const x = randomVec(rng, rows * D), w = randomVec(rng, D), r = randomVec(rng, rows * D), out = new Float64Array(rows * D), rstd = new Float64Array(rows);
    const loss = () => { rmsNormForward(out, rstd, x, w, rows, D, 1e-5); return dot(out, r); };
    loss();
    const skip = randomVec(rng, rows * D), dx = skip.slice(), dw = new Float64Array(D);
    rmsNormBackward(dx, dw, r, x, w, rstd, rows, D);
    for (let i = 0; i < dx.length; i++) dx[i] -= skip[i]!;
    checkGradient('dx', loss, x, dx);
    checkGradient('dw', loss, w, dw);
  });

  it('LayerNorm: dx, dw, db', () => {
    const rng = new Rng(4), rows = 3, D = 6;
    const x = randomVec(rng, rows * D), w = randomVec(rng, D), b = randomVec(rng, D), r = randomVec(rng, rows * D);
    const out = new Float64Array(rows * D), mean = new Float64Array(rows), rstd = new Float64Array(rows);
    const loss = () => { layerNormForward(out, mean, rstd, x, w, b, rows, D, 1e-5); return dot(out, r); };
    loss();
    const dx = new Float64Array(rows * D), dw = new Float64Array(D), db = new Float64Array(D);
    layerNormBackward(dx, dw, db, r, x, w, mean, rstd, rows, D);
    assertNonTrivial('dx', dx);
    checkGradient('dx', loss, x, dx); checkGradient('dw', loss, w, dw); checkGradient('db', loss, b, db);
  });

  for (const layout of ['half', 'interleaved'] as const) {
    for (const rotaryPairs of [4, 3]) {
      it(`RoPE (${layout}, ${rotaryPairs === 4 ? 'full' : 'partial'} rotary): backward is the rotation by −angle`, () => {
        const rng = new Rng(5), rows = 4, nHeads = 2, hd = 8;
        const positions = Int32Array.from([0, 3, 17, 1000]);
        const invFreq = Float32Array.from({ length: rotaryPairs }, (_, i) => 1 / Math.pow(10000, (2 * i) / (2 * rotaryPairs)));
        const table = ropeTable(positions, invFreq);
        const x = randomVec(rng, rows * nHeads * hd), r = randomVec(rng, x.length);
        const loss = () => { const y = x.slice(); ropeApply(y, table, nHeads, hd, layout, false); return dot(y, r); };
        const dx = r.slice();
        ropeApply(dx, table, nHeads, hd, layout, true);
        checkGradient('dx', loss, x, dx);
        // The inverse undoes the forward up to cos² + sin² = 1 ± 1e-7 (cos and sin are rounded to float32, as HF's).
        const y = x.slice(); ropeApply(y, table, nHeads, hd, layout, false); ropeApply(y, table, nHeads, hd, layout, true);
        for (let i = 0; i < y.length; i++) assert.ok(Math.abs(y[i]! - x[i]!) < 3e-7 * (1 + Math.abs(x[i]!)), `round trip at ${i}`);
      });
    }
  }

  for (const [nHeads, nKv] of [[4, 2], [3, 3], [4, 1]] as const) {
    it(`causal attention, ${nHeads} query / ${nKv} KV heads: dq, dk, dv`, () => {
      const rng = new Rng(6 + nKv), T = 5, hd = 3, scale = 1 / Math.sqrt(hd);
      const q = randomVec(rng, T * nHeads * hd), k = randomVec(rng, T * nKv * hd), v = randomVec(rng, T * nKv * hd);
      const r = randomVec(rng, T * nHeads * hd), out = new Float64Array(T * nHeads * hd), lse = new Float64Array(T * nHeads);
      const loss = () => { attentionForward(out, lse, q, k, v, T, nHeads, nKv, hd, scale); return dot(out, r); };
      loss();
      const dq = new Float64Array(q.length).fill(7), dk = new Float64Array(k.length).fill(7), dv = new Float64Array(v.length).fill(7);
      attentionBackward(dq, dk, dv, r, q, k, v, out, lse, T, nHeads, nKv, hd, scale);
      for (const [name, x, g] of [['dq', q, dq], ['dk', k, dk], ['dv', v, dv]] as const) { assertNonTrivial(name, g); checkGradient(name, loss, x, g); }
    });
  }

  for (const block of [2, 3, 128]) {
    it(`GEMM attention (query blocks of ${block}, 4 query / 2 KV heads): same output and lse as the loop version; dq, dk, dv`, () => {
      const rng = new Rng(40 + block), T = 7, nHeads = 4, nKv = 2, hd = 3, scale = 1 / Math.sqrt(hd);
      const q = randomVec(rng, T * nHeads * hd), k = randomVec(rng, T * nKv * hd), v = randomVec(rng, T * nKv * hd);
      const r = randomVec(rng, T * nHeads * hd);
      const ref = new Float64Array(T * nHeads * hd), refLse = new Float64Array(T * nHeads);
      attentionForward(ref, refLse, q, k, v, T, nHeads, nKv, hd, scale);
      const out = new Float64Array(T * nHeads * hd), lse = new Float64Array(T * nHeads);
      attentionForwardGemm(referenceGemm, out, lse, q, k, v, T, nHeads, nKv, hd, scale, block);
      for (let i = 0; i < out.length; i++) assert.ok(Math.abs(out[i]! - ref[i]!) < 1e-12, `out[${i}]`);
      for (let i = 0; i < lse.length; i++) assert.ok(Math.abs(lse[i]! - refLse[i]!) < 1e-12, `lse[${i}]`);
      const loss = () => { attentionForwardGemm(referenceGemm, out, lse, q, k, v, T, nHeads, nKv, hd, scale, block); return dot(out, r); };
      loss();
      const dq = new Float64Array(q.length), dk = new Float64Array(k.length), dv = new Float64Array(v.length);
      attentionBackwardGemm(referenceGemm, dq, dk, dv, r, q, k, v, out, lse, T, nHeads, nKv, hd, scale, block);
      const dq2 = new Float64Array(q.length), dk2 = new Float64Array(k.length), dv2 = new Float64Array(v.length);
      attentionBackward(dq2, dk2, dv2, r, q, k, v, out, lse, T, nHeads, nKv, hd, scale);
      for (const [a, b] of [[dq, dq2], [dk, dk2], [dv, dv2]] as const) for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-12, 'backwards agree');
      for (const [name, x, g] of [['dq', q, dq], ['dk', k, dk], ['dv', v, dv]] as const) checkGradient(name, loss, x, g);
    });
  }

  it('causal attention is causal: the first query sees only the first key', () => {
    const rng = new Rng(9), T = 3, hd = 2, q = randomVec(rng, T * hd), k = randomVec(rng, T * hd), v = randomVec(rng, T * hd);
    const out = new Float64Array(T * hd), lse = new Float64Array(T);
    attentionForward(out, lse, q, k, v, T, 1, 1, hd, 1);
    assert.deepEqual(Array.from(out.subarray(0, hd)), Array.from(v.subarray(0, hd)));
    assert.ok(Math.abs(lse[0]! - dot(q.subarray(0, hd), k.subarray(0, hd))) < 1e-12, 'lse of the first row');
  });

  it('SwiGLU: dgate, dup', () => {
    const rng = new Rng(10), n = 9;
    const gate = randomVec(rng, n, 2), up = randomVec(rng, n), r = randomVec(rng, n), out = new Float64Array(n);
    const loss = () => { swigluForward(out, gate, up, n); return dot(out, r); };
    const dGate = new Float64Array(n), dUp = new Float64Array(n);
    swigluBackward(dGate, dUp, r, gate, up, n);
    checkGradient('dgate', loss, gate, dGate); checkGradient('dup', loss, up, dUp);
  });

  for (const kind of ['tanh', 'erf'] as const) {
    it(`GELU (${kind}): dx`, () => {
      const rng = new Rng(11), n = 12;
      const x = randomVec(rng, n, 2); x[0] = 3.5; x[1] = -4.2;
      const r = randomVec(rng, n), out = new Float64Array(n);
      const loss = () => { geluForward(out, x, n, kind); return dot(out, r); };
      const dx = new Float64Array(n);
      geluBackward(dx, r, x, n, kind);
      checkGradient('dx', loss, x, dx);
    });
  }

  it('erf matches reference values to 1e-14', () => {
    // Values from the closed form tables (Abramowitz & Stegun 7.1 / mpmath at 20 digits).
    const cases: [number, number][] = [[0, 0], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527],
      [2.9, 0.9999589021219005], [3.5, 0.9999992569016276], [-1, -0.8427007929497149], [6, 1]];
    for (const [x, want] of cases) assert.ok(Math.abs(erf(x) - want) < 1e-14, `erf(${x}) = ${erf(x)}, want ${want}`);
  });

  it('cross-entropy: loss, d logits, ignored rows and the gradient scale', () => {
    const rng = new Rng(12), T = 4, V = 5, scale = 0.25;
    const logits = randomVec(rng, T * V, 3), targets = Int32Array.from([2, IGNORE, 0, 4]);
    const loss = () => scale * crossEntropyLoss(logits, targets, T, V).sum;
    const grad = logits.slice();
    const ls = crossEntropyForwardBackward(grad, targets, T, V, scale);
    assert.equal(ls.count, 3);
    assert.ok(Math.abs(ls.sum * scale - loss()) < 1e-12);
    for (let j = 0; j < V; j++) assert.equal(grad[V + j], 0);
    checkGradient('dlogits', loss, logits, grad);
    assert.throws(() => crossEntropyLoss(logits, Int32Array.from([0, 0, 0, 5]), T, V), /outside the vocabulary/);
  });
});
