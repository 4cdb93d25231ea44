/**
 * The thread pool: results are bit-identical whatever the thread count (work is split without changing any
 * summation order), instances keep their own settings, and several JS worker_threads, each with its own backend,
 * run kernels at the same time, with threads = 1 (inline) and while contending for the pool (threads = 2).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { NativeBackend } from '../../src/tensor/native.js';
import { MAX_THREADS } from '../../src/tensor/validate.js';
import { Rng } from '../../src/util/rng.js';
import { randomF32, skipNative } from './native-fixtures.js';
import { tempDir } from '../helpers/temp.js';

const ADDON = join(process.cwd(), 'build', 'Release', 'namm_native.node');

/** Deterministic inputs shared by the main thread and the workers (same formula on both sides). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { Kernels } = require(workerData.addon);
const k = new Kernels();
k.threads = workerData.threads;
const { M, K, N, reps } = workerData;
const a = new Float32Array(M * K), b = new Float32Array(K * N), c = new Float32Array(M * N);
for (let i = 0; i < a.length; i++) a[i] = Math.sin(i * 0.37) ;
for (let i = 0; i < b.length; i++) b[i] = Math.cos(i * 0.11);
for (let r = 0; r < reps; r++) k.matmulABt(a, b, c, M, K, N);
parentPort.postMessage(c);
`;

/**
 * An LD_PRELOAD shim that makes sched_getaffinity report FAKE_NCPUS CPUs, so a child process sees a machine with
 * more CPUs than MAX_THREADS (the per-slot scratch arrays of the kernels have that many entries).
 */
const MANY_CPUS_SHIM = `
#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <string.h>
int sched_getaffinity(pid_t pid, size_t size, cpu_set_t *set) {
  (void)pid;
  int n = atoi(getenv("FAKE_NCPUS"));
  memset(set, 0, size);
  for (int i = 0; i < n && (size_t)i < size * 8; i++) CPU_SET_S(i, size, set);
  return 0;
}
`;

/**
 * Run under the shim: reports the default thread count, whether the setter accepts it back, and whether rope and
 * attention with the default count (enough tasks for every slot) match one thread.
 */
const MANY_CPUS_CHILD = `
const { availableParallelism } = require('node:os');
const addon = require(process.env.NAMM_ADDON);
const k = new addon.Kernels();
const report = { parallelism: availableParallelism(), cores: addon.cores, threads: k.threads };
try { k.threads = k.threads; report.resetAccepted = true; } catch (e) { report.resetError = e.message; }
const one = new addon.Kernels();
one.threads = 1;
const rows = 1024, nHeads = 16, headDim = 256;
const x = new Float32Array(rows * nHeads * headDim).map((_, i) => Math.sin(i * 0.01));
const x1 = x.slice();
const pos = new Int32Array(rows).map((_, i) => i), inv = new Float32Array(headDim / 2).map((_, i) => 1 / (i + 1));
for (let r = 0; r < 3; r++) { k.rope(x, rows, nHeads, headDim, pos, inv, 'half'); one.rope(x1, rows, nHeads, headDim, pos, inv, 'half'); }
report.ropeSame = x.every((v, i) => Object.is(v, x1[i]));
const nQ = 64, aHeads = 160, hd = 16, len = 96;
const q = new Float32Array(nQ * aHeads * hd).map((_, i) => Math.cos(i * 0.3));
const keys = [], values = [];
for (let h = 0; h < aHeads; h++) {
  keys.push(new Float32Array(len * hd).map((_, i) => Math.sin(i * 0.7 + h)));
  values.push(new Float32Array(len * hd).map((_, i) => Math.cos(i * 0.2 + h)));
}
const lens = new Int32Array(aHeads).fill(len);
const att = (be) => {
  const out = new Float32Array(nQ * aHeads * hd);
  be.attention({ q, nQ, nHeads: aHeads, nKvHeads: aHeads, headDim: hd, keys, values, lens, scale: 0.25, out });
  return out;
};
const o = att(k), o1 = att(one);
report.attentionSame = o.every((v, i) => Object.is(v, o1[i]));
process.stdout.write(JSON.stringify(report));
`;

function runWorker(threads: number, M: number, K: number, N: number, reps: number): Promise<Float32Array> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { addon: ADDON, threads, M, K, N, reps } });
    w.once('message', (c: Float32Array) => resolve(c));
    w.once('error', reject);
    w.once('exit', (code) => { if (code !== 0) reject(new Error(`worker exited with ${code}`)); });
  });
}

