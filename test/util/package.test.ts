import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { codeIdentity, packageRoot, packageVersion } from '../../src/util/package.js';

test('the package: its root (package.json and binding.gyp), its version, and the identity of its code', () => {
  const root = packageRoot();
  assert.ok(existsSync(join(root, 'binding.gyp')));
  assert.equal(packageVersion(), JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
  assert.match(codeIdentity(), new RegExp(`^${packageVersion().replace(/\./g, '\\.')}\\+[0-9a-f]{12}$`));
  assert.equal(codeIdentity(), codeIdentity());
});

test('the tarball holds what the README, the model cards and the CLI point to, and the package exports its files', async () => {
  const root = packageRoot();
  const { execFileSync } = await import('node:child_process');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const packed = JSON.parse(execFileSync(npm, ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { files: { path: string }[] }[];
  const files = new Set(packed[0]!.files.map((f) => f.path));
  // configs/ and docs/ were left out: `namm evolve --config configs/evolve-tiny-llama.json` (the shipped policy's
  // card), `namm train --help`'s "see configs/" and the README's figure pointed at nothing in an installed copy.
  for (const f of ['configs/evolve-tiny-llama.json', 'configs/namm-tiny-llama.json', 'docs/heldout-score-vs-kv.svg', 'models/namm-tiny-llama.namm',
    'models/namm-tiny-llama/model.safetensors', 'binding.gyp', 'scripts/build-native.mjs', 'dist/src/index.js', 'dist/src/index.d.ts']) {
    assert.ok(files.has(f), `${f} is not in the tarball`);
  }
  assert.ok(![...files].some((f) => f.startsWith('test/') || f.startsWith('src/') || f.startsWith('runs/') || f.endsWith('.map')), 'no tests, sources, runs or maps');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
  // Library code finds the shipped models through the package, not through a path relative to its working folder.
  for (const sub of ['./package.json', './models/*', './configs/*']) assert.ok(sub in pkg.exports, `exports lacks ${sub}`);
});

test('the built declarations name no generic typed array (Float64Array<ArrayBuffer>), which TypeScript before 5.7 cannot read', (t) => {
  const dist = join(packageRoot(), 'dist', 'src');
  if (!existsSync(dist)) return t.skip('dist/ not built (npm ci builds it)');
  const bad: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.d.ts') && /\b(?:Float32|Float64|Int8|Int16|Int32|Uint8|Uint8Clamped|Uint16|Uint32|BigInt64|BigUint64)Array</.test(readFileSync(p, 'utf8'))) bad.push(p);
    }
  };
  walk(dist);
  assert.deepEqual(bad, []);
});
