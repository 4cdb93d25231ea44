/**
 * snapkv's warning that its observation window fills the budget, under AdaKV (a process of its own: the warning is
 * given once per process, and test/api-audit.test.ts checks the per-head one).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePolicySpec } from '../../src/index.js';
import { loadModel } from '../../src/models/model.js';
import { collectWarnings } from '../helpers/warnings.js';

test('under adakv(snapkv) the warning names the pooled budget, not one head\'s share of it', async () => {
  const model = await loadModel('models/namm-tiny-llama');
  const warnings = collectWarnings('NAMM_SNAPKV_WINDOW_FILLS_BUDGET');
  try {
    const ids = model.tokenizer!.encode('Lily played with a red ball in the park. '.repeat(12));
    model.createSessionWith(parsePolicySpec('adakv(snapkv):ratio=0.25,window=16')).prefill(ids);
    assert.equal((await warnings.seen()).length, 0);
    const heads = model.config.nKvHeads, kept = heads * Math.floor(ids.length * (1 - 0.9));
    model.createSessionWith(parsePolicySpec('adakv(snapkv):ratio=0.9')).prefill(ids);
    const seen = await warnings.seen();
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.message.split(', which')[0],
      `snapkv: layer 0 keeps ${kept} rows over its ${heads} KV heads (pooled by AdaKV), no more than the ${heads * 64} rows of their observation windows`);
  } finally {
    warnings.stop();
  }
});
