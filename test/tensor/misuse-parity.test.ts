/**
 * Misuse that both backends must refuse (or handle) alike: overlapping GEMM operands, outputs of the element-wise
 * and row kernels that partly overlap an input (only exactly the input is allowed), a non-boolean `accumulate`,
 * attention with headDim 0, empty products whose other counts are huge, stftAccumulateFrames with `last` overlapping
 * `prev` or `acc` and with `weights` inside `acc` or `last`, symmetricEigen with `values` inside the matrix, outputs of attention and of the NAMM kernels
 * (spectrogram, window close, BAM) over one of their inputs. Calls that could hang run in a child process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AttentionArgs, Backend } from '../../src/tensor/backend.js';
import { JsBackend } from '../../src/tensor/js.js';
import { NativeBackend } from '../../src/tensor/native.js';
import { stftAccSize, stftAccumulateFramesTs, stftAccumulateTs } from '../../src/memory/namm/stft.js';
import { nammFeaturesTs } from '../../src/memory/namm/features.js';
import { BamScorer } from '../../src/memory/namm/bam.js';
import { NAMM_PARAM_COUNT } from '../../src/memory/namm/params.js';
import { symmetricEigenInPlaceJs } from '../../src/evolve/eigen.js';
import { simdPaths, skipNative } from './native-fixtures.js';

const f32 = (n: number, v = 0.25) => new Float32Array(n).fill(v);
const wave = (n: number, s: number) => new Float32Array(n).map((_, i) => Math.sin(i * s));

function backends(): Backend[] {
  const list: Backend[] = [new JsBackend()];
  if (!skipNative) list.push(new NativeBackend({ threads: 1 }), new NativeBackend({ threads: 2 }));
  return list;
}
const label = (b: Backend) => `${b.name}/${b.threads}`;

/** `call` throws a RangeError matching `message` and leaves `buf` (which holds every output) untouched. */
function refused(be: Backend | NativeBackend, what: string, buf: ArrayBufferView, message: RegExp, call: () => void): void {
  const bytes = () => Array.from(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
  const before = bytes();
  assert.throws(call, { name: 'RangeError', message }, `${be.name}/${be.simd}/${be.threads} ${what}`);
  assert.deepEqual(bytes(), before, `${be.name}/${be.simd}/${be.threads} ${what}: nothing written`);
}

describe('both backends refuse the same misuse', () => {
  it('GEMM: c must not overlap a or b (the result would depend on blocking and thread count)', () => {
    for (const be of backends()) {
      for (const op of ['matmulABt', 'matmulAB', 'matmulAtB'] as const) {
        // M = 1, 8 and 64 rows: the GEMV paths and the blocked path.
        for (const M of [1, 8, 64]) {
          const K = 64, N = 64;
          const buf = new Float32Array(M * K + K * N + M * N);
          const a = buf.subarray(0, M * K), b = buf.subarray(M * K, M * K + K * N);
          a.set(wave(M * K, 0.7)); b.set(wave(K * N, 0.3));
          assert.throws(() => be[op](a, b, a, M, K, N), { name: 'RangeError', message: /c must not overlap a/ }, `${label(be)} ${op} M=${M}`);
          assert.throws(() => be[op](a, b, buf.subarray(M * K + 5), M, K, N), { name: 'RangeError', message: /c must not overlap b/ }, `${label(be)} ${op} M=${M}`);
          assert.throws(() => be[op](a, b, buf.subarray(1, 1 + M * N), M, K, N), { name: 'RangeError', message: /c must not overlap/ }, `${label(be)} ${op} M=${M}`);
          // Disjoint views of one buffer are fine, and so is an overlap of parts that are not used.
          const c = new Float32Array(M * N);
          be[op](a, b, c, M, K, N);
          const cView = buf.subarray(M * K + K * N);
          be[op](a, b, cView, M, K, N);
          assert.deepEqual(cView, c, `${label(be)} ${op} M=${M}: a disjoint view of the same buffer`);
          be[op](a, b, a, 0, K, N); // empty c
        }
      }
    }
  });

  it('element-wise and row kernels: an output that partly overlaps an input is refused; exactly the input is not', () => {
    // On the native backend such a call gave results that depended on the thread count and the timing (out = a
    // shifted by one value, rmsNorm's out shifted by a row), and f16ToF32 into its own source another result again.
    const list = [...backends(), ...simdPaths().map((simd) => new NativeBackend({ simd, threads: 2 }))];
    for (const be of list) {
      const n = 4096, rows = 64, dim = 64;
      // add, siluMul, gelu: out one value past an input, or over the second input.
      let buf = wave(n + 1, 0.3), other = wave(n, 0.7);
      refused(be, 'add', buf, /^out must not overlap a unless it is a itself$/, () => be.add(buf.subarray(1), buf.subarray(0, n), other, n));
      refused(be, 'add', buf, /^out must not overlap b unless it is b itself$/, () => be.add(buf.subarray(0, n), other, buf.subarray(1), n));
      refused(be, 'siluMul', buf, /^out must not overlap gate unless it is gate itself$/, () => be.siluMul(buf.subarray(1), buf.subarray(0, n), other, n));
      refused(be, 'siluMul', buf, /^out must not overlap up unless it is up itself$/, () => be.siluMul(buf.subarray(0, n), other, buf.subarray(1), n));
      for (const kind of ['tanh', 'erf'] as const) {
        refused(be, `gelu ${kind}`, buf, /^out must not overlap x unless it is x itself$/, () => be.gelu(buf.subarray(0, n), buf.subarray(1), n, kind));
      }
      // rmsNorm and layerNorm: out one row past x, or over the weight or the bias.
      buf = wave((rows + 1) * dim, 0.11);
      const x = buf.subarray(0, rows * dim), shifted = buf.subarray(dim), w = wave(dim, 0.5), b = wave(dim, 0.9);
      refused(be, 'rmsNorm', buf, /^out must not overlap x unless it is x itself$/, () => be.rmsNorm(shifted, x, w, rows, dim, 1e-5));
      refused(be, 'rmsNorm', buf, /^out must not overlap weight unless it is weight itself$/, () => be.rmsNorm(x, wave(rows * dim, 1), buf.subarray(5, 5 + dim), rows, dim, 1e-5));
      refused(be, 'layerNorm', buf, /^out must not overlap x unless it is x itself$/, () => be.layerNorm(shifted, x, w, b, rows, dim, 1e-5));
      refused(be, 'layerNorm', buf, /^out must not overlap bias unless it is bias itself$/, () => be.layerNorm(x, wave(rows * dim, 1), w, buf.subarray(dim, 2 * dim), rows, dim, 1e-5));
      // In-place kernels: the vector they read beside x must lie elsewhere.
      refused(be, 'addBias', buf, /^x must not overlap bias$/, () => be.addBias(x, buf.subarray(dim, 2 * dim), rows, dim));
      refused(be, 'rope', buf, /^x must not overlap invFreq$/, () => be.rope(x, rows, 1, dim, new Int32Array(rows), buf.subarray(rows * dim - 2, rows * dim + 2), 'half'));
      refused(be, 'rope', buf, /^x must not overlap positions$/, () => be.rope(x, rows, 1, dim, new Int32Array(buf.buffer, buf.byteOffset + 8, rows), w.subarray(0, 4), 'interleaved'));
      // Conversions: never in place (a float is two halves wide), not even from the same first byte.
      const half = new Uint16Array(2 * n + 2).map((_, i) => 0x3c00 + (i % 50));
      refused(be, 'f16ToF32', half, /^dst must not overlap src$/, () => be.f16ToF32(half.subarray(2, 2 + n), new Float32Array(half.buffer, 0, n), n));
      refused(be, 'bf16ToF32', half, /^dst must not overlap src$/, () => be.bf16ToF32(half.subarray(0, n), new Float32Array(half.buffer, 0, n), n));
      const q8 = new Uint8Array(512 + 64).fill(1);
      refused(be, 'q8_0ToF32', q8, /^dst must not overlap src$/, () => be.q8_0ToF32(q8.subarray(64), new Float32Array(q8.buffer, 0, 128), 128));

      // Exactly the input (and disjoint views of one buffer) stay allowed, with the results of separate buffers.
      const ref = new JsBackend();
      const same = (what: string, got: Float32Array, want: Float32Array) =>
        assert.ok(got.every((v, i) => Math.abs(v - want[i]!) <= 1e-5 * (1 + Math.abs(want[i]!))), `${label(be)}/${be.simd} ${what}`);
      const a0 = wave(n, 0.3), wantAdd = new Float32Array(n), wantSilu = new Float32Array(n), wantGelu = new Float32Array(n);
      ref.add(wantAdd, a0, other, n); ref.siluMul(wantSilu, a0, other, n); ref.gelu(wantGelu, a0, n, 'tanh');
      let t = a0.slice(); be.add(t, t, other, n); same('add in place', t, wantAdd);
      t = a0.slice(); be.siluMul(t, t, other, n); same('siluMul in place', t, wantSilu);
      t = a0.slice(); be.gelu(t, t, n, 'tanh'); same('gelu in place', t, wantGelu);
      const wantNorm = new Float32Array(rows * dim), wantLn = new Float32Array(rows * dim);
      ref.rmsNorm(wantNorm, x, w, rows, dim, 1e-5); ref.layerNorm(wantLn, x, w, b, rows, dim, 1e-5);
      t = x.slice(); be.rmsNorm(t, t, w, rows, dim, 1e-5); same('rmsNorm in place', t, wantNorm);
      t = x.slice(); be.layerNorm(t, t, w, b, rows, dim, 1e-5); same('layerNorm in place', t, wantLn);
      const two = new Float32Array(2 * rows * dim);
      two.set(x);
      be.rmsNorm(two.subarray(rows * dim), two.subarray(0, rows * dim), w, rows, dim, 1e-5);
      same('rmsNorm into the other half of one buffer', two.subarray(rows * dim), wantNorm);
    }
  });

  it('GEMM: accumulate must be a boolean (undefined and null mean false)', () => {
    for (const be of backends()) {
      for (const bad of [1, 0, 'yes', {}]) {
        assert.throws(() => be.matmulABt(f32(4), f32(4), f32(4), 2, 2, 2, bad as never), { name: 'TypeError', message: /accumulate must be a boolean/ }, label(be));
      }
      const c = f32(4, 3);
      be.matmulABt(f32(4), f32(4), c, 2, 2, 2, null as never);
      assert.deepEqual([...c], [0.125, 0.125, 0.125, 0.125], label(be));
    }
  });

  it('GEMM: an empty C is a no-op whatever the other counts', () => {
    for (const be of backends()) {
      be.matmulAB(f32(0), f32(0), f32(0), 0, 0, 2 ** 53 - 1);
      be.matmulAtB(f32(0), f32(0), f32(0), 2 ** 53 - 1, 0, 0);
      be.matmulABt(f32(0), f32(0), f32(0), 0, 0, 2 ** 40);
    }
  });

  it('attention: headDim 0 is refused by both backends', () => {
    for (const be of backends()) {
      const args: AttentionArgs = {
        q: f32(0), nQ: 2, nHeads: 4, nKvHeads: 2, headDim: 0, keys: [f32(0), f32(0)], values: [f32(0), f32(0)],
        lens: new Int32Array([5, 5]), scale: 1, out: f32(0), probs: [f32(10, 7), f32(10, 7)],
      };
      assert.throws(() => be.attention(args), { name: 'RangeError', message: /headDim must be a positive integer, got 0/ }, label(be));
      assert.ok(args.probs![0]!.every((v) => v === 7), `${label(be)}: probs untouched`);
    }
  });

  it('empty rows end at once however many there are (no 2^53-iteration loop)', () => {
    const tensor = fileURLToPath(new URL('../../src/tensor/', import.meta.url));
    const script = `
      const { JsBackend } = await import(${JSON.stringify(tensor + 'js.ts')});
      const { NativeBackend } = await import(${JSON.stringify(tensor + 'native.ts')});
      const bes = [new JsBackend()];
      if (!${JSON.stringify(!!skipNative)}) bes.push(new NativeBackend({ threads: 2 }));
      const H = 2 ** 53 - 1, e = new Float32Array(0);
      for (const be of bes) {
        be.softmax(e, H, 0);
        be.rmsNorm(e, e, e, H, 0, 1e-5);
        be.layerNorm(e, e, e, e, H, 0, 1e-5);
        be.addBias(e, e, H, 0);
        be.rope(e, 1, H, 0, new Int32Array(1), e, 'half');
      }
      console.log('done');`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.signal, null, `child hung or was killed: ${r.signal} ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /done/);
  });
});

describe('attention and the NAMM kernels refuse an output over an input, in both backends', () => {
  it('attention: out over keys, values or part of q (q itself is allowed); probabilities over q or out', () => {
    const nQ = 4, nHeads = 2, nKv = 1, hd = 8, len = 6, qn = nQ * nHeads * hd;
    for (const be of backends()) {
      const buf = wave(qn + 2 * len * hd + nQ * len + 64, 0.3);
      const q = buf.subarray(0, qn), keys = buf.subarray(qn, qn + len * hd), values = buf.subarray(qn + len * hd, qn + 2 * len * hd);
      const args = (o: Partial<AttentionArgs>): AttentionArgs => ({ q, nQ, nHeads, nKvHeads: nKv, headDim: hd, keys: [keys], values: [values], lens: new Int32Array([len]), scale: 0.3, out: f32(qn), ...o });
      refused(be, 'attention out over q', buf, /^attention: out must not overlap q unless it is q itself$/, () => be.attention(args({ out: buf.subarray(1, qn + 1) })));
      refused(be, 'attention probs over q', buf, /^attention: probs\[0\] must not overlap q$/, () => be.attention(args({ out: f32(qn), probs: [buf.subarray(0, nQ * len)] })));
      refused(be, 'attention out over keys', buf, /^attention: out must not overlap keys\[0\]$/, () => be.attention(args({ out: buf.subarray(qn + 1, 2 * qn + 1) })));
      refused(be, 'attention out over values', buf, /^attention: out must not overlap values\[0\]$/, () => be.attention(args({ out: buf.subarray(qn + len * hd + 1, 2 * qn + len * hd + 1) })));
      const probsAt = (off: number) => [buf.subarray(off, off + nQ * len)];
      refused(be, 'attention probs over keys', buf, /^attention: probs\[0\] must not overlap keys\[0\]$/, () => be.attention(args({ probs: probsAt(qn + 5) })));
      const out = f32(qn + nQ * len);
      refused(be, 'attention probs over out', out, /^attention: probs\[0\] must not overlap out$/, () => be.attention(args({ out: out.subarray(0, qn), probs: [out.subarray(qn - 1)] })));
      // Beside each other (not overlapping), in one buffer: accepted.
      const whole = f32(2 * qn + nQ * len);
      whole.set(q);
      be.attention(args({ q: whole.subarray(0, qn), out: whole.subarray(qn, 2 * qn), probs: [whole.subarray(2 * qn)] }));
    }
  });

  // The NAMM kernels: native (one and two threads) and their TypeScript twins, with the same words.
  type Namm = { name: string; stft: typeof stftAccumulateTs; frames: typeof stftAccumulateFramesTs; features: typeof nammFeaturesTs; bam: (x: Float32Array, n: number, out: Float32Array) => void };
  const params = new Float32Array(NAMM_PARAM_COUNT).map((_, i) => 0.01 * Math.sin(i));
  const twin: Namm = { name: 'ts', stft: stftAccumulateTs, frames: stftAccumulateFramesTs, features: nammFeaturesTs, bam: (x, n, out) => new BamScorer(params).score(x, n, out) };
  const kernels: Namm[] = [twin, ...(skipNative ? [] : [1, 2].map((threads) => {
    const be = new NativeBackend({ threads });
    return { name: `native/${threads}`, stft: be.stftAccumulate.bind(be), frames: be.stftAccumulateFrames.bind(be), features: be.nammFeatures.bind(be), bam: (x: Float32Array, n: number, out: Float32Array) => be.bamScores(x, n, params, out) };
  }))];

  it('stftAccumulate and stftAccumulateFrames: acc over prev, cur or next', () => {
    const ld = 40, frames = 2;
    for (const k of kernels) {
      const buf = wave(16 * ld * 2 + stftAccSize(ld) + 64, 0.2);
      const prev = buf.subarray(0, 16 * ld), cur = buf.subarray(16 * ld, 32 * ld);
      refused({ name: k.name, simd: '', threads: 0 } as never, 'stftAccumulate', buf, /^stftAccumulate: acc must not overlap cur$/, () => k.stft(prev, cur, ld, ld, 0.5, buf.subarray(32 * ld - 5)));
      refused({ name: k.name, simd: '', threads: 0 } as never, 'stftAccumulate', buf, /^stftAccumulate: acc must not overlap prev$/, () => k.stft(prev, wave(16 * ld, 0.6), ld, ld, 0.5, buf.subarray(5, 5 + stftAccSize(ld))));
      const next = buf.subarray(16 * ld, 16 * ld + 16 * frames * ld), rows = new Int32Array([ld, ld]), weights = new Float32Array([1, 1]);
      refused({ name: k.name, simd: '', threads: 0 } as never, 'stftAccumulateFrames', buf, /^stftAccumulateFrames: acc must not overlap next$/, () => k.frames(prev, ld, next, ld, frames, rows, weights, buf.subarray(16 * ld + 7)));
      refused({ name: k.name, simd: '', threads: 0 } as never, 'stftAccumulateFrames', buf, /^stftAccumulateFrames: acc must not overlap prev$/, () => k.frames(prev, ld, wave(16 * frames * ld, 0.4), ld, frames, rows, weights, buf.subarray(3, 3 + stftAccSize(ld))));
      const acc = new Float32Array(stftAccSize(ld));
      k.stft(prev, cur, ld, ld, 0.5, acc);
      k.frames(prev, ld, next, ld, frames, rows, weights, acc);
    }
  });

  it('stftAccumulateFrames: weights inside acc or last (every row block reads them while others write)', () => {
    // Native results depended on which block ran first (and so on the thread count), and the twin, which goes frame
    // by frame, gave values off by 1.5e9.
    const ld = 40, frames = 2, accN = stftAccSize(ld);
    const prev = wave(16 * ld, 0.2), next = wave(16 * frames * ld, 0.4), rows = new Int32Array([ld, ld]);
    for (const k of kernels) {
      const who = { name: k.name, simd: '', threads: 0 } as never;
      const buf = wave(accN + 16 * ld + frames, 0.3);
      const acc = buf.subarray(0, accN), last = buf.subarray(accN, accN + 16 * ld);
      refused(who, 'weights at the head of acc', buf, /^stftAccumulateFrames: acc must not overlap weights$/, () => k.frames(prev, ld, next, ld, frames, rows, acc.subarray(0, frames), acc));
      refused(who, 'weights at the tail of acc', buf, /^stftAccumulateFrames: acc must not overlap weights$/, () => k.frames(prev, ld, next, ld, frames, rows, buf.subarray(accN - 1, accN + 1), acc));
      refused(who, 'weights inside last', buf, /^stftAccumulateFrames: last must not overlap weights$/, () => k.frames(prev, ld, next, ld, frames, rows, last.subarray(5, 5 + frames), new Float32Array(accN), last, ld));
      // Weights right after acc and last in the same buffer are fine, and give what a separate array gives.
      const weights = buf.subarray(accN + 16 * ld);
      const accRef = new Float32Array(accN), lastRef = new Float32Array(16 * ld);
      k.frames(prev, ld, next, ld, frames, rows, weights.slice(), accRef, lastRef, ld);
      acc.fill(0);
      k.frames(prev, ld, next, ld, frames, rows, weights, acc, last, ld);
      assert.deepEqual(acc, accRef, k.name);
      assert.deepEqual(last, lastRef, k.name);
    }
  });

  it('nammFeatures: acc, raw or features over oldEma, the table, norm or one another', () => {
    const n = 20, nOld = 12, table = wave(8 * 128, 0.1), norm = new Float64Array(34).fill(1), positions = Int32Array.from({ length: n }, (_, i) => i);
    for (const k of kernels) {
      const buf = wave(stftAccSize(n) + n * 17 + n * 25 + nOld * 17, 0.05);
      const acc = buf.subarray(0, stftAccSize(n)), raw = buf.subarray(stftAccSize(n), stftAccSize(n) + n * 17);
      const feat = buf.subarray(stftAccSize(n) + n * 17, stftAccSize(n) + n * 42), oldEma = buf.subarray(stftAccSize(n) + n * 42);
      const who = { name: k.name, simd: '', threads: 0 } as never;
      const ema = wave(nOld * 17 + n * 17 + 3, 0.07);
      refused(who, 'nammFeatures raw over oldEma', ema, /^nammFeatures: raw must not overlap oldEma$/, () => k.features(acc, n, nOld, ema.subarray(0, nOld * 17), 0.5, positions, table, norm, ema.subarray(3, 3 + n * 17), feat));
      refused(who, 'nammFeatures features over raw', buf, /^nammFeatures: features must not overlap raw$/, () => k.features(acc, n, nOld, oldEma, 0.5, positions, table, norm, raw, buf.subarray(stftAccSize(n) + 3, stftAccSize(n) + 3 + n * 25)));
      refused(who, 'nammFeatures acc over the table', table, /^nammFeatures: acc must not overlap table$/, () => k.features(table.subarray(0, stftAccSize(n)), n, nOld, oldEma, 0.5, positions, table.subarray(8 * 32), null, f32(n * 17), f32(n * 25)));
      const nb = new Float64Array(256);
      refused(who, 'nammFeatures over norm', nb, /^nammFeatures: raw must not overlap norm$/, () => k.features(acc, n, nOld, oldEma, 0.5, positions, table, nb.subarray(0, 34), new Float32Array(nb.buffer, 8 * 30, n * 17), feat));
      k.features(acc, n, nOld, oldEma, 0.5, positions, table, norm, raw, feat);
    }
  });

  it('BAM scores: out over the features', () => {
    const n = 30;
    for (const k of kernels) {
      const buf = wave(n * 25 + n, 0.02);
      refused({ name: k.name, simd: '', threads: 0 } as never, 'bam', buf, /(^bamScores|^BAM): output must not overlap features$|^bamScores: out must not overlap x$/, () => k.bam(buf.subarray(0, n * 25), n, buf.subarray(n * 25 - 1, n * 26 - 1)));
      k.bam(buf.subarray(0, n * 25), n, new Float32Array(n));
    }
  });
});

describe('native: overlapping outputs of the NAMM and eigen kernels', { skip: skipNative }, () => {
  it('stftAccumulateFrames: last overlapping prev (not prev itself) or acc gives what separate buffers give', () => {
    const prevLd = 256, nextLd = 256, frames = 2;
    const rows = new Int32Array([256, 200]), weights = new Float32Array([1, 0.5]);
    const next = wave(16 * frames * nextLd, 0.11);
    for (const threads of [1, 2]) {
      const be = new NativeBackend({ threads });
      // last placed relative to prev: the same (documented), shifted by one value or by a row block, or with another stride.
      for (const [name, shift, lastLd] of [['prev itself', 0, 256], ['shift 1', 1, 256], ['shift 128', 128, 256], ['shift -64', -64, 256], ['stride 300', 0, 300]] as const) {
        const make = () => {
          const buf = wave(16 * 300 + 512, 0.37);
          return { buf, prev: buf.subarray(256, 256 + 16 * prevLd), acc: new Float32Array(17 * 256) };
        };
        // Reference: a separate `last`, copied where the overlapping one lies once the call is done.
        const ref = make();
        const lastSep = new Float32Array(16 * lastLd);
        be.stftAccumulateFrames(ref.prev, prevLd, next, nextLd, frames, rows, weights, ref.acc, lastSep, lastLd);
        for (let m = 0; m < 16; m++) ref.buf.set(lastSep.subarray(m * lastLd, m * lastLd + 256), 256 + shift + m * lastLd);
        const got = make();
        be.stftAccumulateFrames(got.prev, prevLd, next, nextLd, frames, rows, weights, got.acc, got.buf.subarray(256 + shift), lastLd);
        assert.deepEqual(got.acc, ref.acc, `threads ${threads}, ${name}: acc`);
        assert.deepEqual(got.buf, ref.buf, `threads ${threads}, ${name}: prev/last buffer`);
        // And the twin agrees (to float rounding: it sums in another order).
        const ts = make();
        stftAccumulateFramesTs(ts.prev, prevLd, next, nextLd, frames, rows, weights, ts.acc, ts.buf.subarray(256 + shift), lastLd);
        for (let i = 0; i < ts.acc.length; i++) assert.ok(Math.abs(ts.acc[i]! - got.acc[i]!) <= 1e-4 * (1 + Math.abs(ts.acc[i]!)), `threads ${threads}, ${name}: twin acc[${i}]`);
        assert.deepEqual(got.buf, ts.buf, `threads ${threads}, ${name}: twin prev/last buffer`);
      }
      // last overlapping acc: acc holds the accumulated values, then last is written over it (as the twin does).
      const acc = new Float32Array(17 * 256 + 16 * 256);
      const prev = wave(16 * prevLd, 0.37);
      const accRef = new Float32Array(17 * 256), lastRef = new Float32Array(16 * 256);
      be.stftAccumulateFrames(prev, prevLd, next, nextLd, frames, rows, weights, accRef, lastRef, 256);
      be.stftAccumulateFrames(prev, prevLd, next, nextLd, frames, rows, weights, acc, acc.subarray(17 * 128), 256);
      const want = new Float32Array(acc.length);
      want.set(accRef);
      want.set(lastRef, 17 * 128);
      assert.deepEqual(acc, want, `threads ${threads}: last overlapping acc`);
    }
  });

  it('symmetricEigen: values must not overlap the matrix', () => {
    const be = new NativeBackend({ threads: 1 });
    const a = new Float64Array([2, 1, 1, 2, 0, 0]);
    assert.throws(() => be.symmetricEigen(a, 2, a.subarray(2)), { name: 'RangeError', message: /values must not overlap a/ });
    assert.throws(() => be.symmetricEigen(a.subarray(2), 2, a.subarray(1)), { name: 'RangeError', message: /values must not overlap a/ });
    const values = new Float64Array(2);
    be.symmetricEigen(a.subarray(0, 4), 2, a.subarray(4)); // adjacent, not overlapping
    be.symmetricEigen(new Float64Array([2, 1, 1, 2]), 2, values);
    assert.deepEqual([...a.subarray(4)], [...values]);
    // The TypeScript twin refuses the same overlap.
    const b = new Float64Array([2, 1, 1, 2, 0, 0]);
    assert.throws(() => symmetricEigenInPlaceJs(b.subarray(0, 4), 2, b.subarray(2)), { name: 'RangeError', message: /values must not overlap a/ });
    symmetricEigenInPlaceJs(b.subarray(0, 4), 2, b.subarray(4));
    assert.deepEqual([...b.subarray(4)], [...values]);
  });
});
