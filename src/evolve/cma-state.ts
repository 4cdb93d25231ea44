/**
 * Binary form of a CMA-ES state: magic "NAMMCMA1", a little-endian u32 header length, a JSON header (options,
 * counters, σ, Rng state, the list of sections), zero padding to 8 bytes, then the float64 sections back to back.
 * A full covariance is stored as its packed lower triangle (C is kept exactly symmetric).
 * Scalars in the header are JSON numbers, which round-trip float64 exactly.
 */
import type { ResolvedCmaOptions } from './cmaes.js';

const MAGIC = 'NAMMCMA1';

export interface CmaSnapshot {
  options: ResolvedCmaOptions;
  generation: number;
  /** hσ's generation (CmaEs.stateGeneration); states written before it existed read it as `generation`. */
  stateGeneration: number;
  eigenGeneration: number;
  sigma: number;
  bestFitness: number;
  rng: { s: number[]; spare: number | null };
  mean: Float64Array;
  pathSigma: Float64Array;
  pathC: Float64Array;
  cov: Float64Array;
  eigenD: Float64Array | null;
  eigenRows: Float64Array | null;
  bestX: Float64Array | null;
  pendingZ: Float64Array | null;
  pendingY: Float64Array | null;
}

type SectionName = 'mean' | 'pathSigma' | 'pathC' | 'cov' | 'eigenD' | 'eigenRows' | 'bestX' | 'pendingZ' | 'pendingY';
const SECTIONS: SectionName[] = ['mean', 'pathSigma', 'pathC', 'cov', 'eigenD', 'eigenRows', 'bestX', 'pendingZ', 'pendingY'];

interface Header {
  options: ResolvedCmaOptions;
  generation: number;
  stateGeneration?: number;
  eigenGeneration: number;
  sigma: number;
  bestFitness: number | null; // JSON has no -Infinity
  rng: { s: number[]; spare: number | null };
  sections: [SectionName, number][];
}

export function encodeCmaState(s: CmaSnapshot): Uint8Array {
  const n = s.options.dim;
  const full = s.options.variant === 'full';
  const payloads: [SectionName, Float64Array][] = [];
  for (const name of SECTIONS) {
    let a = s[name];
    if (!a) continue;
    if (name === 'cov' && full) a = packLower(a, n);
    payloads.push([name, a]);
  }
  const header: Header = {
    options: s.options, generation: s.generation, stateGeneration: s.stateGeneration, eigenGeneration: s.eigenGeneration, sigma: s.sigma,
    bestFitness: Number.isFinite(s.bestFitness) ? s.bestFitness : null, rng: s.rng,
    sections: payloads.map(([name, a]) => [name, a.length]),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const start = align8(8 + 4 + json.length);
  const total = start + payloads.reduce((acc, [, a]) => acc + a.length * 8, 0);
  const out = new Uint8Array(total);
  out.set(Buffer.from(MAGIC, 'latin1'), 0);
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  let off = start;
  for (const [, a] of payloads) {
    new Float64Array(out.buffer, off, a.length).set(a); // native order; tested little-endian platforms only
    off += a.length * 8;
  }
  return out;
}

export function decodeCmaState(bytes: Uint8Array): CmaSnapshot {
  if (bytes.length < 12 || Buffer.from(bytes.subarray(0, 8)).toString('latin1') !== MAGIC) {
    throw new Error('CMA-ES state: not a namm CMA-ES state (bad magic)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLen = view.getUint32(8, true);
  if (12 + jsonLen > bytes.length) throw new Error('CMA-ES state: truncated header');
  let header: Header;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(12, 12 + jsonLen)).toString('utf8')) as Header;
  } catch (err) {
    throw new Error(`CMA-ES state: corrupt header (${(err as Error).message})`);
  }
  if (!header?.options || !Array.isArray(header.sections) || typeof header.sigma !== 'number') {
    throw new Error('CMA-ES state: header lacks options, sections or sigma');
  }
  const n = header.options.dim;
  let off = align8(12 + jsonLen);
  const found = new Map<SectionName, Float64Array>();
  for (const [name, len] of header.sections) {
    if (!SECTIONS.includes(name) || !Number.isInteger(len) || len < 0) throw new Error(`CMA-ES state: bad section ${name}`);
    if (off + len * 8 > bytes.length) throw new Error(`CMA-ES state: truncated in section ${name} (${bytes.length} bytes)`);
    // Copy out so the result does not alias (or depend on the alignment of) the input buffer.
    const a = new Float64Array(len);
    new Uint8Array(a.buffer).set(bytes.subarray(off, off + len * 8));
    found.set(name, a);
    off += len * 8;
  }
  if (off !== bytes.length) throw new Error(`CMA-ES state: ${bytes.length - off} unexpected trailing bytes`);
  const need = (name: SectionName): Float64Array => {
    const a = found.get(name);
    if (!a) throw new Error(`CMA-ES state: missing section ${name}`);
    return a;
  };
  let cov = need('cov');
  if (header.options.variant === 'full') {
    if (cov.length !== (n * (n + 1)) / 2) throw new Error(`CMA-ES state: packed covariance has ${cov.length} values for n = ${n}`);
    cov = unpackLower(cov, n);
  }
  return {
    options: header.options, generation: header.generation, stateGeneration: header.stateGeneration ?? header.generation,
    eigenGeneration: header.eigenGeneration,
    sigma: header.sigma, bestFitness: header.bestFitness ?? -Infinity, rng: header.rng,
    mean: need('mean'), pathSigma: need('pathSigma'), pathC: need('pathC'), cov,
    eigenD: found.get('eigenD') ?? null, eigenRows: found.get('eigenRows') ?? null, bestX: found.get('bestX') ?? null,
    pendingZ: found.get('pendingZ') ?? null, pendingY: found.get('pendingY') ?? null,
  };
}

function align8(x: number): number { return (x + 7) & ~7; }

function packLower(c: Float64Array, n: number): Float64Array {
  const out = new Float64Array((n * (n + 1)) / 2);
  let k = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) out[k++] = c[i * n + j]!;
  return out;
}

function unpackLower(p: Float64Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  let k = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) { const v = p[k++]!; c[i * n + j] = v; c[j * n + i] = v; }
  return c;
}
