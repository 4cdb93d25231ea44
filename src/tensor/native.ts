/**
 * The native backend: the C++ kernels of native/ (built by `npm install` into build/Release/namm_native.node),
 * behind the Backend interface. The addon validates every argument itself and throws TypeError/RangeError on
 * misuse, exactly as the TypeScript twin does.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { AttentionArgs, Backend, GeluKind, RopeLayout } from './backend.js';
import { PACKED_FORMAT_CODE, PackedMatrix, type Weight } from './packed.js';
import { checkOptionKeys } from '../util/show.js';
import { packageRoot } from '../util/package.js';

export type SimdPath = 'scalar' | 'avx2' | 'avx512';

/**
 * The object the addon's `Kernels` class creates (see native/src/addon.cc): every Backend kernel, the optional ones
 * included, plus the SIMD-path hook.
 */
type NativeKernels = Omit<Required<Backend>, 'name' | 'simd' | 'matmulABt'> & {
  readonly simd: SimdPath;
  forceSimd(path: SimdPath | 'auto'): SimdPath;
  matmulABt(a: Float32Array, b: Float32Array, c: Float32Array, M: number, K: number, N: number, accumulate?: boolean): void;
  /** A·Wᵀ with W packed: `w` its bytes, `format` its code (PACKED_FORMAT_CODE). */
  matmulABtPacked(a: Float32Array, w: Uint8Array, format: number, c: Float32Array, M: number, K: number, N: number, accumulate?: boolean): void;
};

interface NativeAddon {
  Kernels: new () => NativeKernels;
  /** SIMD paths this CPU can run, e.g. ['scalar', 'avx2']. */
  availableSimd: SimdPath[];
  /** The default thread count: the CPUs available to this process, at most 256 (the largest `threads`). */
  cores: number;
}

let addon: NativeAddon | undefined;
let loadError: Error | undefined;

/** The compiled addon, loaded once per thread; throws a clear Error when it is missing or cannot load. */
export function loadNativeAddon(): NativeAddon {
  if (addon) return addon;
  if (loadError) throw loadError;
  const file = join(packageRoot(), 'build', 'Release', 'namm_native.node');
  if (!existsSync(file)) {
    loadError = new Error(`native addon not built: ${file} is missing (build it with "node ${join(packageRoot(), 'scripts', 'build-native.mjs')}"; in a clone of the repository "npm run build" also compiles the TypeScript, and "npm rebuild namm" rebuilds an installed package)`);
    throw loadError;
  }
  try {
    addon = createRequire(import.meta.url)(file) as NativeAddon;
  } catch (err) {
    loadError = new Error(`native addon ${file} could not be loaded: ${(err as Error).message}`);
    throw loadError;
  }
  return addon;
}

/**
 * The C++ kernels. `threads` (default: the CPUs available, at most 256) sets how many threads of the
 * process-wide pool a kernel may use; 1 runs every kernel on the calling thread. `forceSimd` pins a SIMD path (a
 * test hook; it refuses paths the CPU lacks). `NAMM_SIMD=scalar|avx2|avx512` pins the path of new instances.
 */
export class NativeBackend implements Backend {
  readonly name = 'native' as const;
  private readonly k: NativeKernels;

  constructor(options: { threads?: number; simd?: SimdPath | 'auto' } = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError(`NativeBackend: options must be an object, got ${options === null ? 'null' : typeof options}`);
    // `{ thread: 2 }` ran on every core without a word.
    checkOptionKeys(options, ['threads', 'simd'], 'NativeBackend');
    const lib = loadNativeAddon();
    this.k = new lib.Kernels();
    const simd = options.simd ?? (process.env.NAMM_SIMD?.trim().toLowerCase() as SimdPath | 'auto' | undefined);
    if (simd) this.k.forceSimd(simd);
    if (options.threads !== undefined) this.k.threads = options.threads;
  }

  /** SIMD paths this CPU can run, scalar first. */
  static availableSimd(): SimdPath[] {
    return [...loadNativeAddon().availableSimd];
  }

