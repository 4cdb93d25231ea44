/** CmaEs refuses a misspelt option (its default was used), a full covariance too large to allocate, and tell(). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CmaEs, hansenEigenGap } from '../../src/evolve/cmaes.js';

test('CmaEs: unknown option keys, oversized full dim, tell without fitness', () => {
  assert.throws(() => new CmaEs({ dim: 4, popsize: 8 } as never), /^TypeError: CmaEs: unknown option "popsize" \(did you mean "popSize"\?\)/);
  assert.throws(() => new CmaEs({ dim: 4, sigma: 1 } as never), /CmaEs: unknown option "sigma"/);
  assert.throws(() => new CmaEs({ dim: 1e6, popSize: 2 }), /CMA-ES: dim 1000000 is too large for a full covariance matrix .*'separable'/);
  const c = new CmaEs({ dim: 4, popSize: 4 });
  c.ask();
  assert.throws(() => (c.tell as () => void)(), /^TypeError: CmaEs\.tell: fitness must be an array of 4 fitness values, got undefined$/);
  assert.throws(() => hansenEigenGap({ dim: 'x' } as never), /hansenEigenGap: p\.dim must be an integer ≥ 1, got "x"/);
});
