/** scripts/model-card.ts: the held-out perplexity's token count over several windows. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/temp.js';

test('held-out perplexity counts every token it read, one context token per window', () => {
  const dir = tempDir('model-card-');
  try {
    const out = join(dir, 'card.json');
    // namm-tiny-gpt2 reads windows of 2,048 tokens: 4,200 tokens are windows of 2,048, 2,048 and 104.
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/model-card.ts', '--model', 'models/namm-tiny-gpt2', '--tasks', 'passkey',
      '--lengths', '256', '--n', '1', '--ppl-tokens', '4200', '--no-plot', '--out', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const card = JSON.parse(readFileSync(out, 'utf8')) as { perplexity: { tokens: number; predicted?: number; window: number } };
    assert.equal(card.perplexity.window, 2048);
    assert.equal(card.perplexity.tokens, 4200);
    assert.equal(card.perplexity.predicted, 4200 - 3);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a misspelt task, a bad length or a repeated task is refused before the model is read, as one line', () => {
  for (const [args, shown] of [
    [['--tasks', 'passkee'], /^model-card\.ts: unknown task "passkee"; known tasks: /],
    [['--tasks', 'passkey,passkey'], /^model-card\.ts: --tasks lists passkey twice/],
    [['--lengths', '512x'], /^model-card\.ts: --lengths must be positive token counts like 4096 or 4k, got "512x"/],
    [['--ppl-tokens', 'many'], /^model-card\.ts: --ppl-tokens must be an integer ≥ 0/],
  ] as const) {
    // The model folder does not exist: the argument is what is refused, before any model is loaded.
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/model-card.ts', '--model', 'no/such/model', ...args], { encoding: 'utf8' });
    assert.equal(r.status, 1, args.join(' '));
    assert.match(r.stderr, shown);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
