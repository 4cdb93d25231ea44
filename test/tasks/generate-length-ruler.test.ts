import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateRecord } from '../../src/tasks/registry.js';
import { fillTemplate } from '../../src/tasks/generate/sizing.js';
import { assertSized, checkRecord } from './generate-checks.js';
import { tinyStoriesTokenizer } from './generate-helpers.js';

const RULER_TASKS = ['niah_single_1', 'niah_single_2', 'niah_single_3', 'niah_multikey_1', 'niah_multikey_2',
  'niah_multikey_3', 'niah_multivalue', 'niah_multiquery', 'vt', 'cwe', 'fwe'];

for (const task of RULER_TASKS) {
  test(`${task}: 1K, 4K and 16K prompts are within 2% of the target (TinyStories tokenizer) and well formed`, () => {
    const tokenizer = tinyStoriesTokenizer();
    const memo = new Map<string, number>();
    for (const length of [1024, 4096, 16384]) {
      const r = generateRecord({ task, length, tokenizer, seed: 7, index: 0, memo });
      assertSized(r, length, `${task} @${length}`);
      if (length <= 4096) assert.equal(tokenizer.encode(fillTemplate(r.prompt_template!, r)).length, r.length);
      checkRecord(r);
    }
  });
}
