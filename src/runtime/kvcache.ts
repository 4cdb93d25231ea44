/**
 * A KV cache with one independent, ragged store per layer and per KV head: post-RoPE keys, values and the absolute
 * position of every cached token. Any token of any head can be dropped with `retain`, which compacts in place.
 *
 * Memory: a store is a growable array. Its capacity grows geometrically (×1.5) so that appends do not reallocate at
 * every chunk, and an eviction keeps the capacity (the freed rows are reused by the tokens that follow) instead of
 * reallocating the store down and then up again at every memory-policy update, which used to cost a megabyte-sized
 * allocation and copy per head and update and the garbage collection that came with them. The memory is given back
 * to the process (the arrays are reallocated smaller) in three places:
 * - `retain`, when a store falls below a quarter of its capacity (then to twice its rows);
 * - `shrinkToFit`, which the session calls at the end of each prefill for stores holding more than twice their rows,
 *   and which anyone may call to release all slack;
 * - `clear`.
 * Keys and values are views of resizable ArrayBuffers that reserve address space for `reserveRows` rows (the model's
 * context; reserving commits no memory), so growing and shrinking a store happen in place: no copy, and the pages
 * a shrink gives up are returned to the system at once (the positions, 4 bytes a row, are a plain array, copied).
 * Past the reserve (or where a runtime cannot reserve) a store falls back to reallocating and copying.
 * The figures stay honest because they do not mix the two quantities: `bytesHeld` is the bytes allocated (capacity,
 * what the process really holds), `bytesUsed` the bytes of valid rows, and `bytesFreed` the bytes of the rows evicted
 * so far (whether their space was handed back to the process or is being reused for new tokens).
 */

import type { Backend } from '../tensor/backend.js';

/** The backend kernels a cache can use (Backend.gatherRows, Backend.compactRows); called as methods of this object. */
export type CacheKernels = Pick<Backend, 'gatherRows' | 'compactRows'>;

/**
 * The index of the first entry that breaks a keep list of a store of `len` rows (strictly ascending integer rows
 * below len), or −1 when there is none.
 */
export function keepListFault(keep: ArrayLike<number>, len: number): number {
  let prev = -1;
  for (let i = 0; i < keep.length; i++) {
    const r = keep[i]!;
    if (!Number.isInteger(r) || r <= prev || r >= len) return i;
    prev = r;
  }
  return -1;
}

/** Smallest capacity (rows) a store is given when it allocates. */
const MIN_CAPACITY = 16;
/** Capacity growth factor when an append does not fit. */
const GROWTH = 1.5;

/** Rows a store reserves address space for when its owner does not say (nothing is committed until used). */
const DEFAULT_RESERVE_ROWS = 4096;

/**
 * A buffer of `bytes` that can later be resized in place up to `maxBytes`, or a fixed one where the runtime cannot
 * reserve that much address space (or has no resizable buffers).
 */
function resizableBuffer(bytes: number, maxBytes: number): ArrayBuffer {
  let buffer: ArrayBuffer;
  try {
    buffer = new ArrayBuffer(bytes, { maxByteLength: Math.max(bytes, maxBytes) });
  } catch {
    return new ArrayBuffer(bytes);
  }
  liveBuffers++;
  collected.register(buffer, null);
  return buffer;
}

/**
 * Memory mappings. A resizable buffer is a reservation of its own: two mappings of the process once it is used (the
 * used part and the reserved rest). Linux allows a process `vm.max_map_count` of them (65,530 by default), and at
 * that limit V8 cannot map its own heap and aborts the process, which nothing can catch: with a Llama-3-8B-shaped
 * cache (32 layers × 8 KV heads × 3 buffers, as a store had then) about 40 live sessions did it. So a cache is
 * refused, with an error that says why, when the process's mappings and the cache's would pass 85% of the limit.
 */
let liveBuffers = 0;
const collected = new FinalizationRegistry<null>(() => { liveBuffers--; });
const MAPS_PER_BUFFER = 2;
let mapLimit: number | null | undefined;

/** Reads a file under /proc, or null (not Linux, not Node: the runtime itself imports no Node module). */
function readProc(path: string): string | null {
  const proc = (globalThis as { process?: { platform?: string; getBuiltinModule?: (id: string) => unknown } }).process;
  if (proc?.platform !== 'linux' || typeof proc.getBuiltinModule !== 'function') return null;
  try {
    return (proc.getBuiltinModule('node:fs') as typeof import('node:fs')).readFileSync(path, 'latin1');
  } catch {
    return null;
  }
}

