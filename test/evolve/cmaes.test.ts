import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CmaEs, cmaParameters, hansenEigenGap, type CmaOptions } from '../../src/evolve/cmaes.js';
import { decodeCmaState, encodeCmaState } from '../../src/evolve/cma-state.js';
import { symmetricEigen } from '../../src/evolve/eigen.js';
import { Rng } from '../../src/util/rng.js';

const close = (a: number, b: number, rel: number, what: string): void =>
  assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), 1e-300), `${what}: ${a} vs ${b}`);

test('strategy parameters at n = 4172, λ = 32 match the numbers of spec §5', () => {
  const p = cmaParameters(4172, { popSize: 32, eliteRatio: 0.5, variant: 'full', cm: 1 });
  assert.equal(p.mu, 16);
  assert.equal(Number(p.muEff.toFixed(3)), 9.179);
  close(p.c1, 1.15e-7, 0.005, 'c1');
  close(p.cmu, 8.37e-7, 0.001, 'cμ');
  close(p.csigma, 2.67e-3, 0.002, 'cσ');
  assert.equal(Number(p.dsigma.toFixed(5)), 1.00267);
  close(p.cc, 9.58e-4, 0.001, 'cc');
  assert.equal(Number(p.chiN.toFixed(3)), 64.587);
  const listed = [0.1977, 0.1488, 0.1202, 0.0999, 0.0842, 0.0713, 0.0605, 0.0510, 0.0427, 0.0353, 0.0286, 0.0225, 0.0168, 0.0116, 0.0067, 0.0022];
  listed.forEach((w, i) => assert.equal(Number(p.weights[i]!.toFixed(4)), w, `w${i + 1}`));
  assert.ok(p.meanWeights.subarray(16).every((w) => w === 0));
  // Negative weights: w'_i scaled by min(1 + c1/cμ, 1 + 2μ⁻_eff/(μ_eff+2), (1 − c1 − cμ)/(n·cμ)) / Σ|w'⁻|.
  const raw = Array.from({ length: 32 }, (_, i) => Math.log(16.5) - Math.log(i + 1));
  const neg = raw.slice(16);
  const muEffMinus = neg.reduce((s, w) => s + w, 0) ** 2 / neg.reduce((s, w) => s + w * w, 0);
  const alpha = Math.min(1 + p.c1 / p.cmu, 1 + (2 * muEffMinus) / (p.muEff + 2), (1 - p.c1 - p.cmu) / (4172 * p.cmu));
  const negSum = -neg.reduce((s, w) => s + w, 0);
  for (let i = 16; i < 32; i++) close(p.weights[i]!, (alpha / negSum) * raw[i]!, 1e-14, `w${i + 1}`);
  // Hansen's lazy gap at this size: 1/(10·n·(c1+cμ)) ≈ 25 generations.
  assert.equal(hansenEigenGap(p), Math.floor(1 / (10 * 4172 * (p.c1 + p.cmu))));
  assert.ok(hansenEigenGap(p) >= 20);
});

test('separable variant scales c1 and cμ by (n + 1.5)/3 (Ros & Hansen)', () => {
  const full = cmaParameters(100, { popSize: 12, eliteRatio: 0.5, variant: 'full', cm: 1 });
  const sep = cmaParameters(100, { popSize: 12, eliteRatio: 0.5, variant: 'separable', cm: 1 });
  close(sep.c1, full.c1 * (101.5 / 3), 1e-14, 'c1 sep');
  close(sep.cmu, full.cmu * (101.5 / 3), 1e-14, 'cμ sep');
});

