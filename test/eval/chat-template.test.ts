/** `chatTemplate`: a prompt wrapped in the model's chat template after the cut, as LongBench's pred.py wraps it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NO_CHAT_DATASETS, recordPrompt, runRecord } from '../../src/eval/runner.js';
import { Model } from '../../src/models/model.js';
import { HfTokenizer } from '../../src/models/tokenizers/hf.js';
import type { TaskRecord } from '../../src/tasks/record.js';
import { getBackend } from '../../src/tensor/index.js';
import { tinyByteLevelTokenizerJson, tinyGpt2 } from '../fixtures/tiny-models.js';

const { json, vocabSize } = tinyByteLevelTokenizerJson();
const template = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}";
const withChat = new HfTokenizer({ tokenizerJson: json, tokenizerConfig: { eos_token: '<|endoftext|>', chat_template: template }, origin: 'tiny' });
const plain = new HfTokenizer({ tokenizerJson: json, tokenizerConfig: { eos_token: '<|endoftext|>' }, origin: 'tiny' });
const { config, weights } = tinyGpt2(vocabSize);
const model = (tok: HfTokenizer) => new Model({ ...config, bosTokenId: 0 }, weights, tok, getBackend());

const record = (fields: Partial<TaskRecord> = {}): TaskRecord => ({
  input: 'who?', context: 'a cat sat on a mat. '.repeat(6), answers: ['cat'], length: 0, dataset: 'hotpotqa', language: 'en',
  all_classes: null, _id: 'r0', prompt_template: 'Read: {context}\nQ: {input}\nA:', max_new_tokens: 2, ...fields,
});

test('the chat template wraps the prompt after the cut: its text before the message joins the context, after it the question', () => {
  const m = model(withChat);
  const bare = recordPrompt(m, record(), {});
  const chat = recordPrompt(m, record(), { chatTemplate: true });
  const enc = (t: string) => withChat.encode(t, { addBos: false });
  assert.deepEqual(chat.ctxIds, [...enc('[user] '), ...bare.ctxIds]);
  assert.deepEqual(chat.qIds, [...bare.qIds, ...enc('\n[assistant] ')]);
  assert.deepEqual(chat.prefill, chat.ctxIds, 'the context (with the template\'s start) is what a policy compresses');
  // A prompt cut to its budget is cut first, then wrapped (pred.py's order): the template adds to the budget.
  const cut = recordPrompt(m, record(), { maxPromptTokens: 40 });
  const cutChat = recordPrompt(m, record(), { maxPromptTokens: 40, chatTemplate: true });
  assert.ok(cut.truncated && cutChat.truncated);
  assert.deepEqual(cutChat.ctxIds.slice(enc('[user] ').length), cut.ctxIds);
  // Few-shot and code datasets are never wrapped, as in pred.py.
  for (const dataset of NO_CHAT_DATASETS) assert.deepEqual(recordPrompt(m, record({ dataset }), { chatTemplate: true }).ctxIds, recordPrompt(m, record({ dataset }), {}).ctxIds, dataset);
});

test('a template that edits the message (Llama 3\'s `| trim`) edits the prompt as it renders it, and the question is still found', () => {
  const trimming = new HfTokenizer({ tokenizerJson: json, tokenizerConfig: { eos_token: '<|endoftext|>', chat_template:
    '{% for m in messages %}[{{ m.role }}] {{ m.content | trim }}\n{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}' }, origin: 'tiny' });
  const m = model(trimming);
  const rec = record({ context: 'a cat sat on a mat.', prompt_template: 'Read: {context}\nQ: {input}\nA: ' });
  const chat = recordPrompt(m, rec, { chatTemplate: true });
  assert.equal(chat.truncated, false);
  const rendered = trimming.applyChatTemplate!([{ role: 'user', content: `Read: ${rec.context}\nQ: who?\nA: ` }]);
  assert.ok(rendered.includes('A:\n[assistant] '), 'the template trimmed the prompt\'s last space (the case this checks)');
  assert.deepEqual([...chat.ctxIds, ...chat.qIds], trimming.encode(rendered, { addBos: false }));
  assert.deepEqual(chat.qIds, trimming.encode('\nQ: who?\nA:\n[assistant] ', { addBos: false }).slice(-chat.qIds.length));
  assert.ok(chat.qIds.length >= trimming.encode('Q: who?\nA:\n[assistant] ', { addBos: false }).length, 'the question and what follows it');
});

test('chatTemplate on a model without one, or not a boolean, is refused by name', async () => {
  await assert.rejects(runRecord(model(plain), record(), null, { chatTemplate: true }), /chatTemplate: .*has no chat template \(tokenizer_config\.json's chat_template, chat_template\.jinja, or a GGUF file's tokenizer\.chat_template\)/);
  await assert.rejects(runRecord(model(withChat), record(), null, { chatTemplate: 'yes' as never }), /^TypeError: chatTemplate must be true or false, got "yes"$/);
  // It runs: the wrapped prompt is generated from.
  const short = record({ context: 'a cat sat.' });
  const p = recordPrompt(model(withChat), short, { chatTemplate: true });
  const r = await runRecord(model(withChat), short, null, { chatTemplate: true });
  assert.equal(r.promptTokens, p.ctxIds.length + p.qIds.length);
  assert.ok(r.promptTokens > recordPrompt(model(withChat), short, {}).ctxIds.length + recordPrompt(model(withChat), short, {}).qIds.length);
});

test('a tokenizer that adds BOS: the wrapped prompt starts with one BOS, whether the template writes it or not', async () => {
  const { readFileSync } = await import('node:fs');
  const { loadModelFiles } = await import('../../src/models/load.js');
  const dir = '../shared/models/tinystories-656k';
  const files = await loadModelFiles(dir);
  const base = { tokenizer: files.tokenizer };
  const tokenizerJson = JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8'));
  const tokenizerConfig = JSON.parse(readFileSync(`${dir}/tokenizer_config.json`, 'utf8'));
  const bos = base.tokenizer!.bosTokenId!;
  const rec = record({ context: 'Lily had a red ball. '.repeat(4) });
  for (const [t, writesBos] of [['{{ bos_token }}[user] {{ messages[0].content }} [assistant]', true], ['[user] {{ messages[0].content }} [assistant]', false]] as const) {
    const tok = new HfTokenizer({ tokenizerJson, tokenizerConfig: { ...tokenizerConfig, chat_template: t }, origin: dir });
    const m = new Model(files.config, files.weights, tok, getBackend());
    const p = recordPrompt(m, rec, { chatTemplate: true });
    assert.equal(p.ctxIds[0], bos, `template ${writesBos ? 'with' : 'without'} bos_token`);
    assert.notEqual(p.ctxIds[1], bos, 'one BOS, not two');
    const bare = recordPrompt(m, rec, {});
    assert.deepEqual(p.ctxIds.slice(-(bare.ctxIds.length - 1)), bare.ctxIds.slice(1), 'the context follows the template\'s start');
  }
});

test('the prompt gets BOS only where the tokenizer\'s own rule adds one, as pred.py\'s tokenizer(prompt) does', () => {
  // GPT-2's tokenizer knows a BOS token but adds none; eval put one in front of every prompt.
  const tok = new HfTokenizer({ tokenizerJson: json, tokenizerConfig: { eos_token: '<|endoftext|>', bos_token: '<|endoftext|>' }, origin: 'tiny' });
  assert.notEqual(tok.bosTokenId, null);
  const p = recordPrompt(model(tok), record({ context: 'a cat sat.' }), {});
  assert.equal(p.truncated, false);
  assert.deepEqual([...p.ctxIds, ...p.qIds], tok.encode('Read: a cat sat.\nQ: who?\nA:'));
  assert.notEqual(p.ctxIds[0], tok.bosTokenId);
});
