import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { codeIdentity, packageRoot, packageVersion } from '../../src/util/package.js';

test('the package: its root (package.json and binding.gyp), its version, and the identity of its code', () => {
  const root = packageRoot();
  assert.ok(existsSync(join(root, 'binding.gyp')));
  assert.equal(packageVersion(), JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
  assert.match(codeIdentity(), new RegExp(`^${packageVersion().replace(/\./g, '\\.')}\\+[0-9a-f]{12}$`));
  assert.equal(codeIdentity(), codeIdentity());
});
