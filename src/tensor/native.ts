/** Placeholder until the native addon lands: always reports that it is unavailable. */
import type { Backend } from './backend.js';
export function loadNativeBackend(): Backend {
  throw new Error('native addon not built');
}
