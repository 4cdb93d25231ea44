/** Copies a GGUF file with its metadata and its tensors edited (for loader tests of edge cases). */
import { closeSync, openSync, readSync } from 'node:fs';
import { readGgufHeader, writeGgufContainer, type GgufMetadata } from '../../src/models/gguf.js';

export interface GgufEdit {
  meta?: (m: GgufMetadata) => void;
  /** The new divisors, or null to drop the tensor. */
  freqs?: (v: Float32Array) => Float32Array | null;
  /** Any other change to the list of tensors (applied after `freqs`). */
  tensors?: (list: GgufTensorBytes[]) => GgufTensorBytes[];
}

export interface GgufTensorBytes { name: string; dims: number[]; type: number; bytes: Uint8Array }

export function rewriteGguf(src: string, dst: string, edit: GgufEdit = {}): void {
  const fd = openSync(src, 'r');
  const header = readGgufHeader(fd, src);
  const meta: GgufMetadata = new Map(header.metadata);
  edit.meta?.(meta);
  const tensors = header.tensors.map((t) => {
    const bytes = new Uint8Array(t.end - t.begin);
    readSync(fd, bytes, 0, bytes.length, t.begin);
    return { name: t.name, dims: [...t.dims], type: t.type, bytes };
  }).flatMap((t) => {
    if (t.name !== 'rope_freqs.weight' || !edit.freqs) return [t];
    const v = edit.freqs(new Float32Array(t.bytes.slice().buffer));
    return v ? [{ ...t, dims: [v.length], bytes: new Uint8Array(v.buffer) }] : [];
  });
  closeSync(fd);
  writeGgufContainer(dst, meta, edit.tensors ? edit.tensors(tensors) : tensors);
}
