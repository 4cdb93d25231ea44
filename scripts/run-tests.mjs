#!/usr/bin/env node
// Runs every test/**/*.test.ts file with Node's built-in test runner (TypeScript through tsx).
// Usage: node scripts/run-tests.mjs [filter-substring ...]
// Test files run in parallel processes, one per core up to 4 (NAMM_TEST_CONCURRENCY=N sets it; 1: one at a time).
import { readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
const filters = process.argv.slice(2);
const files = collect('test').filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) { console.error('no test files matched'); process.exit(1); }
const asked = process.env.NAMM_TEST_CONCURRENCY;
const concurrency = asked === undefined || asked === '' ? Math.min(4, availableParallelism()) : Number(asked);
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error(`NAMM_TEST_CONCURRENCY must be a whole number ≥ 1, got "${asked}"`);
  process.exit(2);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