test('any elite ratio: the top μ carry the positive weights, summing to 1, and σ holds under random selection', () => {
  for (const [lambda, ratio, mu] of [[32, 0.25, 8], [32, 0.75, 24], [32, 1, 32], [15, 0.5, 7], [16, 0.125, 2]] as const) {
    const p = cmaParameters(20, { popSize: lambda, eliteRatio: ratio, variant: 'full', cm: 1 });
    assert.equal(p.mu, mu);
    const top = Array.from(p.meanWeights.subarray(0, mu));
    assert.ok(top.every((w, i) => w >= 0 && (i === 0 || w <= top[i - 1]!)), `λ ${lambda}, ratio ${ratio}: decreasing non-negative elite weights`);
    close(top.reduce((a, w) => a + w, 0), 1, 1e-12, `λ ${lambda}, ratio ${ratio}: Σ mean weights`);
    assert.ok(Array.from(p.weights.subarray(mu)).every((w) => w <= 0), `λ ${lambda}, ratio ${ratio}: no positive weight past μ`);
    close(p.muEff, top.reduce((a, w) => a + w, 0) ** 2 / top.reduce((a, w) => a + w * w, 0), 1e-12, 'μ_eff of the mean weights');
  }
  // With fitness that ignores the samples, the step size neither collapses nor explodes (with the reference's
  // weights at ratio 0.25, σ fell from 0.065 to 4.9·10⁻⁶ in these 300 generations).
  for (const eliteRatio of [0.25, 0.5, 0.75]) {
    const cma = new CmaEs({ dim: 20, popSize: 32, eliteRatio, seed: 5 });
    const rng = new Rng(99);
    for (let g = 0; g < 300; g++) cma.tell(cma.ask().map(() => rng.normal()));
    assert.ok(cma.sigma > 0.065 / 10 && cma.sigma < 0.065 * 10, `ratio ${eliteRatio}: σ ${cma.sigma} after 300 random generations`);
  }
});

/** 4-D quadratic with correlations, so C departs from the identity. */
function skewedQuadratic(x: Float64Array): number {
  return x[0]! ** 2 + 10 * (x[1]! - x[0]!) ** 2 + 3 * x[2]! ** 2 + 0.5 * (x[3]! + x[2]!) ** 2;
}

