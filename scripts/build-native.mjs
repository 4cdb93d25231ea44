#!/usr/bin/env node
// Builds the native addon (binding.gyp → build/Release/namm_native.node) with node-gyp. Needs only a C++17
// compiler, make and python3: no BLAS, and no download of Node headers when this Node install ships them.
// A failed build is not fatal: namm then runs on its TypeScript backend and says so once at run time.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

// The package's own folder, wherever it is run from (`node node_modules/namm/scripts/build-native.mjs` found no
// binding.gyp in the working folder and built nothing, with status 0).
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(join(root, 'binding.gyp'))) {
  console.warn(`namm: ${root} holds no binding.gyp; nothing to build`);
  process.exit(0);
}
if (process.env.NAMM_SKIP_NATIVE === '1') {
  console.log('namm: NAMM_SKIP_NATIVE=1, not building the native addon');
  process.exit(0);
}

const nodePrefix = resolve(dirname(process.execPath), '..');

/** node-gyp, in order: the one npm runs scripts with, npm's bundled copy, a local install, then PATH. */
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(nodePrefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(nodePrefix, 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'), // Windows layout
  ];
  for (const c of candidates) if (c && existsSync(c)) return { cmd: process.execPath, pre: [c] };
  try {
    const require = createRequire(import.meta.url);
    return { cmd: process.execPath, pre: [join(dirname(require.resolve('node-gyp/package.json')), 'bin', 'node-gyp.js')] };
  } catch {
    return { cmd: 'node-gyp', pre: [], shell: true };
  }
}

const args = ['rebuild', `--jobs=${availableParallelism()}`];
// Headers: use the ones installed with this Node (no network) unless npm already chose a nodedir.
if (!process.env.npm_config_nodedir && existsSync(join(nodePrefix, 'include', 'node', 'common.gypi'))) {
  args.push(`--nodedir=${nodePrefix}`);
}
const gyp = findNodeGyp();
const r = spawnSync(gyp.cmd, [...gyp.pre, ...args], { stdio: 'inherit', shell: gyp.shell ?? false, cwd: root });
if (r.status !== 0) {
  console.warn('namm: the native addon did not build; the TypeScript backend will be used (slower).');
} else {
  console.log(`namm: native kernels built (${join(root, 'build', 'Release', 'namm_native.node')})`);
}
