/**
 * A deep copy of an object graph of plain data and class instances, for Session.fork: every typed array, array,
 * Map, Set and object is copied (objects keep their prototype, so class instances stay instances), shared
 * references stay shared between the copies (an object reached twice is copied once; but two different typed-array
 * views of one buffer become two arrays of their own, each the copy of its own range, so state must not rely on
 * such views aliasing each other), and functions and the objects `shared` accepts (by default a compute backend)
 * are not copied but referenced. Property descriptors are kept, so readonly (non-writable) properties stay readonly.
 * Not for objects whose state lives outside their properties (native handles, JavaScript private `#fields`,
 * WeakMaps): those must be listed as shared.
 */
export function cloneState<T>(value: T, shared: (v: object) => boolean = isBackend): T {
  return copy(value, shared, new Map()) as T;
}

/** A compute backend (src/tensor/backend.ts): stateless kernels plus a native handle, shared by every session. */
export function isBackend(v: object): boolean {
  const b = v as { attention?: unknown; matmulABt?: unknown; softmax?: unknown };
  return typeof b.attention === 'function' && typeof b.matmulABt === 'function' && typeof b.softmax === 'function';
}

function copy(v: unknown, shared: (v: object) => boolean, memo: Map<object, unknown>): unknown {
  if (v === null || typeof v !== 'object') return v; // primitives and functions (shared)
  const seen = memo.get(v);
  if (seen !== undefined) return seen;
  if (shared(v) || v instanceof WeakMap || v instanceof WeakSet || v instanceof Promise) return v;
  if (ArrayBuffer.isView(v)) {
    const out = v instanceof DataView ? new DataView(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)) : (v as unknown as { slice(): unknown }).slice();
    memo.set(v, out);
    return out;
  }
  if (v instanceof ArrayBuffer) {
    const out = v.slice(0);
    memo.set(v, out);
    return out;
  }
  if (Array.isArray(v)) {
    const out: unknown[] = new Array(v.length);
    memo.set(v, out);
    for (let i = 0; i < v.length; i++) out[i] = copy(v[i], shared, memo);
    return out;
  }
  if (v instanceof Map) {
    const out = new Map();
    memo.set(v, out);
    for (const [k, x] of v) out.set(copy(k, shared, memo), copy(x, shared, memo));
    return out;
  }
  if (v instanceof Set) {
    const out = new Set();
    memo.set(v, out);
    for (const x of v) out.add(copy(x, shared, memo));
    return out;
  }
  const out = Object.create(Object.getPrototypeOf(v)) as object;
  memo.set(v, out);
  for (const key of Reflect.ownKeys(v)) {
    const d = Object.getOwnPropertyDescriptor(v, key)!;
    if ('value' in d) d.value = copy(d.value, shared, memo);
    Object.defineProperty(out, key, d);
  }
  return out;
}
