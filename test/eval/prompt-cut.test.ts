/**
 * The middle cut of a too-long prompt (pred.py's: halves decoded, joined, tokenised again) on text whose seam
 * tokenises longer (CJK under a byte-level tokenizer), and the question found again after it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { recordPrompt } from '../../src/eval/runner.js';
import { loadModelFiles } from '../../src/models/load.js';
import { loadModel, Model } from '../../src/models/model.js';
import { HfTokenizer } from '../../src/models/tokenizers/hf.js';
import type { TaskRecord } from '../../src/tasks/record.js';
import { getBackend } from '../../src/tensor/index.js';

const SHIPPED = 'models/namm-tiny-llama';
const record = (fields: Partial<TaskRecord>): TaskRecord => ({
  input: 'Who jumped?', context: '', answers: ['x'], length: 0, dataset: 'qa', language: 'en', all_classes: null, _id: 'r',
  metric: 'passkey', prompt_template: '{context}\n\nQuestion: {input}\nAnswer:', max_new_tokens: 4, ...fields,
});

test('a cut whose text tokenises longer is made shorter until it fits, down to the question alone', async () => {
  // Half a CJK character at the seam becomes U+FFFD, three byte-level tokens: an odd budget one less kept the same
  // halves, and the run stopped on such records.
  const model = await loadModel(SHIPPED);
  const zh = record({ context: '阅读以下文字并用中文简短回答我们今天讨论的问题是关于会议记录的总结和分析。'.repeat(30) });
  for (let window = 60; window < 100; window++) {
    const p = recordPrompt(model, zh, { contextWindow: window });
    assert.ok(p.truncated && p.ctxIds.length + p.qIds.length <= window - 4, `window ${window}`);
    assert.equal(model.tokenizer!.decode(p.qIds), '\n\nQuestion: Who jumped?\nAnswer:', `window ${window}`);
  }
  const q = recordPrompt(model, zh).qIds.length;
  assert.ok(recordPrompt(model, zh, { contextWindow: q + 4 + 3 }).truncated, 'a budget a token or two above the question still runs');
  assert.throws(() => recordPrompt(model, zh, { contextWindow: q + 4 + 1 }), new RegExp(`the question alone \\(${q} tokens\\) does not fit a ${q + 1}-token prompt budget`));
});

test('after a cut the question is found as the cut text holds it (spaces cleaned up, unknown tokens dropped)', async () => {
  // A tokenizer that cleans up " ?" to "?" on decode: the question's own tokens no longer matched the cut prompt's,
  // and all but "?\nType:" was compressed as context.
  const files = await loadModelFiles(SHIPPED);
  const tok = new HfTokenizer({
    tokenizerJson: JSON.parse(readFileSync(`${SHIPPED}/tokenizer.json`, 'utf8')),
    tokenizerConfig: { ...JSON.parse(readFileSync(`${SHIPPED}/tokenizer_config.json`, 'utf8')), clean_up_tokenization_spaces: true, chat_template: '[user] {{ messages[0].content }} [assistant]' },
    origin: SHIPPED,
  });
  const model = new Model(files.config, files.weights, tok, getBackend());
  const shots = Array.from({ length: 400 }, (_, i) => `Question: What is example ${i} ?\nType: Other entity`).join('\n');
  const trec = record({ dataset: 'trec', metric: 'classification', all_classes: ['Distance'], context: shots, input: 'How far is it to Aspen ?', prompt_template: '{context}\nQuestion: {input}\nType:' });
  for (const chatTemplate of [false, true]) {
    const p = recordPrompt(model, { ...trec, dataset: chatTemplate ? 'hotpotqa' : 'trec' }, { chatTemplate });
    assert.equal(p.truncated, true);
    assert.equal(tok.decode(p.qIds), `\nQuestion: How far is it to Aspen?\nType:${chatTemplate ? ' [assistant]' : ''}`);
    assert.ok(!tok.decode(p.ctxIds).includes('Aspen'));
  }
  // The test model's vocabulary has no byte fallback: the Chinese template text is <unk>, which the cut's decode drops.
  const tiny = await loadModel('../shared/models/tinystories-656k');
  const zh = record({ context: 'Lily had a red ball. '.repeat(300), input: 'Did Lily jump over the red ball in the park?', prompt_template: '{context}\n\n问题 Question: {input}\n回答 Answer:' });
  const whole = recordPrompt(tiny, zh, { maxPromptTokens: 100000 }), cut = recordPrompt(tiny, zh);
  assert.ok(cut.truncated && whole.qIds.length > 4);
  assert.ok(cut.qIds.length >= whole.qIds.length / 2, `${cut.qIds.length} of ${whole.qIds.length} question tokens kept apart from the context`);
  // A question mostly of unknown tokens is much shorter once cut: no context may be taken for the rest of it.
  const unknown = record({ context: 'Lily had a red ball. '.repeat(20) + 'The end.', input: "球 莉莉 don't😀  ", prompt_template: '{context}{input}' });
  for (const maxPromptTokens of [30, 40, 50]) {
    const p = recordPrompt(tiny, unknown, { maxPromptTokens });
    assert.ok(p.truncated && p.qIds.length > 0, `${maxPromptTokens}`);
    assert.doesNotMatch(tiny.tokenizer!.decode(p.qIds), /ball|end/, `budget ${maxPromptTokens}: ${JSON.stringify(tiny.tokenizer!.decode(p.qIds))}`);
  }
});
