/** The MLP nonlinearities: SwiGLU (Llama) and GELU in GPT-2's tanh form or the exact erf form, with backwards. */
import type { GeluKind } from '../../tensor/backend.js';
import { allF32, type RowKernels, type Vec } from './types.js';
import { erf } from '../../tensor/js.js';

export { erf };

// Each op hands float32 calls to `kernels` (the native backend's row kernels) when given; the loops are their twins.

/** out = silu(gate) · up, silu(g) = g·σ(g). */
export function swigluForward(out: Vec, gate: Vec, up: Vec, n: number, kernels?: RowKernels): void {
  if (kernels && allF32(out, gate, up)) return kernels.siluMul(out as Float32Array, gate as Float32Array, up as Float32Array, n);
  for (let i = 0; i < n; i++) { const g = gate[i]!; out[i] = (g / (1 + Math.exp(-g))) * up[i]!; }
}

/** dgate = dout · up · σ(g)·(1 + g·(1 − σ(g))), dup = dout · silu(g); both overwritten. */
export function swigluBackward(dgate: Vec, dup: Vec, dout: Vec, gate: Vec, up: Vec, n: number, kernels?: RowKernels): void {
  if (kernels && allF32(dgate, dup, dout, gate, up)) {
    const f = (v: Vec): Float32Array => v as Float32Array;
    return kernels.siluMulBackward(f(dgate), f(dup), f(dout), f(gate), f(up), n);
  }
  for (let i = 0; i < n; i++) {
    const g = gate[i]!, sig = 1 / (1 + Math.exp(-g)), d = dout[i]!;
    dgate[i] = d * up[i]! * sig * (1 + g * (1 - sig));
    dup[i] = d * g * sig;
  }
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

export function geluForward(out: Vec, x: Vec, n: number, kind: GeluKind, kernels?: RowKernels): void {
  if (kernels && allF32(out, x) && (kind === 'tanh' || kind === 'erf')) return kernels.gelu(out as Float32Array, x as Float32Array, n, kind);
  if (kind === 'tanh') {
    // ½x(1 + tanh u) as x·σ(2u): the same value, without 1 + tanh u cancelling for x below −5.
    for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = v / (1 + Math.exp(-2 * SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))); }
  } else if (kind === 'erf') {
    for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = 0.5 * v * (1 + erf(v / Math.SQRT2)); }
  } else throw new TypeError(`unknown GELU kind ${String(kind)}`);
}

/**
 * dx = dout · gelu'(x), overwritten.
 * tanh: with u = c(x + 0.044715x³) and s = ½(1 + tanh u) = σ(2u) (so ½(1 − tanh²u) = 2s(1 − s)):
 * s + 2x·s(1 − s)·c(1 + 3·0.044715x²).
 * erf: Φ(x) + x·φ(x).
 */
export function geluBackward(dx: Vec, dout: Vec, x: Vec, n: number, kind: GeluKind, kernels?: RowKernels): void {
  // The erf form has no native backward: it stays here.
  if (kernels && kind === 'tanh' && allF32(dx, dout, x)) return kernels.geluTanhBackward(dx as Float32Array, dout as Float32Array, x as Float32Array, n);
  if (kind === 'tanh') {
    for (let i = 0; i < n; i++) {
      const v = x[i]!, s = 1 / (1 + Math.exp(-2 * SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
      dx[i] = dout[i]! * (s + 2 * v * s * (1 - s) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v));
    }
  } else if (kind === 'erf') {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      dx[i] = dout[i]! * (0.5 * (1 + erf(v / Math.SQRT2)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
    }
  } else throw new TypeError(`unknown GELU kind ${String(kind)}`);
}

