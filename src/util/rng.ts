/**
 * A small seeded random generator (xoshiro128**, seeded through splitmix32) whose whole state can be saved and
 * restored, so checkpointed jobs resume bit-identically. Every random choice in namm takes one of these.
 */
export class Rng {
  private s = new Uint32Array(4);
  private spare: number | null = null;

  /**
   * A string seed is hashed; a numeric one must be a safe integer. The state comes from the seed's low 32 bits, and
   * for seeds outside [0, 2^32) the high bits are mixed into its last word through a bijection that keeps 0 at 0:
   * seeds in [0, 2^32) keep the streams they always had, and every other safe integer starts from a state of its
   * own (the first word alone already tells two low words apart), so 2^32 + k no longer repeats the stream of k.
   */
  constructor(seed: number | string = 0) {
    if (typeof seed !== 'number' && typeof seed !== 'string') throw new TypeError(`Rng: a seed must be a safe integer or a string, got ${seed === null ? 'null' : typeof seed}`);
    if (typeof seed === 'number' && !Number.isSafeInteger(seed)) throw new RangeError(`Rng: a seed must be a safe integer or a string, got ${seed}`);
    const hi = typeof seed === 'number' ? Math.floor(seed / 2 ** 32) >>> 0 : 0;
    let x = typeof seed === 'string' ? hashString(seed) : (seed - Math.floor(seed / 2 ** 32) * 2 ** 32) >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      this.s[i] = fmix32(x);
    }
    if (hi !== 0) this.s[3] = (this.s[3]! ^ fmix32(hi)) >>> 0;
    if ((this.s[0]! | this.s[1]! | this.s[2]! | this.s[3]!) === 0) this.s[0] = 1;
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2] = s[2]! ^ s[0]!; s[3] = s[3]! ^ s[1]!; s[1] = s[1]! ^ s[2]!; s[0] = s[0]! ^ s[3]!;
    s[2] = s[2]! ^ t; s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.nextU32() >>> 5, lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), for n up to 2^53 − 1. */
  int(n: number): number {
    // float() has 53 random bits: past 2^53 only some integers could come out (for 2^60, multiples of 128).
    if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`Rng.int: n must be a positive safe integer (at most 2^53 − 1), got ${n}`);
    return Math.floor(this.float() * n);
  }

  /** Standard normal (Box–Muller, the second value cached). */
  normal(): number {
    if (this.spare !== null) { const v = this.spare; this.spare = null; return v; }
    let u = 0;
    while (u === 0) u = this.float();
    const v = this.float();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) { const j = this.int(i + 1); [a[i], a[j]] = [a[j]!, a[i]!]; }
    return a;
  }

  /** One element chosen uniformly. */
  pick<T>(a: readonly T[]): T {
    if (a.length === 0) throw new RangeError('Rng.pick on an empty array');
    return a[this.int(a.length)]!;
  }

  /** k distinct indices from [0, n) without replacement, in draw order. */
  sample(n: number, k: number): number[] {
    for (const [name, v] of [['n', n], ['k', k]] as const) {
      // A negative k gave n + k indices (slice from the end).
      if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`Rng.sample: ${name} must be an integer ≥ 0, got ${v}`);
    }
    if (k > n) throw new RangeError(`cannot sample ${k} of ${n} without replacement`);
    const idx = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < k; i++) { const j = i + this.int(n - i); [idx[i], idx[j]] = [idx[j]!, idx[i]!]; }
    return idx.slice(0, k);
  }

  /** Serialisable state (for checkpoints). */
  getState(): { s: number[]; spare: number | null } { return { s: Array.from(this.s), spare: this.spare }; }
  /**
   * Restores a state getState gave: four 32-bit words, not all zero (xoshiro's one fixed point: every draw 0, and
   * normal() looped for ever), and a spare that is null or a finite number.
   */
  setState(st: { s: number[]; spare: number | null }): void {
    if (st === null || typeof st !== 'object' || !Array.isArray(st.s) || st.s.length !== 4) throw new TypeError('bad Rng state: expected { s: four 32-bit words, spare }');
    if (!st.s.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32)) throw new RangeError(`bad Rng state: s must hold four integers in [0, 2^32), got ${JSON.stringify(st.s)}`);
    if (st.s.every((v) => v === 0)) throw new RangeError('bad Rng state: s is all zero, a state no seed gives (every draw would be 0)');
    if (st.spare !== null && !(typeof st.spare === 'number' && Number.isFinite(st.spare))) throw new RangeError(`bad Rng state: spare must be null or a finite number, got ${JSON.stringify(st.spare)}`);
    this.s.set(st.s); this.spare = st.spare;
  }
}

function rotl(x: number, k: number): number { return ((x << k) | (x >>> (32 - k))) >>> 0; }

/** FNV-1a hash of a string's UTF-16 code units, as an unsigned 32-bit integer (seeds from names). */
export function hashString(str: string): number {
  let h = 2166136261;
  for (let i = 0; i < str.length; i++) h = Math.imul(h ^ str.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** MurmurHash3's 32-bit finaliser: a bijection of the 32-bit integers with fmix32(0) = 0. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
