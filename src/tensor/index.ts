/** Backend selection: the native addon when it loads, else the TypeScript twin (with one warning). */
import type { Backend } from './backend.js';
import { JsBackend } from './js.js';
import { loadNativeBackend } from './native.js';

export type { Backend, AttentionArgs, RopeLayout, GeluKind } from './backend.js';
export { JsBackend } from './js.js';

let chosen: Backend | undefined;
let warned = false;

/**
 * The process-wide default backend. `NAMM_BACKEND=js|native` forces one; forcing `native` when the addon cannot
 * load is an error rather than a silent fallback.
 */
export function getBackend(): Backend {
  if (chosen) return chosen;
  const want = process.env.NAMM_BACKEND?.trim().toLowerCase();
  if (want && want !== 'js' && want !== 'native') throw new Error(`NAMM_BACKEND must be "js" or "native", got "${want}"`);
  if (want === 'js') return (chosen = new JsBackend());
  try {
    chosen = loadNativeBackend();
  } catch (err) {
    if (want === 'native') throw new Error(`NAMM_BACKEND=native but the native addon could not be loaded: ${(err as Error).message}`);
    if (!warned) {
      warned = true;
      process.emitWarning(`namm: native kernels unavailable (${(err as Error).message}); using the slower TypeScript backend`);
    }
    chosen = new JsBackend();
  }
  return chosen;
}
