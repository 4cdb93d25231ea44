/** scripts/heldout-report.ts: the README's held-out table from hand-built `namm eval --out` folders. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SummaryRow } from '../../src/eval/summary.js';
import { tempDir } from '../helpers/temp.js';

const row = (dataset: string, policy: string, score: number, kv: number, samples = 2): SummaryRow => ({
  dataset, policy, samples, unscored: 0, truncated: 0, score, relativeToFull: null, relativeSamples: null, meanKvFraction: kv, peakKvFraction: kv,
});

function folder(perLength: Record<string, SummaryRow[]>): string {
  const out = tempDir('heldout-report-');
  for (const [L, rows] of Object.entries(perLength)) {
    mkdirSync(join(out, L));
    writeFileSync(join(out, L, 'summary.json'), JSON.stringify(rows));
    writeFileSync(join(out, L, 'results.jsonl'), JSON.stringify({ id: 'a', dataset: rows[0]!.dataset, metric: 'passkey', policy: 'full', score: 1 }) + '\n');
  }
  return out;
}

const report = (out: string, ...lengths: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'scripts/heldout-report.ts', out, ...lengths], { encoding: 'utf8' });

test('figures: mean over task × length, full-score-0 tasks left out of "vs full", KV averaged per task × length', () => {
  const out = folder({
    2048: [row('passkey', 'full', 80, 1), row('vt', 'full', 0, 1), row('passkey', 'x', 40, 0.5), row('vt', 'x', 20, 0.5)],
    4096: [row('passkey', 'full', 50, 1), row('vt', 'full', 100, 1), row('passkey', 'x', 50, 0.2), row('vt', 'x', 25, 0.2)],
  });
  try {
    const r = report(out, '2048', '4096');
    assert.equal(r.status, 0, r.stderr);
    const x = (JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { overall: { policy: string; score: number; relative: number; kv: number }[] }).overall.find((f) => f.policy === 'x')!;
    assert.equal(x.score, (40 + 20 + 50 + 25) / 4);
    assert.ok(Math.abs(x.relative - (40 / 80 + 50 / 50 + 25 / 100) / 3) < 1e-12);
    assert.ok(Math.abs(x.kv - 0.35) < 1e-12);
    assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /\| `x` \| 30\.0 \| 37\.5 \| 33\.8 \| 58\.3% \| 35\.0% \|/);
  } finally { rmSync(out, { recursive: true, force: true }); }
});

test('a partial folder is refused, not averaged over other tasks', () => {
  // x lacks vt at 4096: its "score (all)" would average 3 (task, length) pairs against the full cache's 4.
  const missingTask = folder({
    2048: [row('passkey', 'full', 80, 1), row('vt', 'full', 60, 1), row('passkey', 'x', 40, 0.5), row('vt', 'x', 20, 0.5)],
    4096: [row('passkey', 'full', 50, 1), row('vt', 'full', 100, 1), row('passkey', 'x', 50, 0.2)],
  });
  // The full cache lacks vt at 2048: x's vt would silently drop out of "vs full" as if the full cache scored 0.
  const missingFull = folder({ 2048: [row('passkey', 'full', 80, 1), row('passkey', 'x', 40, 0.5), row('vt', 'x', 20, 0.5)] });
  // x was interrupted after 1 of the full cache's 2 prompts: its score is over other prompts.
  const fewerSamples = folder({ 2048: [row('passkey', 'full', 80, 1), row('passkey', 'x', 100, 0.5, 1)] });
  try {
    for (const [out, lengths, what] of [[missingTask, ['2048', '4096'], /x has no vt row/], [missingFull, ['2048'], /vt has no full-cache row/], [fewerSamples, ['2048'], /1 samples, the full cache 2/]] as const) {
      const r = report(out, ...lengths);
      assert.notEqual(r.status, 0, `expected a refusal, got:\n${r.stdout}`);
      assert.match(r.stderr, /partial/);
      assert.match(r.stderr, what);
    }
  } finally { for (const d of [missingTask, missingFull, fewerSamples]) rmSync(d, { recursive: true, force: true }); }
});

test('a length that was not evaluated is a clear error', () => {
  const out = folder({ 2048: [row('passkey', 'full', 80, 1), row('passkey', 'x', 40, 0.5)] });
  try {
    const r = report(out, '2048', '4096');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /no merged evaluation at 4096 tokens/);
  } finally { rmSync(out, { recursive: true, force: true }); }
});
