import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateRecord } from '../../src/tasks/registry.js';
import { checkRecord } from './generate-checks.js';
import { tinyStoriesTokenizer } from './generate-helpers.js';

// 512 tokens is the TinyStories model's whole context. A kv_retrieval prompt that short holds only 3-4 UUID pairs
// (~90 tokens each with this vocabulary), and no layout of so few pairs closes the gap to the 1% band; the record
// must then end below the band (as README documents for kv_retrieval), not fail.
test('kv_retrieval at the test model\'s whole context (512 tokens): every record is made, fits and answers right', () => {
  const tokenizer = tinyStoriesTokenizer();
  const memo = new Map<string, number>();
  for (let index = 0; index < 12; index++) {
    const r = generateRecord({ task: 'kv_retrieval', length: 512, tokenizer, seed: 1, index, memo });
    assert.ok(r.length + r.max_new_tokens! <= 512, `index ${index}: ${r.length} + ${r.max_new_tokens} exceeds 512`);
    checkRecord(r);
  }
});

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
