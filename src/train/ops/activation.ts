/** The MLP nonlinearities: SwiGLU (Llama) and GELU in GPT-2's tanh form or the exact erf form, with backwards. */
import type { GeluKind } from '../../tensor/backend.js';
import type { Vec } from './types.js';

/** out = silu(gate) · up, silu(g) = g·σ(g). */
export function swigluForward(out: Vec, gate: Vec, up: Vec, n: number): void {
  for (let i = 0; i < n; i++) { const g = gate[i]!; out[i] = (g / (1 + Math.exp(-g))) * up[i]!; }
}

/** dgate = dout · up · σ(g)·(1 + g·(1 − σ(g))), dup = dout · silu(g); both overwritten. */
export function swigluBackward(dgate: Vec, dup: Vec, dout: Vec, gate: Vec, up: Vec, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i]!, sig = 1 / (1 + Math.exp(-g)), d = dout[i]!;
    dgate[i] = d * up[i]! * sig * (1 + g * (1 - sig));
    dup[i] = d * g * sig;
  }
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

export function geluForward(out: Vec, x: Vec, n: number, kind: GeluKind): void {
  if (kind === 'tanh') {
    for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))); }
  } else if (kind === 'erf') {
    for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = 0.5 * v * (1 + erf(v / Math.SQRT2)); }
  } else throw new TypeError(`unknown GELU kind ${String(kind)}`);
}

/**
 * dx = dout · gelu'(x), overwritten.
 * tanh: with u = c(x + 0.044715x³): ½(1 + tanh u) + ½x(1 − tanh²u)·c(1 + 3·0.044715x²).
 * erf: Φ(x) + x·φ(x).
 */
export function geluBackward(dx: Vec, dout: Vec, x: Vec, n: number, kind: GeluKind): void {
  if (kind === 'tanh') {
    for (let i = 0; i < n; i++) {
      const v = x[i]!, th = Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v));
      dx[i] = dout[i]! * (0.5 * (1 + th) + 0.5 * v * (1 - th * th) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v));
    }
  } else if (kind === 'erf') {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      dx[i] = dout[i]! * (0.5 * (1 + erf(v / Math.SQRT2)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
    }
  } else throw new TypeError(`unknown GELU kind ${String(kind)}`);
}

/**
 * The error function to ~1e-15: its Maclaurin series below |x| = 2 (terms peak near e^{x²} ≈ 55, so
 * cancellation costs under two of float64's sixteen digits) and a continued fraction for erfc from 2 up, where
 * 60 terms already converge to the last bit. Accurate enough that finite differences of GELU(erf) match Φ + xφ.
 */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2) {
    let term = x, sum = x;
    const x2 = x * x;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))), evaluated bottom-up with 60 terms.
  let f = ax;
  for (let n = 60; n >= 1; n--) f = ax + (n / 2) / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return x > 0 ? 1 - erfc : erfc - 1;
}
