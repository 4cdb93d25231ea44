import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateRecord } from '../../src/tasks/registry.js';
import { checkRecord } from './generate-checks.js';
import { tinyStoriesTokenizer } from './generate-helpers.js';

// At 512 tokens a few word draws tokenise so long that 10 common words × 4 (the least repetition) no longer leave
// room for the 120 new tokens once the prompt is fitted as the evaluation feeds it; fewer repetitions must be used
// then, rather than refusing a length that other draws of the same task reach.
test('cwe at the test model\'s whole context (512 tokens): draws with long-tokenising words are still made', () => {
  const tokenizer = tinyStoriesTokenizer();
  for (const index of [28, 36, 47]) {
    const r = generateRecord({ task: 'cwe', length: 512, tokenizer, seed: 1, index });
    assert.ok(r.length + r.max_new_tokens! <= 512);
    checkRecord(r);
  }
});
