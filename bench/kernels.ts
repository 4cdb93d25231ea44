/**
 * Kernel throughput: `npm run bench:kernels [-- --no-js] [-- --simd avx2,scalar] [-- --threads 1,2]`.
 *
 * Prints one JSON line per (kernel, shape, backend, threads): GFLOPS for GEMM, GB/s of weights (GEMV) or of the
 * K/V cache read (decode attention). The TypeScript backend runs the same shapes with few repetitions so the
 * native/TS ratio (`vsJs`) is visible. Weights and caches of the bandwidth cases are rotated through copies that
 * together exceed the last-level cache, so the numbers are DRAM streaming rates, not L3 hits.
 */
import { cpus, loadavg } from 'node:os';
import { JsBackend } from '../src/tensor/js.js';
import { NativeBackend, type SimdPath } from '../src/tensor/native.js';
import type { Backend } from '../src/tensor/backend.js';
import { Rng } from '../src/util/rng.js';

const argv = process.argv.slice(2);
function option(name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}
const withJs = !argv.includes('--no-js');
const threadCounts = (option('--threads') ?? `1,${Math.max(2, cpus().length)}`).split(',').map(Number);
const simdPaths = (option('--simd') ?? '').split(',').filter(Boolean) as SimdPath[];

/** Bytes that certainly exceed the last-level cache here (L3 = 32 MiB); copies are rotated to reach it. */
const STREAM_BYTES = 96 * 2 ** 20;
const rng = new Rng(1234);

function randomArray(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.float() * 2 - 1;
  return a;
}

/** Median seconds per call of fn(rep) after one warm-up call, within a time budget. */
function time(fn: (rep: number) => void, minReps: number, budgetS: number): { s: number; reps: number } {
  fn(0);
  const samples: number[] = [];
  const start = performance.now();
  for (let rep = 1; samples.length < minReps || (performance.now() - start) / 1000 < budgetS; rep++) {
    const t0 = performance.now();
    fn(rep);
    samples.push((performance.now() - t0) / 1000);
    if (samples.length >= 1000) break;
  }
  samples.sort((x, y) => x - y);
  return { s: samples[Math.floor(samples.length / 2)]!, reps: samples.length };
}

interface Row {
  kernel: string;
  shape: Record<string, number>;
  backend: string;
  simd: string;
  threads: number;
  reps: number;
  ms: number;
  gflops?: number;
  gbps?: number;
  vsJs?: number;
}
const jsRate = new Map<string, number>();

function emit(row: Row, rate: number, key: string): void {
  if (row.backend === 'js') jsRate.set(key, rate);
  else if (jsRate.has(key)) row.vsJs = Number((rate / jsRate.get(key)!).toFixed(1));
  console.log(JSON.stringify(row));
}

function backends(): { b: Backend; threads: number }[] {
  const list: { b: Backend; threads: number }[] = [];
  if (withJs) list.push({ b: new JsBackend(), threads: 1 });
  const paths = simdPaths.length ? simdPaths : [new NativeBackend().simd];
  for (const simd of paths)
    for (const threads of threadCounts) list.push({ b: new NativeBackend({ simd, threads }), threads });
  return list;
}

function benchGemm(op: 'matmulABt' | 'matmulAB' | 'matmulAtB', M: number, K: number, N: number): void {
  const a = randomArray(M * K), b = randomArray(K * N), c = new Float32Array(M * N);
  for (const { b: be, threads } of backends()) {
    const js = be.name === 'js';
    const t = time(() => be[op](a, b, c, M, K, N), js ? 1 : 5, js ? 0 : 1.5);
    const gflops = (2 * M * K * N) / t.s / 1e9;
    emit({ kernel: op, shape: { M, K, N }, backend: be.name, simd: be.simd, threads, reps: t.reps, ms: +(t.s * 1e3).toFixed(3), gflops: +gflops.toFixed(1) }, gflops, `${op}/${M}/${K}/${N}`);
  }
}

/** M = 1 (decoding): y = x·Wᵀ, rotating through enough weight matrices to defeat the caches. */
function benchGemv(K: number, N: number): void {
  const bytes = K * N * 4;
  const copies = Math.max(2, Math.ceil(STREAM_BYTES / bytes));
  const weights = Array.from({ length: copies }, () => randomArray(K * N));
  const x = randomArray(K), y = new Float32Array(N);
  for (const { b: be, threads } of backends()) {
    const js = be.name === 'js';
    const t = time((rep) => be.matmulABt(x, weights[rep % copies]!, y, 1, K, N), js ? 3 : 50, js ? 0.3 : 1.5);
    const gbps = bytes / t.s / 1e9;
    emit({ kernel: 'gemv(matmulABt M=1)', shape: { M: 1, K, N }, backend: be.name, simd: be.simd, threads, reps: t.reps, ms: +(t.s * 1e3).toFixed(4), gbps: +gbps.toFixed(1) }, gbps, `gemv/${K}/${N}`);
  }
}

