/**
 * Loading the addon: getBackend() picks it up when it is built, loadNativeBackend() returns a working backend,
 * NAMM_SIMD pins the SIMD path of new instances, and every path this CPU has can be selected.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseBackend, getBackend } from '../../src/tensor/index.js';
import { loadNativeBackend, NativeBackend } from '../../src/tensor/native.js';
import { simdPaths, skipNative } from './native-fixtures.js';

describe('native addon loading', { skip: skipNative }, () => {
  it('getBackend() chooses the native backend unless NAMM_BACKEND says otherwise', { skip: process.env.NAMM_BACKEND ? 'NAMM_BACKEND is set' : false }, () => {
    assert.equal(getBackend().name, 'native');
  });

  it('loadNativeBackend() returns a working backend on the best SIMD path', () => {
    const b = loadNativeBackend();
    assert.equal(b.name, 'native');
    assert.equal(b.simd, simdPaths().at(-1));
    const c = new Float32Array(1);
    b.matmulABt(new Float32Array([1, 2, 3]), new Float32Array([4, 5, 6]), c, 1, 3, 1);
    assert.equal(c[0], 32);
  });

  it('NAMM_SIMD pins the path of new instances, and an unknown value is refused', () => {
    const saved = process.env.NAMM_SIMD;
    try {
      process.env.NAMM_SIMD = 'scalar';
      assert.equal(new NativeBackend().simd, 'scalar');
      process.env.NAMM_SIMD = 'mmx';
      assert.throws(() => new NativeBackend(), { name: 'RangeError', message: /unknown SIMD path 'mmx'/ });
    } finally {
      if (saved === undefined) delete process.env.NAMM_SIMD;
      else process.env.NAMM_SIMD = saved;
    }
  });

  it('chooseBackend: a NAMM_SIMD that names no path, or one this CPU lacks, is an error (a typo fell back to the TypeScript backend)', () => {
    assert.throws(() => chooseBackend({ NAMM_SIMD: 'avx-2' }), /^Error: NAMM_SIMD must be "scalar", "avx2", "avx512" or "auto", got "avx-2"$/);
    assert.throws(() => chooseBackend({ NAMM_SIMD: 'avx-2', NAMM_BACKEND: 'js' }), /NAMM_SIMD must be/);
    for (const p of simdPaths()) assert.equal((chooseBackend({ NAMM_SIMD: p.toUpperCase() }) as NativeBackend).simd, p);
    assert.equal((chooseBackend({ NAMM_SIMD: 'auto' }) as NativeBackend).simd, simdPaths().at(-1));
    assert.equal((chooseBackend({}) as NativeBackend).simd, simdPaths().at(-1));
    assert.equal(chooseBackend({ NAMM_BACKEND: 'js' }).name, 'js');
    const missing = (['scalar', 'avx2', 'avx512'] as const).find((p) => !simdPaths().includes(p));
    if (missing) assert.throws(() => chooseBackend({ NAMM_SIMD: missing }), new RegExp(`NAMM_SIMD=${missing}, but this CPU runs only ${simdPaths().join(', ')}`));
  });

  it('availableSimd lists scalar first and only paths this CPU runs', () => {
    const paths = simdPaths();
    assert.equal(paths[0], 'scalar');
    for (const p of paths) assert.equal(new NativeBackend({ simd: p }).simd, p);
  });
});
