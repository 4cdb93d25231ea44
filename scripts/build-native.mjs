#!/usr/bin/env node
// Builds the native addon with node-gyp when a binding exists. A failed build is not fatal: namm then runs on
// its TypeScript backend and says so once at run time.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

if (!existsSync('binding.gyp')) process.exit(0);
if (process.env.NAMM_SKIP_NATIVE === '1') { console.log('namm: NAMM_SKIP_NATIVE=1, not building the native addon'); process.exit(0); }
const require = createRequire(import.meta.url);
let gyp;
try { gyp = join(dirname(require.resolve('node-gyp/package.json', { paths: [dirname(process.execPath) + '/../lib/node_modules/npm'] })), 'bin', 'node-gyp.js'); }
catch { gyp = null; }
const args = gyp ? [gyp, 'rebuild'] : null;
const r = args ? spawnSync(process.execPath, args, { stdio: 'inherit' }) : spawnSync('node-gyp', ['rebuild'], { stdio: 'inherit', shell: true });
if (r.status !== 0) console.warn('namm: the native addon did not build; the TypeScript backend will be used (slower).');
