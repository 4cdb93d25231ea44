/**
 * A generated record sized for a model's whole context must reach that model whole: a prompt over the budget is cut
 * in its middle, where a needle at 50% depth sits (the runner once fed context and question tokenised apart, a token
 * or two more than the record was sized on).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recordPrompt } from '../../src/eval/runner.js';
import { loadModel } from '../../src/models/model.js';
import { generateRecord } from '../../src/tasks/registry.js';

const model = await loadModel('../shared/models/tinystories-656k');
const tok = model.tokenizer!;

test('records generated at the model\'s context length are fed without truncation, needle included', () => {
  const memo = new Map<string, number>();
  const length = model.config.maxPositions;
  for (const task of ['niah_single_1', 'niah_multikey_2', 'passkey', 'needle_in_haystack', 'vt']) {
    for (const depthPercent of task === 'vt' ? [undefined] : [45, 50, 55]) {
      for (let index = 0; index < 3; index++) {
        const r = generateRecord({ task, length, tokenizer: tok, index, memo, depthPercent });
        const p = recordPrompt(model, r);
        const what = `${task} depth ${depthPercent} index ${index}`;
        assert.ok(p.ctxIds.length + p.qIds.length + p.maxNew <= length, `${what}: fed ${p.ctxIds.length + p.qIds.length} + ${p.maxNew} new tokens > ${length}`);
        assert.equal(p.truncated, false, what);
        const seen = tok.decode([...p.ctxIds, ...p.qIds]);
        for (const answer of r.answers) assert.ok(seen.includes(answer), `${what}: ${answer} is not in the prompt the model reads`);
        // `length` stays the filled template's own token count, which fits too.
        assert.ok(r.length + r.max_new_tokens! <= length, what);
      }
    }
  }
});