test('one ask/tell step at n = 4, λ = 8 equals the formulas written out in float64', () => {
  const n = 4, lambda = 8;
  const cma = new CmaEs({ dim: n, popSize: lambda, seed: 11, initSigma: 0.3, initMean: [0.5, -0.2, 0.8, 0.1] });
  for (let g = 0; g < 3; g++) { const xs = cma.ask(); cma.tell(xs.map((x) => -skewedQuadratic(x))); }
  // State before the step.
  const m = Float64Array.from(cma.mean), sigma = cma.sigma, C = Float64Array.from(cma.cov);
  const ps = Float64Array.from(cma.pathSigma), pc = Float64Array.from(cma.pathC), g0 = cma.generation;
  const rngCopy = new Rng(0); rngCopy.setState(cma.rng.getState());

  const xs = cma.ask();
  // B, D: B·D²·Bᵀ reproduces C (no shift after generation 0) and B is orthonormal.
  const B = (i: number, j: number): number => cma.eigenRows[j * n + i]!; // column j = eigenvector j
  const D = cma.eigenD;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0, o = 0;
    for (let k = 0; k < n; k++) { s += B(i, k) * D[k]! ** 2 * B(j, k); o += B(k, i) * B(k, j); }
    assert.ok(Math.abs(s - C[i * n + j]!) < 1e-14, `BD²Bᵀ[${i},${j}]`);
    assert.ok(Math.abs(o - (i === j ? 1 : 0)) < 1e-14, `BᵀB[${i},${j}]`);
  }
  // z from the same Rng state, y = B·diag(D)·z, x = m + σy.
  const z = Array.from({ length: lambda }, () => Array.from({ length: n }, () => rngCopy.normal()));
  const y = z.map((zk) => Array.from({ length: n }, (_, i) => { let s = 0; for (let j = 0; j < n; j++) s += B(i, j) * D[j]! * zk[j]!; return s; }));
  for (let k = 0; k < lambda; k++) for (let i = 0; i < n; i++) {
    const expected = m[i]! + sigma * y[k]![i]!;
    assert.ok(Math.abs(xs[k]![i]! - expected) <= 1e-15 * (Math.abs(m[i]!) + sigma * Math.abs(y[k]![i]!)) * 4, `x${k}[${i}]`);
  }

  const fitness = xs.map((x) => -skewedQuadratic(x));
  cma.tell(fitness);

  // Strategy parameters from the formulas.
  const mu = 4;
  const raw = Array.from({ length: lambda }, (_, i) => Math.log((lambda + 1) / 2) - Math.log(i + 1));
  const sum = (a: number[]): number => a.reduce((s, v) => s + v, 0);
  const muEff = sum(raw.slice(0, mu)) ** 2 / sum(raw.slice(0, mu).map((w) => w * w));
  const muEffMinus = sum(raw.slice(mu)) ** 2 / sum(raw.slice(mu).map((w) => w * w));
  const c1 = 2 / ((n + 1.3) ** 2 + muEff);
  const cmu = Math.min(1 - c1 - 1e-8, (2 * (muEff - 2 + 1 / muEff)) / ((n + 2) ** 2 + muEff));
  const alpha = Math.min(1 + c1 / cmu, 1 + (2 * muEffMinus) / (muEff + 2), (1 - c1 - cmu) / (n * cmu));
  const posSum = sum(raw.filter((w) => w > 0)), negSum = -sum(raw.filter((w) => w < 0));
  const w = raw.map((r) => (r >= 0 ? r / posSum : (alpha / negSum) * r));
  const cs = (muEff + 2) / (n + muEff + 5);
  const ds = 1 + 2 * Math.max(0, Math.sqrt((muEff - 1) / (n + 1)) - 1) + cs;
  const cc = (4 + muEff / n) / (n + 4 + (2 * muEff) / n);
  const chiN = Math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n));

  const order = Array.from({ length: lambda }, (_, i) => i).sort((a, b) => fitness[b]! - fitness[a]!);
  const ys = order.map((k) => y[k]!);
  const yBar = Array.from({ length: n }, (_, i) => sum(ys.slice(0, mu).map((yk, r) => w[r]! * yk[i]!)));
  const mNew = Array.from({ length: n }, (_, i) => m[i]! + 1 * sigma * yBar[i]!);
  // C^{-½} = B·diag(1/D)·Bᵀ, explicitly.
  const invSqrt = (v: number[]): number[] => Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let j = 0; j < n; j++) { let bv = 0; for (let k = 0; k < n; k++) bv += B(k, j) * v[k]!; s += B(i, j) * bv / D[j]!; }
    return s;
  });
  const white = invSqrt(yBar);
  const psNew = Array.from({ length: n }, (_, i) => (1 - cs) * ps[i]! + Math.sqrt(cs * (2 - cs) * muEff) * white[i]!);
  const psNorm = Math.hypot(...psNew);
  const g = g0 + 1;
  const hs = psNorm / Math.sqrt(1 - (1 - cs) ** (2 * g)) < (1.4 + 2 / (n + 1)) * chiN ? 1 : 0;
  const pcNew = Array.from({ length: n }, (_, i) => (1 - cc) * pc[i]! + hs * Math.sqrt(cc * (2 - cc) * muEff) * yBar[i]!);
  const wo = w.map((wi, r) => (wi > 0 ? wi : wi * n / (sum(invSqrt(ys[r]!).map((v) => v * v)) + 1e-20)));
  const decay = 1 + c1 * (1 - hs) * cc * (2 - cc) - c1 - cmu * sum(w);
  const sigmaNew = sigma * Math.exp((cs / ds) * (psNorm / chiN - 1));

  for (let i = 0; i < n; i++) {
    close(cma.mean[i]!, mNew[i]!, 1e-14, `m[${i}]`);
    close(cma.pathSigma[i]!, psNew[i]!, 1e-12, `pσ[${i}]`);
    close(cma.pathC[i]!, pcNew[i]!, 1e-13, `pc[${i}]`);
    for (let j = 0; j < n; j++) {
      let rankMu = 0;
      for (let r = 0; r < lambda; r++) rankMu += wo[r]! * ys[r]![i]! * ys[r]![j]!;
      const expected = decay * C[i * n + j]! + c1 * pcNew[i]! * pcNew[j]! + cmu * rankMu;
      close(cma.cov[i * n + j]!, expected, 1e-12, `C[${i},${j}]`);
    }
  }
  close(cma.sigma, sigmaNew, 1e-13, 'σ');
  assert.equal(cma.generation, g);
  assert.equal(hs, 1);
});