  get simd(): SimdPath {
    return this.k.simd;
  }

  get threads(): number {
    return this.k.threads;
  }

  /** 1 … 256; RangeError otherwise. */
  set threads(n: number) {
    this.k.threads = n;
  }

  /** Pins the SIMD path ('auto' = the best one); throws if the CPU cannot run it. Returns the path now in use. */
  forceSimd(path: SimdPath | 'auto'): SimdPath {
    return this.k.forceSimd(path);
  }

  matmulABt(a: Float32Array, b: Weight, c: Float32Array, M: number, K: number, N: number, accumulate = false): void {
    if (b instanceof PackedMatrix) {
      // The addon checks sizes against K and N; the matrix's own shape is checked here.
      if (b.rows !== N || b.cols !== K) throw new RangeError(`the packed weight is ${b.rows}×${b.cols}, but N×K = ${N}×${K} was asked for`);
      this.k.matmulABtPacked(a, b.bytes, PACKED_FORMAT_CODE[b.format], c, M, K, N, accumulate);
      return;
    }
    this.k.matmulABt(a, b, c, M, K, N, accumulate);
  }
  matmulAB(a: Float32Array, b: Float32Array, c: Float32Array, M: number, K: number, N: number, accumulate = false): void {
    this.k.matmulAB(a, b, c, M, K, N, accumulate);
  }
  matmulAtB(a: Float32Array, b: Float32Array, c: Float32Array, M: number, K: number, N: number, accumulate = false): void {
    this.k.matmulAtB(a, b, c, M, K, N, accumulate);
  }
  rmsNorm(out: Float32Array, x: Float32Array, weight: Float32Array, rows: number, dim: number, eps: number): void {
    this.k.rmsNorm(out, x, weight, rows, dim, eps);
  }
  layerNorm(out: Float32Array, x: Float32Array, weight: Float32Array, bias: Float32Array, rows: number, dim: number, eps: number): void {
    this.k.layerNorm(out, x, weight, bias, rows, dim, eps);
  }
  rope(x: Float32Array, rows: number, nHeads: number, headDim: number, positions: Int32Array, invFreq: Float32Array, layout: RopeLayout): void {
    this.k.rope(x, rows, nHeads, headDim, positions, invFreq, layout);
  }
  siluMul(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    this.k.siluMul(out, gate, up, n);
  }
  gelu(out: Float32Array, x: Float32Array, n: number, kind: GeluKind): void {
    this.k.gelu(out, x, n, kind);
  }
  softmax(x: Float32Array, rows: number, cols: number): void {
    this.k.softmax(x, rows, cols);
  }
  add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
    this.k.add(out, a, b, n);
  }
  addBias(x: Float32Array, bias: Float32Array, rows: number, cols: number): void {
    this.k.addBias(x, bias, rows, cols);
  }
  attention(args: AttentionArgs): void {
    this.k.attention(args);
  }
  f16ToF32(src: Uint16Array, dst: Float32Array, n: number): void {
    this.k.f16ToF32(src, dst, n);
  }
  bf16ToF32(src: Uint16Array, dst: Float32Array, n: number): void {
    this.k.bf16ToF32(src, dst, n);
  }
  q8_0ToF32(src: Uint8Array, dst: Float32Array, n: number): void {
    this.k.q8_0ToF32(src, dst, n);
  }
  trainAttentionForward(
    out: Float32Array, lse: Float64Array, q: Float32Array, k: Float32Array, v: Float32Array,
    T: number, nHeads: number, nKvHeads: number, headDim: number, scale: number,
  ): void {
    this.k.trainAttentionForward(out, lse, q, k, v, T, nHeads, nKvHeads, headDim, scale);
  }
  trainAttentionBackward(
    dq: Float32Array, dk: Float32Array, dv: Float32Array, dout: Float32Array, q: Float32Array, k: Float32Array,
    v: Float32Array, out: Float32Array, lse: Float64Array, T: number, nHeads: number, nKvHeads: number, headDim: number, scale: number,
  ): void {
    this.k.trainAttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, T, nHeads, nKvHeads, headDim, scale);
  }
  crossEntropy(logits: Float32Array, targets: Int32Array, T: number, V: number, gradScale: number, rowLoss: Float64Array): void {
    this.k.crossEntropy(logits, targets, T, V, gradScale, rowLoss);
  }
  siluMulBackward(dgate: Float32Array, dup: Float32Array, dout: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    this.k.siluMulBackward(dgate, dup, dout, gate, up, n);
  }
  geluTanhBackward(dx: Float32Array, dout: Float32Array, x: Float32Array, n: number): void {
    this.k.geluTanhBackward(dx, dout, x, n);
  }
  rmsNormTrain(out: Float32Array, rstd: Float64Array, x: Float32Array, weight: Float32Array, rows: number, dim: number, eps: number): void {
    this.k.rmsNormTrain(out, rstd, x, weight, rows, dim, eps);
  }
  rmsNormBackward(
    dx: Float32Array, dw: Float32Array, dy: Float32Array, x: Float32Array, weight: Float32Array, rstd: Float64Array, rows: number, dim: number,
  ): void {
    this.k.rmsNormBackward(dx, dw, dy, x, weight, rstd, rows, dim);
  }
  layerNormTrain(
    out: Float32Array, mean: Float64Array, rstd: Float64Array, x: Float32Array, weight: Float32Array, bias: Float32Array, rows: number, dim: number, eps: number,
  ): void {
    this.k.layerNormTrain(out, mean, rstd, x, weight, bias, rows, dim, eps);
  }
  layerNormBackward(
    dx: Float32Array, dw: Float32Array, db: Float32Array, dy: Float32Array, x: Float32Array, weight: Float32Array,
    mean: Float64Array, rstd: Float64Array, rows: number, dim: number,
  ): void {
    this.k.layerNormBackward(dx, dw, db, dy, x, weight, mean, rstd, rows, dim);
  }
  symmetricEigen(a: Float64Array, n: number, values: Float64Array): void {
    this.k.symmetricEigen(a, n, values);
  }
  stftAccumulate(prev: Float32Array, cur: Float32Array, ld: number, rows: number, weight: number, acc: Float32Array): void {
    this.k.stftAccumulate(prev, cur, ld, rows, weight, acc);
  }
  bamScores(x: Float32Array, n: number, params: Float32Array, out: Float32Array): void {
    this.k.bamScores(x, n, params, out);
  }
  stftAccumulateFrames(
    prev: Float32Array, prevLd: number, next: Float32Array | Uint16Array, nextLd: number, frames: number,
    rows: Int32Array, weights: Float32Array, acc: Float32Array, last?: Float32Array, lastLd?: number,
  ): void {
    this.k.stftAccumulateFrames(prev, prevLd, next, nextLd, frames, rows, weights, acc, last, lastLd);
  }
  nammFeatures(
    acc: Float32Array, n: number, nOld: number, oldEma: Float32Array, decay: number, positions: Int32Array,
    table: Float32Array, norm: Float64Array | null, raw: Float32Array, features: Float32Array,
  ): void {
    this.k.nammFeatures(acc, n, nOld, oldEma, decay, positions, table, norm, raw, features);
  }
  gatherRows(
    src: Float32Array, srcPlane: number, dst: Float32Array, dstPlane: number, planes: number, width: number,
    keep: Int32Array, k: number,
  ): void {
    this.k.gatherRows(src, srcPlane, dst, dstPlane, planes, width, keep, k);
  }
  compactRows(data: Float32Array, width: number, keep: Int32Array, k: number, also?: Float32Array): void {
    this.k.compactRows(data, width, keep, k, also);
  }

}

/** A native backend with the default settings; throws a clear Error when the addon is absent or unloadable. */
export function loadNativeBackend(): NativeBackend {
  return new NativeBackend();
}
