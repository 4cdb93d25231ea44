/**
 * Loading the addon: getBackend() picks it up when it is built, loadNativeBackend() returns a working backend,
 * NAMM_SIMD pins the SIMD path of new instances, and every path this CPU has can be selected.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getBackend } from '../../src/tensor/index.js';
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

  it('availableSimd lists scalar first and only paths this CPU runs', () => {
    const paths = simdPaths();
    assert.equal(paths[0], 'scalar');
    for (const p of paths) assert.equal(new NativeBackend({ simd: p }).simd, p);
  });
});