function systemMapLimit(): number | null {
  const n = Number(readProc('/proc/sys/vm/max_map_count')?.trim() ?? NaN);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** The mapping limit the caches check against (the system's; a test may set a smaller one, null for the system's). */
export function setMapLimitForTesting(limit: number | null): void {
  mapLimit = limit === null ? undefined : limit;
}

/** Resizable buffers this thread made that have not been collected yet (what checkMappingRoom counts first). */
export function liveBuffersForTesting(): number {
  return liveBuffers;
}

function checkMappingRoom(buffers: number, what: string): void {
  if (mapLimit === undefined) mapLimit = systemMapLimit();
  const limit = mapLimit;
  if (limit === null) return;
  // Cheap while this thread's own buffers are far from the limit: only then are the process's mappings counted. The
  // limit is the process's and the count this thread's, so the margin leaves room for other threads doing the same
  // (evolve's workers): up to 1/32 of the limit each.
  if (MAPS_PER_BUFFER * (liveBuffers + buffers) < limit / 32) return;
  const maps = readProc('/proc/self/maps');
  if (maps === null) return;
  let used = 0;
  for (let i = maps.indexOf('\n'); i >= 0; i = maps.indexOf('\n', i + 1)) used++;
  const need = MAPS_PER_BUFFER * buffers;
  if (used + need <= 0.85 * limit) return;
  throw new RangeError(`${what} needs about ${need} more memory mappings (two for each of its ${buffers} buffers: keys and values per layer and KV head), and this process already holds ${used} of the ${limit} the system allows (vm.max_map_count); past that the process would abort. Drop the sessions and forks no longer used (each holds its own cache until it is garbage-collected), or raise vm.max_map_count`);
}

/** One (layer, KV head) store. Rows 0..len-1 are valid, oldest first. */
export class HeadStore {
  /** Length-tracking views of resizable buffers: the same objects stay valid when the store resizes in place. */
  keys!: Float32Array;
  values!: Float32Array;
  /**
   * A plain array of `capacity` entries, replaced (and its rows copied) when the capacity changes: 4 bytes a row
   * against keys' and values' 2 × 4 × headDim, it does not need a reservation of its own, which is a memory mapping
   * (two once used) of a limited number (see checkMappingRoom), and whose shrink cost a system call per store.
   */
  positions!: Int32Array;
  /**
   * The positions' bytes seen as float32 (the same buffer), so that the float32 row kernel moves them: copying bit
   * patterns leaves every int32 exactly as it was.
   */
  private positionBits!: Float32Array;
  len = 0;
  /** Rows of the latest append (KVCache.append): what the next one is likely to need room for. */
  lastAppend = 0;
  private reserveRows: number;

  constructor(readonly headDim: number, capacity: number, reserveRows = DEFAULT_RESERVE_ROWS) {
    for (const [k, v] of [['headDim', headDim], ['capacity', capacity], ['reserveRows', reserveRows]] as const) {
      if (!Number.isSafeInteger(v) || v < (k === 'headDim' ? 1 : 0)) {
        throw new RangeError(`HeadStore: ${k} must be an integer ≥ ${k === 'headDim' ? 1 : 0}, got ${v}`);
      }
    }
    this.reserveRows = Math.max(reserveRows, capacity);
    this.allocate(capacity);
  }

  private allocate(capacity: number): void {
    const d = this.headDim, r = this.reserveRows;
    let keys: Float32Array, values: Float32Array, positions: Int32Array;
    try {
      keys = new Float32Array(resizableBuffer(capacity * d * 4, r * d * 4));
      values = new Float32Array(resizableBuffer(capacity * d * 4, r * d * 4));
      positions = new Int32Array(capacity);
    } catch (err) {
      // "Array buffer allocation failed" named neither the cache nor the size asked for.
      throw new RangeError(`KV cache: cannot allocate ${capacity} rows of head size ${d} (keys and values: ${2 * capacity * d * 4} bytes): ${(err as Error).message}`, { cause: err });
    }
    this.keys = keys;
    this.values = values;
    this.setPositions(positions);
  }

  private setPositions(p: Int32Array): void {
    this.positions = p;
    this.positionBits = new Float32Array(p.buffer, p.byteOffset, p.length);
  }

  get capacity(): number { return this.positions.length; }

  /** Makes room for `extra` more rows, growing geometrically so appends stay amortised O(1). */
  reserve(extra: number): void {
    const need = this.len + extra;
    if (need <= this.capacity) return;
    this.resize(Math.max(need, Math.ceil(this.capacity * GROWTH), MIN_CAPACITY));
  }

  /**
   * Sets the capacity to exactly `capacity` rows (at least the valid rows), keeping the valid rows: in place while it
   * lies within the reserve, otherwise by reallocating (with a reserve of twice the new capacity) and copying.
   */
  resize(capacity: number): void {
    if (!Number.isInteger(capacity) || capacity < this.len) throw new RangeError(`resize to ${capacity} rows would drop some of the ${this.len} valid rows`);
    if (capacity === this.capacity) return;
    const d = this.headDim;
    const kb = this.keys.buffer as ArrayBuffer, vb = this.values.buffer as ArrayBuffer;
    if (kb.resizable && vb.resizable && capacity * d * 4 <= kb.maxByteLength) {
      kb.resize(capacity * d * 4);
      vb.resize(capacity * d * 4);
      const p = new Int32Array(capacity);
      p.set(this.positions.subarray(0, this.len));
      this.setPositions(p);
      return;
    }
    const { keys, values, positions } = this;
    this.reserveRows = Math.max(this.reserveRows, 2 * capacity);
    this.allocate(capacity);
    this.keys.set(keys.subarray(0, this.len * d));
    this.values.set(values.subarray(0, this.len * d));
    this.positions.set(positions.subarray(0, this.len));
  }

  /**
   * Moves the rows `keep` (strictly ascending indices below `len`, else a RangeError naming `where` and nothing
   * moves) to the front, in order, without allocating: with `kernels.compactRows`, one kernel call per array;
   * otherwise each run of consecutive kept rows moves with one copyWithin per array. A row only ever moves towards
   * the front, so compacting from the first run to the last never overwrites a row that is still to be moved.
   */
  compact(keep: Int32Array | readonly number[], kernels?: CacheKernels, where = 'HeadStore.compact'): void {
    const bad = keepListFault(keep, this.len);
    if (bad >= 0) throw new RangeError(`${where}: keep list must be strictly ascending row indices below ${this.len}; entry ${bad} is ${keep[bad]}`);
    const d = this.headDim, n = keep.length;
    const keys = this.keys, values = this.values, positions = this.positions;
    if (kernels?.compactRows && keep instanceof Int32Array) {
      // Kernel calls, not copyWithin: with scattered evictions the runs are short, and a copyWithin per run (a call
      // into the engine each) cost several times the bytes moved. Keys and values go in one call (two threads).
      kernels.compactRows(keys, d, keep, n, values);
      // Not a JavaScript loop: element access to views of resizable buffers runs ~2× slower than to plain arrays.
      kernels.compactRows(this.positionBits, 1, keep, n);
      this.len = n;
      return;
    }
    let i = 0;
    while (i < n && keep[i] === i) i++; // the kept prefix is already in place
    let dst = i;
    while (i < n) {
      const start = keep[i]!;
      let end = start + 1;
      for (i++; i < n && keep[i] === end; i++) end++;
      const rows = end - start;
      keys.copyWithin(dst * d, start * d, end * d);
      values.copyWithin(dst * d, start * d, end * d);
      positions.copyWithin(dst, start, end);
      dst += rows;
    }
    this.len = n;
  }

  /** Reallocates to the valid rows (at least MIN_CAPACITY) when the capacity is larger; returns the bytes released. */
  shrinkToFit(): number {
    const before = this.byteLength;
    const target = Math.max(this.len, MIN_CAPACITY);
    if (this.capacity > target) this.resize(target);
    return before - this.byteLength;
  }

  /** Bytes allocated for keys, values and positions. */
  get byteLength(): number { return this.keys.byteLength + this.values.byteLength + this.positions.byteLength; }

  /** An independent copy: the same rows, capacity and reserve. */
  clone(): HeadStore {
    const c = new HeadStore(this.headDim, this.capacity, this.reserveRows);
    const d = this.headDim;
    c.keys.set(this.keys.subarray(0, this.len * d));
    c.values.set(this.values.subarray(0, this.len * d));
    c.positions.set(this.positions.subarray(0, this.len));
    c.len = this.len;
    c.lastAppend = this.lastAppend;
    return c;
  }
}

export interface RetainResult {
  /** Rows removed from this store. */
  removed: number;
}

export class KVCache {
  /** stores[layer][kvHead] */
  readonly stores: HeadStore[][];
  /** Rows removed by retain over the cache's life (all layers and heads). */
  rowsEvicted = 0;

  /** Row indices t·nKvHeads + h of one head's rows in a chunk (reused by append). */
  private rowIndex = new Int32Array(0);

  /**
   * `reserveRows`: the rows each store reserves address space for, so that it grows and shrinks in place up to
   * there (the session passes the model's context length); more rows still fit, by reallocation.
   * `kernels`: a backend's row kernels (the session passes its backend); with them append copies each head's rows
   * of a chunk in one gatherRows call and retain compacts with compactRows; without, plain copies do the same.
   * `makeStore` (clone passes it): builds the store of (layer, head) instead of an empty one.
   */
  constructor(
    readonly nLayers: number, readonly nKvHeads: number, readonly headDim: number, initialCapacity = 0,
    reserveRows = DEFAULT_RESERVE_ROWS, private readonly kernels?: CacheKernels,
    makeStore?: (layer: number, head: number) => HeadStore,
  ) {
    for (const [k, v] of [['nLayers', nLayers], ['nKvHeads', nKvHeads], ['headDim', headDim]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`KVCache: ${k} must be an integer ≥ 1, got ${v}`);
    }
    checkMappingRoom(2 * nLayers * nKvHeads, `a KV cache of ${nLayers} layers × ${nKvHeads} KV heads`);
    this.stores = Array.from({ length: nLayers }, (_, l) => Array.from({ length: nKvHeads }, (_, h) => {
      if (!makeStore) return new HeadStore(headDim, initialCapacity, reserveRows);
      const s = makeStore(l, h);
      if (!(s instanceof HeadStore) || s.headDim !== headDim) {
        throw new TypeError(`KVCache: makeStore(${l}, ${h}) must return a HeadStore of head size ${headDim}`);
      }
      return s;
    }));
  }

  /**
   * Appends a chunk to every head of a layer. `k`, `v` are `[n, nKvHeads, headDim]` (keys already rotated);
   * `positions` holds the n absolute positions.
   */
  append(layer: number, k: Float32Array, v: Float32Array, positions: Int32Array, n: number): void {
    const d = this.headDim, H = this.nKvHeads;
    const heads = this.layerStores(layer);
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`KVCache.append: the row count must be an integer ≥ 0, got ${n}`);
    for (const [name, a, need] of [['k', k, n * H * d], ['v', v, n * H * d], ['positions', positions, n]] as const) {
      if (!(name === 'positions' ? a instanceof Int32Array : a instanceof Float32Array)) {
        throw new TypeError(`KVCache.append: ${name} must be ${name === 'positions' ? 'an Int32Array' : 'a Float32Array'}`);
      }
      if (a.length < need) throw new RangeError(`KVCache.append: ${name} holds ${a.length} values, ${need} needed for ${n} rows`);
    }
    const gather = this.kernels?.gatherRows;
    if (gather && n > 1) {
      // One kernel call per head and array: a subarray view per row (hundreds of thousands over a long prompt)
      // costs more in allocation and garbage collection than the copy itself.
      if (this.rowIndex.length < n) this.rowIndex = new Int32Array(n);
      const idx = this.rowIndex;
      for (let h = 0; h < H; h++) {
        const s = heads[h]!;
        s.reserve(n);
        for (let t = 0; t < n; t++) idx[t] = t * H + h;
        gather.call(this.kernels, k, 0, s.keys.subarray(s.len * d), 0, 1, d, idx, n);
        gather.call(this.kernels, v, 0, s.values.subarray(s.len * d), 0, 1, d, idx, n);
        s.positions.set(positions.subarray(0, n), s.len);
        s.len += n;
        s.lastAppend = n;
      }
      return;
    }
    for (let h = 0; h < H; h++) {
      const s = heads[h]!;
      s.reserve(n);
      for (let t = 0; t < n; t++) {
        const src = (t * H + h) * d, dst = (s.len + t) * d;
        s.keys.set(k.subarray(src, src + d), dst);
        s.values.set(v.subarray(src, src + d), dst);
        s.positions[s.len + t] = positions[t]!;
      }
      s.len += n;
      s.lastAppend = n;
    }
  }

  /**
   * Keeps only the rows `keep` (strictly ascending indices into the current rows) of one layer's head, compacting in
   * place with one copy per run of consecutive kept rows. The capacity is kept for the tokens that follow, unless the
   * store falls below a quarter of it: then it is reallocated to twice its rows, or to its rows and room for another
   * chunk as large as the last one when that is more (and left as it is when that is no less than its capacity: one
   * chunk filled it, and the session's end-of-prompt shrinkToFit releases it), so a store that lost most of its
   * tokens really gives the memory back while one that will refill soon does not reallocate at every update (a policy
   * keeping 16 rows of every 128-token chunk shrank each store after every chunk and grew it back at the next: two
   * resizes per store and chunk).
   */
  retain(layer: number, head: number, keep: Int32Array | readonly number[]): RetainResult {
    const s = this.store(layer, head);
    const removed = s.len - keep.length;
    s.compact(keep, this.kernels, `retain(layer ${layer}, head ${head})`);
    this.rowsEvicted += removed;
    if (s.capacity > 4 * MIN_CAPACITY && s.len < s.capacity / 4) {
      const target = Math.max(MIN_CAPACITY, 2 * s.len, s.len + s.lastAppend);
      if (target < s.capacity) s.resize(target);
    }
    return { removed };
  }

  /**
   * Gives back the slack of every store whose capacity exceeds `ratio` times its rows (default 1: any slack),
   * reallocating it to its rows. Returns the bytes released. The session calls it with ratio 2 at the end of each
   * prefill, so that after a prompt the cache holds at most about twice what it uses (geometric growth alone leaves
   * up to 1.5×) and the memory freed by evictions during the prompt is really released.
   */
  shrinkToFit(ratio = 1): number {
    // NaN did nothing and a ratio below 1 has no meaning (a store cannot hold fewer rows than it uses).
    if (typeof ratio !== 'number' || !(ratio >= 1 && ratio < Infinity)) throw new RangeError(`KVCache.shrinkToFit: ratio must be a finite number ≥ 1, got ${ratio}`);
    let released = 0;
    for (const layer of this.stores) for (const s of layer) {
      if (s.capacity > Math.max(MIN_CAPACITY, ratio * s.len)) released += s.shrinkToFit();
    }
    return released;
  }

  /** An independent copy of every store (Session.fork). */
  clone(): KVCache {
    const c = new KVCache(this.nLayers, this.nKvHeads, this.headDim, 0, 0, this.kernels, (l, h) => this.stores[l]![h]!.clone());
    c.rowsEvicted = this.rowsEvicted;
    return c;
  }

  /** Drops everything (a new sequence) and releases the memory. */
  clear(): void {
    for (const layer of this.stores) for (const s of layer) { s.len = 0; s.lastAppend = 0; s.resize(MIN_CAPACITY); }
    this.rowsEvicted = 0;
  }

  store(layer: number, head: number): HeadStore {
    const s = this.layerStores(layer)[head];
    if (!s) throw new RangeError(`KV head ${head} out of range (0..${this.nKvHeads - 1})`);
    return s;
  }

  layerStores(layer: number): HeadStore[] {
    const l = this.stores[layer];
    if (!l) throw new RangeError(`layer ${layer} out of range (0..${this.nLayers - 1})`);
    return l;
  }

  /** Rows per head of one layer. */
  lens(layer: number): Int32Array {
    return Int32Array.from(this.layerStores(layer), (s) => s.len);
  }

  /** Cached rows summed over all layers and heads. */
  totalRows(): number {
    let n = 0;
    for (const layer of this.stores) for (const s of layer) n += s.len;
    return n;
  }

  /** Bytes of keys, values and positions in use (valid rows). */
  bytesUsed(): number { return this.totalRows() * (2 * this.headDim * 4 + 4); }

  /** Bytes allocated (what the process really holds for the cache, spare capacity included). */
  bytesHeld(): number {
    let n = 0;
    for (const layer of this.stores) for (const s of layer) n += s.byteLength;
    return n;
  }

  /** Bytes of valid rows removed so far. */
  bytesFreed(): number { return this.rowsEvicted * (2 * this.headDim * 4 + 4); }
}