const sphere = (x: Float64Array): number => x.reduce((s, v) => s + v * v, 0);
const ellipsoid = (x: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += 10 ** ((6 * i) / (x.length - 1)) * x[i]! ** 2;
  return s;
};
const rosenbrock = (x: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < x.length - 1; i++) s += 100 * (x[i]! ** 2 - x[i + 1]!) ** 2 + (1 - x[i]!) ** 2;
  return s;
};

/** Evaluations until the best f < 1e-8 (minimising f = maximising −f), default λ = 4 + ⌊3 ln n⌋. */
function evaluationsToTarget(f: (x: Float64Array) => number, n: number, seed: number, extra: Partial<CmaOptions> = {}): number {
  const cma = new CmaEs({ dim: n, popSize: 4 + Math.floor(3 * Math.log(n)), initSigma: 0.5, seed,
    initMean: new Array(n).fill(f === rosenbrock ? 0 : 1), ...extra });
  let evals = 0;
  while (evals < 100000) {
    const xs = cma.ask();
    const values = xs.map(f);
    evals += xs.length;
    if (Math.min(...values) < 1e-8) return evals;
    cma.tell(values.map((v) => -v));
  }
  return Infinity;
}

function meanEvaluations(f: (x: Float64Array) => number, n: number, extra: Partial<CmaOptions> = {}): number {
  const runs = [1, 2, 3].map((seed) => evaluationsToTarget(f, n, seed, extra));
  return runs.reduce((s, v) => s + v, 0) / runs.length;
}

// Typical evaluation counts of standard CMA-ES with default λ to f = 1e-8 (Hansen's tutorials and comparing
// review; the active weights here shave a little off the ellipsoid): sphere ≈ 1.4e3 (n=10) / 2.4e3 (n=20),
// cigar-free ellipsoid 1e6 ≈ 4–6e3 / 1.3–2e4, Rosenbrock ≈ 5–6e3 / 1.6–2e4. Without working covariance learning
// the ellipsoid takes > 10× longer, and a broken step size fails to converge at all.
const bands: [string, (x: Float64Array) => number, number, number, number][] = [
  ['sphere', sphere, 10, 900, 2000],
  ['sphere', sphere, 20, 1600, 3500],
  ['ellipsoid', ellipsoid, 10, 2800, 7000],
  ['ellipsoid', ellipsoid, 20, 9000, 20000],
  ['rosenbrock', rosenbrock, 10, 3500, 8000],
  ['rosenbrock', rosenbrock, 20, 11000, 25000],
];
for (const [name, f, n, lo, hi] of bands) {
  test(`full CMA-ES reaches 1e-8 on the ${n}-D ${name} in a typical number of evaluations`, () => {
    const e = meanEvaluations(f, n);
    assert.ok(e >= lo && e <= hi, `${name} n=${n}: ${e} evaluations, expected ${lo}..${hi}`);
  });
}

test('separable CMA-ES on separable problems: sphere as fast, ellipsoid much faster than full', () => {
  for (const n of [10, 20]) {
    const sphereSep = meanEvaluations(sphere, n, { variant: 'separable' });
    assert.ok(sphereSep <= (n === 10 ? 1800 : 3200), `sep sphere n=${n}: ${sphereSep}`);
    const ellSep = meanEvaluations(ellipsoid, n, { variant: 'separable' });
    const ellFull = meanEvaluations(ellipsoid, n);
    assert.ok(ellSep < 0.6 * ellFull, `sep ellipsoid n=${n}: ${ellSep} vs full ${ellFull}`);
    assert.ok(ellSep <= (n === 10 ? 3000 : 6000), `sep ellipsoid n=${n}: ${ellSep}`);
  }
});

