/** Argument checks shared by the TypeScript backend (the native addon repeats them in C++). */

export function checkCount(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
}

export function checkF32(name: string, a: unknown, need: number): asserts a is Float32Array {
  if (!(a instanceof Float32Array)) throw new TypeError(`${name} must be a Float32Array`);
  if (a.length < need) throw new RangeError(`${name} holds ${a.length} values but ${need} are needed`);
}

export function checkU16(name: string, a: unknown, need: number): asserts a is Uint16Array {
  if (!(a instanceof Uint16Array)) throw new TypeError(`${name} must be a Uint16Array`);
  if (a.length < need) throw new RangeError(`${name} holds ${a.length} values but ${need} are needed`);
}

export function checkGemm(a: Float32Array, b: Float32Array, c: Float32Array, M: number, K: number, N: number): void {
  checkCount('M', M); checkCount('K', K); checkCount('N', N);
  checkF32('a', a, M * K); checkF32('b', b, K * N); checkF32('c', c, M * N);
}
