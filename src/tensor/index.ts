/** Backend selection: the native addon when it loads, else the TypeScript twin (with one warning). */
import type { Backend } from './backend.js';
import { JsBackend } from './js.js';
import { NativeBackend, type SimdPath } from './native.js';

export type { Backend, AttentionArgs, RopeLayout, GeluKind } from './backend.js';
export { JsBackend } from './js.js';

let chosen: Backend | undefined;
let warned = false;

/**
 * The process-wide default backend. `NAMM_BACKEND=js|native` forces one; forcing `native` when the addon cannot
 * load is an error rather than a silent fallback.
 */
export function getBackend(): Backend {
  return (chosen ??= chooseBackend(process.env));
}

const SIMD_NAMES = ['auto', 'scalar', 'avx2', 'avx512'];

/**
 * The backend the environment asks for (getBackend's choice, made anew). The addon that cannot load falls back to the
 * TypeScript backend with one warning, unless `NAMM_BACKEND=native`; a `NAMM_SIMD` that names no path, or one this
 * CPU lacks, is an error: it fell back as well, and a typo ran everything on the slow backend.
 */
export function chooseBackend(env: Record<string, string | undefined>): Backend {
  const want = env.NAMM_BACKEND?.trim().toLowerCase();
  if (want && want !== 'js' && want !== 'native') throw new Error(`NAMM_BACKEND must be "js" or "native", got "${want}"`);
  const simd = env.NAMM_SIMD?.trim().toLowerCase();
  if (simd && !SIMD_NAMES.includes(simd)) throw new Error(`NAMM_SIMD must be "scalar", "avx2", "avx512" or "auto", got "${simd}"`);
  if (want === 'js') return new JsBackend();
  let paths: string[];
  try {
    paths = NativeBackend.availableSimd();
  } catch (err) {
    if (want === 'native') throw new Error(`NAMM_BACKEND=native but the native addon could not be loaded: ${(err as Error).message}`);
    if (!warned) {
      warned = true;
      process.emitWarning(`namm: native kernels unavailable (${(err as Error).message}); using the slower TypeScript backend`, { code: 'NAMM_NO_NATIVE' });
    }
    return new JsBackend();
  }
  if (simd && simd !== 'auto' && !paths.includes(simd)) throw new Error(`NAMM_SIMD=${simd}, but this CPU runs only ${paths.join(', ')}`);
  return new NativeBackend({ simd: (simd || 'auto') as SimdPath | 'auto' });
}