describe('native thread pool', { skip: skipNative }, () => {
  it('defaults to the available cores (at most MAX_THREADS); each instance keeps its own count', () => {
    const a = new NativeBackend(), b = new NativeBackend({ threads: 1 });
    assert.equal(a.threads, Math.min(availableParallelism(), MAX_THREADS));
    assert.equal(b.threads, 1);
    a.threads = 3;
    assert.equal(b.threads, 1);
  });

  it('caps the default at MAX_THREADS on a machine with more CPUs, and every kernel stays within its slots', (t) => {
    // 300 CPUs made the default 300: the setter refused its own default, and rope read a scratch pointer past the
    // 256 per-slot entries (a segfault).
    if (process.platform !== 'linux') return t.skip('the sched_getaffinity shim needs Linux');
    if (spawnSync('cc', ['--version']).status !== 0) return t.skip('no C compiler (cc) to build the LD_PRELOAD shim');
    const dir = tempDir('namm-cpus-');
    try {
      writeFileSync(join(dir, 'shim.c'), MANY_CPUS_SHIM);
      const cc = spawnSync('cc', ['-shared', '-fPIC', '-O1', '-o', join(dir, 'shim.so'), join(dir, 'shim.c')], { encoding: 'utf8' });
      assert.equal(cc.status, 0, `building the shim failed: ${cc.stderr}`);
      const child = spawnSync(process.execPath, ['-e', MANY_CPUS_CHILD], {
        encoding: 'utf8',
        env: { ...process.env, LD_PRELOAD: join(dir, 'shim.so'), FAKE_NCPUS: '300', NAMM_ADDON: ADDON },
      });
      assert.equal(child.status, 0, `the child failed (signal ${child.signal}): ${child.stderr}`);
      const report = JSON.parse(child.stdout) as Record<string, unknown>;
      assert.equal(report.parallelism, 300, 'the shim did not take effect');
      assert.deepEqual(report, { parallelism: 300, cores: MAX_THREADS, threads: MAX_THREADS, resetAccepted: true, ropeSame: true, attentionSame: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives bit-identical results with 1, 2, 3 and 5 threads', () => {
    const rng = new Rng('threads');
    const M = 70, K = 300, N = 130;
    const a = randomF32(rng, M * K), w = randomF32(rng, K * N), x = randomF32(rng, K);
    const lens = new Int32Array([40, 700]);
    const keys = [randomF32(rng, 40 * 16), randomF32(rng, 700 * 16)], values = [randomF32(rng, 40 * 16), randomF32(rng, 700 * 16)];
    const q = randomF32(rng, 9 * 4 * 16);
    const q2 = randomF32(rng, 40 * 4 * 16);
    const run = (threads: number) => {
      const be = new NativeBackend({ threads });
      const gemm = new Float32Array(M * N), gemv = new Float32Array(N), atb = new Float32Array(K * N);
      be.matmulABt(a, w, gemm, M, K, N);
      be.matmulABt(x, w, gemv, 1, K, N);
      be.matmulAtB(a, w, atb, K, M, N); // a read as [M rows of k] = Aᵀ with A [K, M]
      const out = new Float32Array(9 * 4 * 16), probs = [new Float32Array(9 * 40), new Float32Array(9 * 700)];
      be.attention({ q, nQ: 9, nHeads: 4, nKvHeads: 2, headDim: 16, keys, values, lens, scale: 0.25, out, probs });
      const out2 = new Float32Array(40 * 4 * 16);
      be.attention({ q: q2, nQ: 40, nHeads: 4, nKvHeads: 2, headDim: 16, keys, values, lens, scale: 0.25, out: out2 });
      const sm = randomF32(new Rng('sm'), 50 * 999);
      be.softmax(sm, 50, 999);
      return [gemm, gemv, atb, out, ...probs, out2, sm];
    };
    const ref = run(1);
    for (const t of [2, 3, 5]) run(t).forEach((r, i) => assert.deepEqual(r, ref[i], `result ${i} with ${t} threads`));
  });

  it('survives thousands of back-to-back tiny jobs (pool hand-off, joining and closing)', () => {
    const rng = new Rng('tiny');
    const a = randomF32(rng, 13 * 40), w = randomF32(rng, 40 * 50);
    const ref = new Float32Array(13 * 50);
    new NativeBackend({ threads: 1 }).matmulABt(a, w, ref, 13, 40, 50);
    for (const threads of [2, 3, 4]) {
      const be = new NativeBackend({ threads });
      const c = new Float32Array(13 * 50);
      for (let rep = 0; rep < 1500; rep++) {
        c.fill(NaN);
        be.matmulABt(a, w, c, 13, 40, 50);
        if (rep % 100 === 0) assert.deepEqual(c, ref, `threads ${threads}, call ${rep}`);
      }
      assert.deepEqual(c, ref);
    }
  });

  it('runs in several worker_threads at once, inline (threads = 1) and contending for the pool (threads = 2)', async () => {
    const M = 96, K = 200, N = 160;
    const be = new NativeBackend({ threads: 1 });
    const a = new Float32Array(M * K).map((_, i) => Math.sin(i * 0.37)), b = new Float32Array(K * N).map((_, i) => Math.cos(i * 0.11));
    const ref = new Float32Array(M * N);
    be.matmulABt(a, b, ref, M, K, N);
    for (const threads of [1, 2]) {
      // The main thread keeps using the pool meanwhile, so workers with threads = 2 find it busy at times.
      const pending = [runWorker(threads, M, K, N, 20), runWorker(threads, M, K, N, 20), runWorker(threads, M, K, N, 20)];
      const main = new NativeBackend({ threads: 2 }), c = new Float32Array(M * N);
      for (let r = 0; r < 20; r++) main.matmulABt(a, b, c, M, K, N);
      assert.deepEqual(c, ref);
      for (const got of await Promise.all(pending)) assert.deepEqual(got, ref, `worker result with threads = ${threads}`);
    }
  });
});