test("'fast' mode with a lazy eigendecomposition still converges on the ellipsoid", () => {
  const e = meanEvaluations(ellipsoid, 10, { mode: 'fast', eigenEvery: 5 });
  assert.ok(e <= 9000, `lazy (k = 5) ellipsoid: ${e}`);
});

function run(cma: CmaEs, generations: number): void {
  for (let g = 0; g < generations; g++) { const xs = cma.ask(); cma.tell(xs.map((x) => -ellipsoid(x))); }
}
const bytes = (a: Float64Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

test('same seed → same trajectory; another seed → another', () => {
  const opts: CmaOptions = { dim: 8, popSize: 10, seed: 42, initMean: new Array(8).fill(1) };
  const a = new CmaEs(opts), b = new CmaEs(opts), c = new CmaEs({ ...opts, seed: 43 });
  run(a, 30); run(b, 30); run(c, 30);
  assert.deepEqual(bytes(a.mean), bytes(b.mean));
  assert.deepEqual(bytes(a.cov), bytes(b.cov));
  assert.ok(Object.is(a.sigma, b.sigma));
  assert.notDeepEqual(bytes(a.mean), bytes(c.mean));
});

for (const extra of [{}, { mode: 'fast', eigenEvery: 4 }, { variant: 'separable' }] as Partial<CmaOptions>[]) {
  test(`serialize/deserialize mid-run continues bit-identically (${JSON.stringify(extra)})`, () => {
    const opts: CmaOptions = { dim: 9, popSize: 12, seed: 5, initMean: new Array(9).fill(1), ...extra };
    const straight = new CmaEs(opts);
    run(straight, 25);
    const resumed = new CmaEs(opts);
    run(resumed, 10);
    // Restore twice: once between generations, once with an ask outstanding.
    let copy = CmaEs.deserialize(resumed.serialize());
    run(copy, 7);
    const xs = copy.ask();
    copy = CmaEs.deserialize(copy.serialize());
    assert.deepEqual(copy.candidates().map(bytes), xs.map(bytes));
    copy.tell(copy.candidates().map((x) => -ellipsoid(x)));
    run(copy, 7);
    assert.equal(copy.generation, straight.generation);
    assert.deepEqual(bytes(copy.mean), bytes(straight.mean));
    assert.deepEqual(bytes(copy.cov), bytes(straight.cov));
    assert.deepEqual(bytes(copy.pathSigma), bytes(straight.pathSigma));
    assert.ok(Object.is(copy.sigma, straight.sigma));
    assert.deepEqual(bytes(copy.bestX!), bytes(straight.bestX!));
  });
}

test('a run that adopts an earlier state goes on as that state would (hσ\'s generation included); only the numbering runs on', () => {
  // Spec §5: a stage starts from the best checkpoint, its generation counter included, which enters hσ's
  // √(1 − (1 − cσ)^{2g}). Here the state of generation 2 is adopted at generation 40 (n = 20: cσ ≈ 0.16, so the
  // correction still matters at g = 3..8), and its next six updates must equal those of that state itself, drawing
  // the same samples. With generation 40's g, hσ differs in some of them for this seed (checked).
  const f = (x: Float64Array): number => x[0]! + 0.5 * x[1]!;
  const run40 = new CmaEs({ dim: 20, popSize: 10, seed: 1, initSigma: 0.3 });
  let early: Uint8Array | null = null;
  for (let g = 0; g < 40; g++) {
    if (g === 2) early = run40.serialize();
    run40.tell(run40.ask().map(f));
  }
  run40.adoptSearchState(CmaEs.deserialize(early!));
  assert.equal(run40.generation, 40);
  assert.equal(run40.stateGeneration, 2);
  const itself = CmaEs.deserialize(early!);
  itself.rng.setState(run40.rng.getState());
  for (let k = 0; k < 6; k++) {
    if (k === 3) {
      // A checkpoint taken after the adoption keeps both counters.
      const copy = CmaEs.deserialize(run40.serialize());
      assert.deepEqual([copy.generation, copy.stateGeneration], [43, 5]);
    }
    run40.tell(run40.ask().map(f));
    itself.tell(itself.ask().map(f));
    assert.deepEqual(bytes(run40.pathC), bytes(itself.pathC), `pc after update ${k}`);
    assert.deepEqual(bytes(run40.cov), bytes(itself.cov), `C after update ${k}`);
    assert.deepEqual(bytes(run40.mean), bytes(itself.mean));
    assert.ok(Object.is(run40.sigma, itself.sigma));
  }
  assert.deepEqual([run40.generation, run40.stateGeneration, itself.generation], [46, 8, 8]);

  // A state written before stateGeneration existed reads it as its generation.
  const bytesIn = run40.serialize();
  const view = new DataView(bytesIn.buffer, bytesIn.byteOffset);
  const header = JSON.parse(Buffer.from(bytesIn.subarray(12, 12 + view.getUint32(8, true))).toString('utf8'));
  const start = (12 + view.getUint32(8, true) + 7) & ~7;
  delete header.stateGeneration;
  const json = Buffer.from(JSON.stringify(header));
  const newStart = (12 + json.length + 7) & ~7;
  const old = new Uint8Array(newStart + bytesIn.length - start);
  old.set(bytesIn.subarray(0, 8));
  new DataView(old.buffer).setUint32(8, json.length, true);
  old.set(json, 12);
  old.set(bytesIn.subarray(start), newStart);
  const read = CmaEs.deserialize(old);
  assert.deepEqual([read.generation, read.stateGeneration], [46, 46]);
  assert.throws(() => CmaEs.deserialize(encodeCmaState({ ...decodeCmaState(bytesIn), stateGeneration: 47 })),
    /^Error: CMA-ES state: stateGeneration is 47 \(generation 46\)$/);
});

test('lazy mode decomposes every k generations; reference mode every generation', () => {
  const lazy = new CmaEs({ dim: 6, popSize: 8, mode: 'fast', eigenEvery: 3 });
  run(lazy, 9);
  assert.equal(lazy.eigenCount, 3);
  const ref = new CmaEs({ dim: 6, popSize: 8 });
  run(ref, 9);
  assert.equal(ref.eigenCount, 9);
  // Hansen's gap is 1 at small n, so 'fast' equals 'reference' there.
  assert.equal(new CmaEs({ dim: 6, popSize: 8, mode: 'fast' }).eigenEvery, 1);
});

test('bad input gives clear errors', () => {
  assert.throws(() => new CmaEs({ dim: 0 }), /dim must be a positive integer/);
  assert.throws(() => new CmaEs({ dim: 3, popSize: 1 }), /popSize/);
  // A generation of 2^31 members allocated gigabytes for a minute before anything failed.
  assert.throws(() => new CmaEs({ dim: 3, popSize: 2 ** 31 }), /popSize × dim must be at most 2\^27/);
  assert.throws(() => new CmaEs({ dim: 3, initMean: [1, 2] }), /initMean has 2/);
  assert.throws(() => new CmaEs({ dim: 3, mode: 'quick' as never }), /mode/);
  const cma = new CmaEs({ dim: 3, popSize: 4 });
  assert.throws(() => cma.tell([1, 2, 3, 4]), /without a pending ask/);
  cma.ask();
  assert.throws(() => cma.tell([1, 2, 3]), /got 3 fitness values, need 4/);
  assert.throws(() => cma.tell([1, NaN, 3, 4]), /fitness\[1\] is NaN/);
  assert.throws(() => CmaEs.deserialize(new Uint8Array(20)), /bad magic/);
  const good = cma.serialize();
  assert.throws(() => CmaEs.deserialize(good.subarray(0, good.length - 8)), /truncated/);
});

test('strategy constants: NaN, ±Infinity, zero, negative, non-numbers and out-of-range rates are refused, by name', () => {
  for (const k of ['c1', 'cmu', 'csigma', 'dsigma', 'cc', 'cm'] as const) {
    const bad: unknown[] = [Number.NaN, Infinity, -Infinity, 0, -0.5, '0.5', null];
    if (k !== 'dsigma' && k !== 'cm') bad.push(1.5);
    for (const v of bad) {
      const cls = typeof v === 'number' ? RangeError : TypeError;
      const name = `${k} = ${String(v)}`;
      assert.throws(() => new CmaEs({ dim: 3, [k]: v }), (e: unknown) => e instanceof cls && new RegExp(`^CMA-ES: ${k} must be`).test((e as Error).message), name);
      // The exported cmaParameters checks its overrides too (it took any value before).
      assert.throws(() => cmaParameters(3, { popSize: 8, eliteRatio: 0.5, variant: 'full', cm: 1, [k]: v }), new RegExp(`CMA-ES: ${k} must be`), `cmaParameters ${name}`);
    }
  }
  // dsigma is a damping: any positive finite value (Infinity, which froze σ, was accepted before).
  assert.throws(() => new CmaEs({ dim: 3, dsigma: Infinity }), /^RangeError: CMA-ES: dsigma must be a positive finite number, got Infinity$/);
  assert.throws(() => new CmaEs({ dim: 3, dsigma: -1 }), /CMA-ES: dsigma must be a positive finite number, got -1/);
  assert.throws(() => new CmaEs({ dim: 3, cc: 2 }), /CMA-ES: cc must be a number in \(0, 1\], got 2/);
  assert.ok(new CmaEs({ dim: 3, dsigma: 1e6 }));
  assert.throws(() => cmaParameters(3, { popSize: 8, eliteRatio: 0.5, variant: 'full', cm: 1, c1: 0.6, cmu: 0.6 }), /c1 \+ cmu must be at most 1, got 0.6 \+ 0.6/);
  assert.throws(() => cmaParameters(3, { popSize: 8, eliteRatio: 0.5, variant: 'diagonal' as never, cm: 1 }), /variant must be 'full' or 'separable'/);
  assert.throws(() => cmaParameters(3, { popSize: 8, eliteRatio: 0.5, variant: 'full' } as never), /needs cm/);
  assert.throws(() => new CmaEs({ dim: 3, eliteRatio: '0.5' as never }), /eliteRatio must be a number in \(0, 1\], got "0.5"/);
  assert.throws(() => new CmaEs({ dim: 3, shiftFirstGeneration: 'no' as never }), /shiftFirstGeneration must be true or false, got no/);
  // Defaults are untouched by the checks.
  const p = cmaParameters(10, { popSize: 12, eliteRatio: 0.5, variant: 'full', cm: 1 });
  assert.deepEqual(new CmaEs({ dim: 10, popSize: 12 }).params, p);
});

const stateBytes = (cma: CmaEs): Buffer => Buffer.from(cma.serialize());

test('dsigma = 1e-300: tell throws naming the step size and dsigma, and keeps the last good state', () => {
  for (const variant of ['full', 'separable'] as const) {
    const cma = new CmaEs({ dim: 4, popSize: 8, seed: 1, dsigma: 1e-300, variant });
    const xs = cma.ask();
    const before = stateBytes(cma);
    const { mean, sigma } = { mean: Float64Array.from(cma.mean), sigma: cma.sigma };
    assert.throws(() => cma.tell(xs.map((x) => -sphere(x))),
      (e: unknown) => e instanceof Error && /^CMA-ES: the update of generation 1 failed: the step size sigma became (Infinity|0) \(.*dsigma = 1e-300.*: dsigma = 1e-300 is too small\?\)\. Nothing was changed: the state is still that after generation 0, with its ask pending$/.test((e as Error).message),
      variant);
    // No lost data: the state (ask pending included) is the one before the failed update.
    assert.deepEqual(stateBytes(cma), before, `${variant}: checkpoint after the error`);
    assert.equal(cma.generation, 0);
    assert.ok(Object.is(cma.sigma, sigma));
    assert.deepEqual(bytes(cma.mean), bytes(mean));
    assert.equal(cma.bestX, null);
    assert.equal(cma.bestFitness, -Infinity);
    assert.deepEqual(cma.candidates().map(bytes), xs.map(bytes));
    const restored = CmaEs.deserialize(before);
    assert.throws(() => restored.tell(xs.map((x) => -sphere(x))), /step size sigma became/);
  }
});

test('a covariance update that would overflow throws and leaves C (and the rest) as it was', () => {
  for (const variant of ['full', 'separable'] as const) {
    const n = 5;
    const cma = new CmaEs({ dim: n, popSize: 8, seed: 2, variant, initMean: [1, 2, 3, 4, 5] });
    run(cma, 3);
    const xs = cma.ask();
    // Only the last component of pc is huge: every row of C but the last updates finitely first (the full variant
    // writes rows in order), then C[4,4] overflows, so the rollback of the written rows is exercised.
    cma.pathC[n - 1] = 1e200;
    const before = stateBytes(cma), cov = Float64Array.from(cma.cov);
    assert.throws(() => cma.tell(xs.map((x) => -ellipsoid(x))),
      new RegExp(`^Error: CMA-ES: the update of generation 4 failed: the covariance became non-finite: C\\[${variant === 'full' ? '4,4' : '4'}\\] = Infinity \\(decay .*\\)\\. Nothing was changed: the state is still that after generation 3, with its ask pending$`),
      variant);
    assert.deepEqual(bytes(cma.cov), bytes(cov), `${variant}: C unchanged`);
    assert.deepEqual(stateBytes(cma), before, `${variant}: state unchanged`);
  }
});

test('a mean or best sample that would overflow throws and keeps the state', () => {
  const cma = new CmaEs({ dim: 3, popSize: 6, seed: 4, initSigma: 1e308, initMean: [1.7e308, 1.7e308, 1.7e308] });
  cma.ask();
  const before = stateBytes(cma);
  assert.throws(() => cma.tell([1, 2, 3, 4, 5, 6]), /CMA-ES: the update of generation 1 failed: the (best sample \(member 5\) has entry \d = Infinity|mean became non-finite)/);
  assert.deepEqual(stateBytes(cma), before);
  cma.bestFitness = 100; // no new best sample: the mean's own check
  assert.throws(() => cma.tell([1, 2, 3, 4, 5, 6]), /CMA-ES: the update of generation 1 failed: the mean became non-finite: mean\[\d\] = Infinity/);
});

test('deserialize refuses a state with a non-finite or non-positive sigma, or non-finite arrays', () => {
  const cma = new CmaEs({ dim: 3, popSize: 4, seed: 1 });
  run(cma, 2);
  for (const [edit, message] of [
    [(s: ReturnType<typeof decodeCmaState>) => { s.sigma = -1; }, /CMA-ES state: sigma is -1, need a positive finite number/],
    [(s: ReturnType<typeof decodeCmaState>) => { s.sigma = 0; }, /CMA-ES state: sigma is 0/],
    [(s: ReturnType<typeof decodeCmaState>) => { s.mean[1] = Number.NaN; }, /CMA-ES state: mean\[1\] is NaN/],
    [(s: ReturnType<typeof decodeCmaState>) => { s.cov[4] = Infinity; }, /CMA-ES state: cov\[4\] is Infinity/],
    [(s: ReturnType<typeof decodeCmaState>) => { s.generation = -2; }, /CMA-ES state: generation is -2/],
  ] as const) {
    const s = decodeCmaState(cma.serialize());
    edit(s);
    assert.throws(() => CmaEs.deserialize(encodeCmaState(s)), message);
  }
});

test('C stays exactly symmetric over many generations, so the eigendecomposition’s symmetry check never fires', () => {
  for (const eliteRatio of [0.25, 0.5, 1]) {
    const cma = new CmaEs({ dim: 12, popSize: 10, eliteRatio, seed: 8, initMean: new Array(12).fill(1) });
    run(cma, 400);
    const n = 12;
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) assert.ok(Object.is(cma.cov[i * n + j], cma.cov[j * n + i]), `C[${i},${j}]`);
    assert.ok(symmetricEigen(cma.cov, n).values.every((v) => v > 0));
    assert.equal(cma.eigenCount, 400);
  }
});
