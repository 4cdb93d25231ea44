/**
 * A KV cache with one independent, ragged store per layer and per KV head: post-RoPE keys, values and the absolute
 * position of every cached token. Any token of any head can be dropped with `retain`, which compacts in place and
 * gives memory back once a store is less than half full, so the bytes reported are the bytes really held.
 */

/** One (layer, KV head) store. Rows 0..len-1 are valid, oldest first. */
export class HeadStore {
  keys: Float32Array;
  values: Float32Array;
  positions: Int32Array;
  len = 0;

  constructor(readonly headDim: number, capacity: number) {
    this.keys = new Float32Array(capacity * headDim);
    this.values = new Float32Array(capacity * headDim);
    this.positions = new Int32Array(capacity);
  }

  get capacity(): number { return this.positions.length; }

  /** Makes room for `extra` more rows, growing geometrically so appends stay amortised O(1). */
  reserve(extra: number): void {
    const need = this.len + extra;
    if (need <= this.capacity) return;
    this.resize(Math.max(need, Math.ceil(this.capacity * 1.5), 16));
  }

  resize(capacity: number): void {
    const d = this.headDim;
    const keys = new Float32Array(capacity * d), values = new Float32Array(capacity * d), pos = new Int32Array(capacity);
    keys.set(this.keys.subarray(0, this.len * d));
    values.set(this.values.subarray(0, this.len * d));
    pos.set(this.positions.subarray(0, this.len));
    this.keys = keys; this.values = values; this.positions = pos;
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

  constructor(readonly nLayers: number, readonly nKvHeads: number, readonly headDim: number, initialCapacity = 0) {
    this.stores = Array.from({ length: nLayers }, () =>
      Array.from({ length: nKvHeads }, () => new HeadStore(headDim, initialCapacity)));
  }

  /**
   * Appends a chunk to every head of a layer. `k`, `v` are `[n, nKvHeads, headDim]` (keys already rotated);
   * `positions` holds the n absolute positions.
   */
  append(layer: number, k: Float32Array, v: Float32Array, positions: Int32Array, n: number): void {
    const d = this.headDim, H = this.nKvHeads;
    const heads = this.layerStores(layer);
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
    }
  }

  /**
   * Keeps only the rows `keep` (strictly ascending indices into the current rows) of one layer's head, compacting in
   * place. When the store falls below half its capacity it is reallocated, so the memory is really released.
   */
  retain(layer: number, head: number, keep: Int32Array | readonly number[]): RetainResult {
    const s = this.store(layer, head);
    const d = this.headDim;
    let prev = -1;
    for (let i = 0; i < keep.length; i++) {
      const r = keep[i]!;
      if (!Number.isInteger(r) || r <= prev || r >= s.len) {
        throw new RangeError(`retain(layer ${layer}, head ${head}): keep list must be strictly ascending row indices below ${s.len}; entry ${i} is ${r}`);
      }
      prev = r;
    }
    for (let i = 0; i < keep.length; i++) {
      const r = keep[i]!;
      if (r === i) continue;
      s.keys.copyWithin(i * d, r * d, (r + 1) * d);
      s.values.copyWithin(i * d, r * d, (r + 1) * d);
      s.positions[i] = s.positions[r]!;
    }
    const removed = s.len - keep.length;
    s.len = keep.length;
    this.rowsEvicted += removed;
    if (s.capacity > 64 && s.len < s.capacity / 2) s.resize(Math.max(64, Math.ceil(s.len * 1.25)));
    return { removed };
  }

  /** Drops everything (a new sequence) and releases the memory. */
  clear(): void {
    for (const layer of this.stores) for (const s of layer) { s.len = 0; s.resize(16); }
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

  /** Bytes allocated (what the process really holds for the cache). */
  bytesHeld(): number {
    let n = 0;
    for (const layer of this.stores) for (const s of layer) n += s.keys.byteLength + s.values.byteLength + s.positions.byteLength;
    return n;
  }

  /** Bytes of valid rows removed so far. */
  bytesFreed(): number { return this.rowsEvicted * (2 * this.headDim * 4 + 4); }
}
