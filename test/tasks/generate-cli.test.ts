import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { parseDepths, parseLengths, register } from '../../src/cli/tasks.js';
import { assertSized, checkRecord } from './generate-checks.js';
import { TINYSTORIES_DIR } from './generate-helpers.js';
import { tempDir } from '../helpers/temp.js';

function program(): Command {
  const p = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  register(p);
  return p;
}

test('namm tasks generate writes N records per length × depth as JSONL, sized with the model folder\'s tokenizer', async () => {
  const dir = tempDir('namm-tasks-cli-');
  try {
    const out = join(dir, 'nih.jsonl');
    await program().parseAsync(['tasks', 'generate', '--task', 'needle_in_haystack', '--length', '1k,2048', '--depth', '0,100',
      '--tokenizer', TINYSTORIES_DIR, '--n', '2', '--seed', '4', '--out', out, '--quiet', '--haystack', 'brown'], { from: 'user' });
    const records = readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.equal(records.length, 2 * 2 * 2);
    records.forEach((r, i) => {
      assertSized(r, i < 4 ? 1024 : 2048, `record ${i}`);
      checkRecord(r);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('namm tasks list prints every task; bad options are refused with a clear message', async () => {
  const lines: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((s: string) => { lines.push(s); return true; }) as typeof process.stdout.write;
  try {
    await program().parseAsync(['tasks', 'list', '--json'], { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
  const rows = JSON.parse(lines.join('')) as Array<{ name: string; metric: string }>;
  assert.ok(rows.some((r) => r.name === 'niah_multikey_3' && r.metric === 'string_match_all'));
  assert.deepEqual(parseLengths('4k,16K,1000'), [4096, 16384, 1000]);
  assert.throws(() => parseLengths('0'), /--length must be positive/);
  assert.throws(() => parseLengths('-5'), /--length must be positive/);
  assert.deepEqual(parseDepths('0, 50,100'), [0, 50, 100]);
  assert.throws(() => parseDepths('120'), /--depth must be percentages/);
  // Number() read these as 50, 10 and 0: decimal percentages only.
  for (const odd of ['0x32', '1e1', '']) assert.throws(() => parseDepths(odd), /--depth must be percentages within 0\.\.100/, odd);
  assert.deepEqual(parseDepths('12.5'), [12.5]);
  // A value given twice wrote the same records twice, with the same _id.
  assert.throws(() => parseLengths('1k,4k,1024'), /^InvalidArgumentError: --length lists 1024 tokens twice \("1k" and "1024"\), which would write the same records twice, with the same ids; give each once \(--n sets how many records each gets\)$/);
  assert.throws(() => parseDepths('50, 50.0'), /--depth lists 50% twice \("50" and "50.0"\)/);
  await assert.rejects(program().parseAsync(['tasks', 'generate', '--task', 'nope', '--length', '1k', '--tokenizer', TINYSTORIES_DIR,
    '--out', join(tmpdir(), 'never-written.jsonl')], { from: 'user' }), /unknown task "nope"/);
  await assert.rejects(program().parseAsync(['tasks', 'generate', '--task', 'vt', '--length', '1k', '--depth', '10', '--tokenizer',
    TINYSTORIES_DIR, '--out', join(tmpdir(), 'never-written.jsonl')], { from: 'user' }), /vt has no needle depth/);
  const dir = tempDir('namm-tasks-cli-');
  try {
    const out = join(dir, 'cwe.jsonl');
    await assert.rejects(program().parseAsync(['tasks', 'generate', '--task', 'cwe', '--length', '1k', '--haystack', 'noise',
      '--tokenizer', TINYSTORIES_DIR, '--out', out], { from: 'user' }), /cwe has its own haystack structure/);
    await assert.rejects(program().parseAsync(['tasks', 'generate', '--task', 'passkey', '--length', '64',
      '--tokenizer', TINYSTORIES_DIR, '--out', out, '-q'], { from: 'user' }), /passkey: a length of 64 tokens is too small/);
    assert.equal(existsSync(out), false, 'a refused request leaves no output file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