/** Decode attention: one query per head over `len` cached tokens per KV head, rotating caches. */
function benchDecodeAttention(nHeads: number, nKvHeads: number, headDim: number, len: number): void {
  const bytes = 2 * nKvHeads * len * headDim * 4;
  const copies = Math.max(2, Math.ceil(STREAM_BYTES / bytes));
  const caches = Array.from({ length: copies }, () => ({
    keys: Array.from({ length: nKvHeads }, () => randomArray(len * headDim)),
    values: Array.from({ length: nKvHeads }, () => randomArray(len * headDim)),
  }));
  const q = randomArray(nHeads * headDim), out = new Float32Array(nHeads * headDim);
  const lens = new Int32Array(nKvHeads).fill(len);
  for (const { b: be, threads } of backends()) {
    const js = be.name === 'js';
    const t = time((rep) => {
      const c = caches[rep % copies]!;
      be.attention({ q, nQ: 1, nHeads, nKvHeads, headDim, keys: c.keys, values: c.values, lens, scale: 1 / Math.sqrt(headDim), out });
    }, js ? 3 : 50, js ? 0.3 : 1.5);
    const gbps = bytes / t.s / 1e9;
    emit({ kernel: 'attention(decode nQ=1)', shape: { nHeads, nKvHeads, headDim, len }, backend: be.name, simd: be.simd, threads, reps: t.reps, ms: +(t.s * 1e3).toFixed(4), gbps: +gbps.toFixed(1) }, gbps, `attn/${nHeads}/${nKvHeads}/${headDim}/${len}`);
  }
}

/** Prefill attention: a chunk of nQ queries appended to len − nQ older tokens (causal within the chunk). */
function benchPrefillAttention(nHeads: number, nKvHeads: number, headDim: number, nQ: number, len: number): void {
  const keys = Array.from({ length: nKvHeads }, () => randomArray(len * headDim));
  const values = Array.from({ length: nKvHeads }, () => randomArray(len * headDim));
  const q = randomArray(nQ * nHeads * headDim), out = new Float32Array(nQ * nHeads * headDim);
  const lens = new Int32Array(nKvHeads).fill(len);
  // QKᵀ and PV over the visible keys: 4·headDim flops per (query head, visible key).
  const visiblePairs = nQ * (len - nQ) + (nQ * (nQ + 1)) / 2;
  for (const { b: be, threads } of backends()) {
    const js = be.name === 'js';
    const t = time(() => be.attention({ q, nQ, nHeads, nKvHeads, headDim, keys, values, lens, scale: 1 / Math.sqrt(headDim), out }), js ? 1 : 3, js ? 0 : 1.5);
    const gflops = (4 * headDim * nHeads * visiblePairs) / t.s / 1e9;
    emit({ kernel: 'attention(prefill)', shape: { nQ, nHeads, nKvHeads, headDim, len }, backend: be.name, simd: be.simd, threads, reps: t.reps, ms: +(t.s * 1e3).toFixed(3), gflops: +gflops.toFixed(1) }, gflops, `prefill/${nQ}/${nHeads}/${nKvHeads}/${headDim}/${len}`);
  }
}

console.log(JSON.stringify({ bench: 'kernels', cpu: cpus()[0]?.model, cores: cpus().length, loadavg: loadavg().map((x) => +x.toFixed(2)), node: process.version, simdAvailable: NativeBackend.availableSimd() }));
// The prefill shapes (M, K, N), each in every layout: the forward product and the two a backward pass needs.
for (const [M, K, N] of [[512, 256, 768], [512, 1024, 4096], [2048, 576, 1536]] as const) {
  for (const op of ['matmulABt', 'matmulAB', 'matmulAtB'] as const) benchGemm(op, M, K, N);
}
benchGemv(576, 1536);
benchGemv(1024, 4096);
benchDecodeAttention(8, 8, 128, 1024);
benchDecodeAttention(8, 8, 128, 4096);
benchDecodeAttention(32, 8, 128, 4096);
benchPrefillAttention(8, 8, 64, 512, 1024);
console.log(JSON.stringify({ done: true, loadavg: loadavg().map((x) => +x.toFixed(2)) }));
