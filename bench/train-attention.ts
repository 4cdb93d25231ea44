/**
 * Training attention (trainAttentionForward + trainAttentionBackward) of the current build against another build
 * of the addon, in one process: `node --import tsx bench/train-attention.ts [--old path/to/namm_native.node]
 * [--hd 24,32,64] [--T 512,1024,4096] [--threads 1,2] [--reps 5]`.
 *
 * Shapes are those of the project's small models (8 query heads, 4 KV heads). Old and new runs alternate, so
 * background load hits both alike; each line prints the median wall time per forward+backward, the CPU time of
 * the process per call, and the old/new ratio. Outputs of the two builds are compared (max relative difference).
 * Without an old build (the default path missing and no --old), the current build's times alone are printed.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { Rng } from '../src/util/rng.js';

const argv = process.argv.slice(2);
function option(name: string, fallback: string): string {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1]! : fallback;
}
const list = (s: string) => s.split(',').filter(Boolean).map(Number);
const oldPath = option('--old', '/tmp/old_namm_native.node');
const hds = list(option('--hd', '24,32,64'));
const Ts = list(option('--T', '512,1024,4096'));
const threadCounts = list(option('--threads', '1,2'));
const reps = Number(option('--reps', '5'));
const nHeads = 8, nKv = 4;

interface Kernels {
  threads: number;
  trainAttentionForward(out: Float32Array, lse: Float64Array, q: Float32Array, k: Float32Array, v: Float32Array, T: number, nHeads: number, nKvHeads: number, hd: number, scale: number): void;
  trainAttentionBackward(dq: Float32Array, dk: Float32Array, dv: Float32Array, dout: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float64Array, T: number, nHeads: number, nKvHeads: number, hd: number, scale: number): void;
}
const require = createRequire(import.meta.url);
const load = (p: string) => new (require(resolve(p)) as { Kernels: new () => Kernels }).Kernels();
const current: [string, Kernels] = ['new', load(resolve(import.meta.dirname, '../build/Release/namm_native.node'))];
const builds: [string, Kernels][] = existsSync(oldPath) ? [['old', load(oldPath)], current] : [current];

const rng = new Rng(7);
function random(n: number, amp: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rng.float() * 2 - 1) * amp;
  return a;
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let err = 0, size = 0;
  for (let i = 0; i < a.length; i++) { err = Math.max(err, Math.abs(a[i]! - b[i]!)); size = Math.max(size, Math.abs(b[i]!)); }
  return err / Math.max(size, 1e-30);
}

for (const hd of hds) {
  for (const T of Ts) {
    const qn = T * nHeads * hd, kvn = T * nKv * hd, scale = 1 / Math.sqrt(hd);
    const q = random(qn, 2), k = random(kvn, 2), v = random(kvn, 1), dout = random(qn, 1);
    const res = builds.map(() => ({ out: new Float32Array(qn), lse: new Float64Array(T * nHeads), dq: new Float32Array(qn), dk: new Float32Array(kvn), dv: new Float32Array(kvn) }));
    for (const threads of threadCounts) {
      const wall: number[][] = builds.map(() => []), cpu: number[][] = builds.map(() => []);
      const run = (i: number) => {
        const [, kern] = builds[i]!, r = res[i]!;
        kern.threads = threads;
        const c0 = process.cpuUsage(), t0 = performance.now();
        kern.trainAttentionForward(r.out, r.lse, q, k, v, T, nHeads, nKv, hd, scale);
        kern.trainAttentionBackward(r.dq, r.dk, r.dv, dout, q, k, v, r.out, r.lse, T, nHeads, nKv, hd, scale);
        const t1 = performance.now(), c1 = process.cpuUsage(c0);
        return [t1 - t0, (c1.user + c1.system) / 1000];
      };
      for (let i = 0; i < builds.length; i++) run(i);
      for (let rep = 0; rep < reps; rep++) {
        for (let i = 0; i < builds.length; i++) { const [w, c] = run(i); wall[i]!.push(w!); cpu[i]!.push(c!); }
      }
      const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
      if (builds.length === 1) {
        console.log(JSON.stringify({ hd, T, heads: `${nHeads}/${nKv}`, threads, ms: +med(wall[0]!).toFixed(2), cpuMs: +med(cpu[0]!).toFixed(1) }));
        continue;
      }
      const [wo, wn] = wall.map(med), [co, cn] = cpu.map(med);
      const diff = Math.max(...(['out', 'dq', 'dk', 'dv'] as const).map((n) => maxRelDiff(res[1]![n], res[0]![n])));
      console.log(JSON.stringify({ hd, T, heads: `${nHeads}/${nKv}`, threads, oldMs: +wo!.toFixed(2), newMs: +wn!.toFixed(2), speedup: +(wo! / wn!).toFixed(2), oldCpuMs: +co!.toFixed(1), newCpuMs: +cn!.toFixed(1), cpuSpeedup: +(co! / cn!).toFixed(2), maxRelDiff: +diff.toExponential(2) }));
    }
  }
}
