/** Output folders: created level by level, with errors that name the path, and never a hang (Node's recursive mkdir under /proc). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeFolders } from '../../src/util/files.js';

test('makeFolders: creates missing levels, accepts an existing folder, refuses a file in the way', () => {
  const root = mkdtempSync(join(tmpdir(), 'namm-folders-'));
  try {
    const deep = join(root, 'a', 'b', 'c');
    makeFolders(deep);
    assert.ok(statSync(deep).isDirectory());
    makeFolders(deep); // already there: nothing to do
    writeFileSync(join(root, 'file'), 'x');
    assert.throws(() => makeFolders(join(root, 'file', 'sub'), 'output folder'), /cannot create the output folder .*file[/\\]sub: .*file is a file, not a folder/);
    assert.throws(() => makeFolders(join(root, 'file')), /is a file, not a folder/);
    assert.throws(() => makeFolders('  '), /an empty path/);
    assert.equal(existsSync(join(root, 'file', 'sub')), false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('makeFolders: a place where no folder can be made is a clear error, not a hang', { skip: !existsSync('/proc/self') }, () => {
  // Node 20's mkdir({ recursive: true }) loops forever here; one level at a time gives ENOENT at once.
  assert.throws(() => makeFolders('/proc/namm-no-such/out', 'output folder'), /cannot create the output folder \/proc\/namm-no-such\/out: .*ENOENT/);
});
