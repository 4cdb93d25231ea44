// Manual benchmark (not a test): CPU seconds of one eigendecomposition and of ask/tell at a given n.
// Usage: node --import tsx bench/cmaes.ts [n=4172] [pop=32] [--no-eigen]
import { CmaEs } from '../src/evolve/cmaes.js';
import { symmetricEigenInPlace } from '../src/evolve/eigen.js';
import { Rng } from '../src/util/rng.js';

const n = Number(process.argv[2] ?? 4172), pop = Number(process.argv[3] ?? 32);
const cpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const time = <T>(label: string, fn: () => T): T => {
  const c0 = cpu(), w0 = performance.now();
  const r = fn();
  console.log(`${label}: ${(cpu() - c0).toFixed(2)} s CPU, ${((performance.now() - w0) / 1000).toFixed(2)} s wall`);
  return r;
};

// ask/tell with B, D given (B = I), so the eigendecomposition is not part of the figure.
const cma = new CmaEs({ dim: n, popSize: pop, mode: 'fast', eigenEvery: 1_000_000, seed: 1 });
for (let i = 0; i < n; i++) cma.eigenRows[i * n + i] = 1;
cma.eigenGeneration = 0;
const rng = new Rng(2);
for (let g = 0; g < 2; g++) {
  const xs = time(`ask  n=${n} λ=${pop}`, () => cma.ask());
  const f = xs.map(() => rng.normal());
  time(`tell n=${n} λ=${pop}`, () => cma.tell(f));
}
const bytes = time('serialize', () => cma.serialize());
console.log(`state: ${(bytes.length / 1e6).toFixed(1)} MB`);

if (!process.argv.includes('--no-eigen')) {
  // The matrix CMA-ES decomposes: C after two updates (near I, clustered spectrum), symmetrised.
  const a = Float64Array.from(cma.cov);
  const values = new Float64Array(n);
  time(`eigendecomposition n=${n}`, () => symmetricEigenInPlace(a, n, values));
}
