import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateRecord } from '../../src/tasks/registry.js';
import { checkRecord } from './generate-checks.js';
import { tinyStoriesTokenizer } from './generate-helpers.js';

// At 512 tokens some word draws (14 of the first 80 with seed 1, these three among them) tokenise so long that 10
// common words × 4 (the least repetition) no longer leave room for the 120 new tokens once the prompt is fitted as
// the evaluation feeds it; fewer repetitions must be used then, rather than refusing a length that other draws of
// the same task reach.
test('cwe at the test model\'s whole context (512 tokens): draws with long-tokenising words are still made', () => {
  const tokenizer = tinyStoriesTokenizer();
  for (const index of [5, 6, 9]) {
    const r = generateRecord({ task: 'cwe', length: 512, tokenizer, seed: 1, index });
    assert.ok(r.length + r.max_new_tokens! <= 512);
    checkRecord(r);
  }
});

test('niah_multikey_2/3 (RULER\'s needle haystack) hold at least one distractor needle, or the length is refused', () => {
  // Before, a length with no room for a distractor line gave the needle alone, padded with noise and at the top
  // whatever depth_percent said: niah_single with another kind of key.
  const tokenizer = tinyStoriesTokenizer();
  assert.throws(() => generateRecord({ task: 'niah_multikey_3', length: 384, tokenizer, seed: 0, index: 0 }), /niah_multikey_3: a length of 384 tokens is too small/);
  for (const [task, marker] of [['niah_multikey_2', /special magic number for /g], ['niah_multikey_3', /special magic uuid for /g]] as const) {
    for (let index = 0; index < 4; index++) {
      const r = generateRecord({ task, length: 512, tokenizer, seed: 0, index });
      assert.ok((r.context.match(marker) ?? []).length >= 2, `${task} #${index}: a needle and a distractor`);
    }
  }
});

test('kv_retrieval at the test model\'s whole context (512 tokens): every draw is made, ending below a pair count when it must', () => {
  // The object's layouts could not make up the distance to the next key-value pair, and most draws failed with
  // "cannot reach 512 tokens" (-n 3 wrote no file at all).
  const tokenizer = tinyStoriesTokenizer();
  for (let index = 0; index < 6; index++) {
    const r = generateRecord({ task: 'kv_retrieval', length: 512, tokenizer, seed: 0, index });
    assert.ok(r.length + r.max_new_tokens! <= 512 && r.length + r.max_new_tokens! > 400, `#${index}: ${r.length} prompt tokens`);
    checkRecord(r);
  }
});

test('a length too short for the prompt is named as asked, with what it needs, and that length is enough', () => {
  const tokenizer = tinyStoriesTokenizer();
  let needed = 0;
  assert.throws(() => generateRecord({ task: 'niah_single_1', length: 240, tokenizer, seed: 0, index: 0 }), (err: Error & { needed?: number }) => {
    needed = err.needed ?? 0;
    return /^niah_single_1: a length of 240 tokens is too small: .*\(need at least (\d+)\)$/.test(err.message) && err.message.endsWith(`need at least ${needed})`) && needed > 240;
  });
  assert.throws(() => generateRecord({ task: 'niah_single_1', length: needed - 1, tokenizer, seed: 0, index: 0 }), /is too small/);
  assert.ok(generateRecord({ task: 'niah_single_1', length: needed, tokenizer, seed: 0, index: 0 }).length > 0, `${needed} tokens are enough`);
});

test('a length that holds no uncommon cwe word, or no kv_retrieval pair but the asked one, is refused as too small', () => {
  // Such records were made: a cwe list of the ten answers only, a JSON object of the asked pair alone.
  const tokenizer = tinyStoriesTokenizer();
  assert.throws(() => generateRecord({ task: 'cwe', length: 350, tokenizer, seed: 0, index: 0 }), /^LengthTooSmallError: cwe: a length of 350 tokens is too small: it holds the 10 common words and no uncommon one \(need at least \d+\)$/);
  const cwe = generateRecord({ task: 'cwe', length: 360, tokenizer, seed: 0, index: 0 });
  assert.ok(cwe.context.split(/\d+\. /).filter(Boolean).some((w) => !cwe.answers.includes(w.trim())), 'an uncommon word is listed');
  assert.throws(() => generateRecord({ task: 'kv_retrieval', length: 240, tokenizer, seed: 0, index: 0 }), /kv_retrieval: a length of 240 tokens is too small: it holds the asked key-value pair and no other/);
  assert.ok((generateRecord({ task: 'kv_retrieval', length: 300, tokenizer, seed: 0, index: 0 }).context.match(/": "/g) ?? []).length >= 2);
});
