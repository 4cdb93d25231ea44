/**
 * All trainable parameters of a model in one flat vector (and its gradient in another), with a named view per
 * tensor. One vector makes the optimizer, gradient clipping and checkpoints single loops over contiguous memory.
 */
import { Rng } from '../util/rng.js';
import { allocVec, type Precision, type Vec } from './ops/types.js';

/**
 * How a tensor starts: N(0, std²), a constant, or (`sinusoidal`, for a [positions, width] table) the fixed
 * encoding of Vaswani et al. scaled to an RMS of `rms`: row p, columns 2i and 2i + 1 = √2·rms·(sin, cos)(p·10000^(−2i/width)).
 */
export type ParamInit = { kind: 'normal'; std: number } | { kind: 'const'; value: number } | { kind: 'sinusoidal'; rms: number };

export interface ParamSpec {
  /** Trainer-internal name (HF name where the layout is HF's; see each family's export). */
  name: string;
  shape: number[];
  /** Whether AdamW applies weight decay to it (matrices yes; norms, biases, embeddings no, by default). */
  decay: boolean;
  init: ParamInit;
}

export interface ParamEntry extends ParamSpec {
  offset: number;
  size: number;
}

export class ParamStore {
  readonly data: Vec;
  readonly grad: Vec;
  readonly entries: readonly ParamEntry[];
  private readonly byName = new Map<string, ParamEntry>();

  constructor(specs: readonly ParamSpec[], readonly precision: Precision) {
    let offset = 0;
    const entries: ParamEntry[] = [];
    for (const s of specs) {
      if (this.byName.has(s.name)) throw new Error(`parameter "${s.name}" is declared twice`);
      const size = s.shape.reduce((a, b) => a * b, 1);
      if (!(size > 0)) throw new Error(`parameter "${s.name}" has an empty shape [${s.shape}]`);
      const e = { ...s, offset, size };
      entries.push(e); this.byName.set(s.name, e);
      offset += size;
    }
    this.entries = entries;
    this.data = allocVec(precision, offset);
    this.grad = allocVec(precision, offset);
  }

  get count(): number { return this.data.length; }

  entry(name: string): ParamEntry {
    const e = this.byName.get(name);
    if (!e) throw new Error(`no parameter "${name}"`);
    return e;
  }

  value(name: string): Vec { const e = this.entry(name); return this.data.subarray(e.offset, e.offset + e.size); }
  gradOf(name: string): Vec { const e = this.entry(name); return this.grad.subarray(e.offset, e.offset + e.size); }
  has(name: string): boolean { return this.byName.has(name); }

  zeroGrad(): void { this.grad.fill(0); }

  /** Fills every parameter from its init rule, in declaration order, from one seeded stream. */
  initialize(seed: number): void {
    const rng = new Rng(seed);
    for (const e of this.entries) {
      const v = this.data.subarray(e.offset, e.offset + e.size);
      if (e.init.kind === 'const') v.fill(e.init.value);
      else if (e.init.kind === 'sinusoidal') sinusoidalTable(v, e.shape, e.init.rms);
      else for (let i = 0; i < e.size; i++) v[i] = rng.normal() * e.init.std;
    }
  }

  /** Per-element 1/0 weight-decay mask in the layout of `data`. */
  decayMask(): Uint8Array {
    const m = new Uint8Array(this.count);
    for (const e of this.entries) if (e.decay) m.fill(1, e.offset, e.offset + e.size);
    return m;
  }
}

/** Named scratch buffers that grow to the longest sequence seen and are reused (as subarrays) after that. */
export class Arena {
  private bufs = new Map<string, Vec>();
  private f64 = new Map<string, Float64Array>();
  constructor(private readonly precision: Precision) {}

  get(name: string, n: number): Vec {
    let b = this.bufs.get(name);
    if (!b || b.length < n) { b = allocVec(this.precision, n); this.bufs.set(name, b); }
    return b.subarray(0, n);
  }

  /** Float64 statistics (norm rstd/mean, attention log-sum-exp) whatever the training precision. */
  stats(name: string, n: number): Float64Array {
    let b = this.f64.get(name);
    if (!b || b.length < n) { b = new Float64Array(n); this.f64.set(name, b); }
    return b.subarray(0, n);
  }
}

/** Fills `v` ([rows, width], width even) with the sinusoidal position encoding of RMS `rms` (float64, then rounded). */
export function sinusoidalTable(v: Vec, shape: readonly number[], rms: number): void {
  const [rows, width] = shape as [number, number];
  if (shape.length !== 2 || width % 2 !== 0) throw new Error(`a sinusoidal table needs a [positions, even width] shape, got [${shape.join(', ')}]`);
  const amp = Math.SQRT2 * rms;
  for (let i = 0; i < width / 2; i++) {
    const omega = Math.pow(10000, (-2 * i) / width);
    for (let p = 0; p < rows; p++) {
      v[p * width + 2 * i] = amp * Math.sin(p * omega);
      v[p * width + 2 * i + 1] = amp * Math.cos(p * omega);
    }
  }
}
