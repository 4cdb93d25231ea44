/** scripts/heldout-eval.sh end to end on the shipped Llama, cut down by its task and baseline overrides. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { SummaryRow } from '../../src/eval/summary.js';
import { tempDir } from '../helpers/temp.js';

const run = (out: string, n: number, ratios?: string) =>
  spawnSync('bash', ['scripts/heldout-eval.sh', 'models/namm-tiny-llama', 'models/namm-tiny-llama.namm', out, String(n), '512', 'task', '1'], {
    encoding: 'utf8', env: { ...process.env, HELDOUT_TASKS: 'passkey', HELDOUT_BASELINES: 'streaming', ...(ratios !== undefined ? { HELDOUT_RATIOS: ratios } : {}) },
  });

test('a rerun with another N generates the data again and evaluates N records (it reused the old file before)', () => {
  const out = tempDir('heldout-eval-');
  try {
    const records = () => readFileSync(join(out, 'data', 'passkey-512.jsonl'), 'utf8').split('\n').filter((l) => l.trim());
    const samples = () => (JSON.parse(readFileSync(join(out, '512', 'summary.json'), 'utf8')) as SummaryRow[]).map((r) => [r.policy, r.samples]).sort();
    let r = run(out, 1);
    assert.equal(r.status, 0, r.stderr);
    const first = records();
    assert.equal(first.length, 1);
    // The full cache, the NAMM, matched(streaming) and streaming at the four ratios, one record each.
    assert.deepEqual(samples(), [['full', 1], ['matched(streaming)', 1], ['namm:models/namm-tiny-llama.namm', 1],
      ['streaming:ratio=0.25', 1], ['streaming:ratio=0.5', 1], ['streaming:ratio=0.75', 1], ['streaming:ratio=0.875', 1]]);
    // HELDOUT_RATIOS replaces the ratios.
    r = run(out, 2, '0.5');
    assert.equal(r.status, 0, r.stderr);
    const second = records();
    assert.equal(second.length, 2);
    assert.equal(second[0], first[0], 'records are drawn by index: the first one is the same');
    assert.deepEqual(samples(), [['full', 2], ['matched(streaming)', 2], ['namm:models/namm-tiny-llama.namm', 2], ['streaming:ratio=0.5', 2]]);
    assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /matched\(streaming\)/);
  } finally { rmSync(out, { recursive: true, force: true }); }
});
