import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, copyFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer } from '../../src/models/tokenizer.js';
import { strftimeEnglish } from '../../src/models/tokenizers/chat.js';
import { tempDir } from '../helpers/temp.js';

const MODEL = '../shared/models/tinystories-656k';
/** Golden ids and text from the model's SOURCE.md. */
const GOLDEN_IDS = [147, 201, 282, 215, 286, 598, 1662, 356, 499, 826, 1363, 1145, 1652, 615, 242, 1482, 951, 628, 499, 826, 872, 921, 318, 385];
const GOLDEN_TEXT = 'Once upon a time, there was a little girl named Lily. She had a toy car that she loved very much. One day, she went to the park to play with her toy car in the park. Lily was very happy ';

test('tinystories tokenizer.json: golden ids decode to the SOURCE.md text', async () => {
  const tok = await loadTokenizer(MODEL);
  assert.equal(tok.decode([1, ...GOLDEN_IDS]), GOLDEN_TEXT);
  assert.equal(tok.decode(GOLDEN_IDS), GOLDEN_TEXT);
  assert.equal(tok.decode([1, 147], { skipSpecial: false }), '<|start_story|>On');
  // An empty list (a generation that emits EOS first) decodes to '', where the library itself throws.
  assert.equal(tok.decode([]), '');
  assert.equal(tok.decode([1]), '');
});

test('tinystories tokenizer.json: encodes like the Rust tokenizers library (ids hand-checked against the vocab)', async () => {
  const tok = await loadTokenizer(join(MODEL, 'tokenizer.json'));
  assert.equal(tok.vocabSize, 2048);
  assert.equal(tok.bosTokenId, 1);
  assert.deepEqual(tok.eosTokenIds, [2]);
  // vocab: 80 "▁", 147 "On", 201 "ce▁", 282 "upon▁a▁tim", 215 "e,▁", 286 "there▁was▁a▁", 598 "little▁girl▁named▁",
  // 629 "Lily", 10 "." (no pre-tokenizer, so merges span words).
  const text = 'Once upon a time, there was a little girl named Lily.';
  assert.deepEqual(tok.encode(text), [1, 80, 147, 201, 282, 215, 286, 598, 629, 10]);
  assert.deepEqual(tok.encode(text, { addBos: false }), [80, 147, 201, 282, 215, 286, 598, 629, 10]);
  assert.deepEqual(tok.encode('One day, Tom and his dog went to the big park. They played ball!'),
    [1, 80, 299, 875, 231, 401, 588, 202, 455, 896, 416, 4]);
  const quoted = '"Can I have a cookie?" asked Mia.  She smiled.\nThe end.';
  const ids = tok.encode(quoted);
  assert.deepEqual(ids, [1, 80, 5, 1153, 912, 1559, 57, 1885, 1882, 877, 84, 80, 892, 1069, 446, 183, 10]);
  assert.equal(tok.decode(ids), quoted);
  // é and 😀 have no token and no <0x..> byte tokens exist, so they become <unk> (0).
  assert.deepEqual(tok.encode('héllo 😀 world'), [1, 141, 0, 113, 139, 0, 80, 410, 555]);
  assert.deepEqual(tok.encode(''), [1]);
  assert.equal(tok.applyChatTemplate, undefined, 'no chat_template in this folder');
});

test('chat template from tokenizer_config.json renders through jinja', async () => {
  const dir = tempDir('namm-tok-');
  try {
    copyFileSync(join(MODEL, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({
      bos_token: '<|start_story|>', eos_token: { content: '<|end_story|>' },
      chat_template: "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}",
    }));
    const tok = await loadTokenizer(dir);
    assert.equal(tok.bosTokenId, 1);
    assert.deepEqual(tok.eosTokenIds, [2]);
    const out = tok.applyChatTemplate!([{ role: 'user', content: 'hi' }]);
    assert.equal(out, '<|start_story|>[user] hi<|end_story|>[assistant] ');
    assert.equal(tok.applyChatTemplate!([{ role: 'user', content: 'hi' }], { addGenerationPrompt: false }), '<|start_story|>[user] hi<|end_story|>');
    // Options and messages are checked; a misspelt option is named, not ignored.
    assert.throws(() => tok.applyChatTemplate!([{ role: 'user', content: 'hi' }], { add_generation_prompt: false } as never), /applyChatTemplate: unknown option "add_generation_prompt"/);
    assert.throws(() => tok.applyChatTemplate!([{ role: 'user', content: 'hi' }], { addGenerationPrompt: 'no' as never }), /addGenerationPrompt must be true or false, got "no"/);
    assert.throws(() => tok.applyChatTemplate!('hi' as never), /applyChatTemplate: messages must be an array of \{ role, content \}, got "hi"/);
    assert.throws(() => tok.applyChatTemplate!([{ content: 'hi' }] as never), /messages\[0\] must be an object with a string role/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('chat templates as transformers loads them: chat_template.jinja, special_tokens_map.json, named lists, tools and dates', async () => {
  const dir = tempDir('namm-tok-');
  const withConfig = async (config: object, files: Record<string, string> = {}) => {
    for (const f of ['tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja']) rmSync(join(dir, f), { force: true });
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
    return loadTokenizer(dir);
  };
  const hi = [{ role: 'user', content: 'hi' }];
  try {
    copyFileSync(join(MODEL, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    // The template in chat_template.jinja (where recent transformers saves it), over tokenizer_config.json's; the
    // special tokens tokenizer_config.json does not name come from special_tokens_map.json.
    const jinja = await withConfig({ chat_template: 'old' }, {
      'chat_template.jinja': '{{ bos_token }}|{{ eos_token }}|{{ sep_token }}|{% for m in messages %}{{ m.content }}{% endfor %}',
      'special_tokens_map.json': JSON.stringify({ bos_token: '<|start_story|>', eos_token: { content: '<|end_story|>' }, sep_token: '<s>' }),
    });
    assert.equal(jinja.applyChatTemplate!(hi), '<|start_story|>|<|end_story|>|<s>|hi');
    assert.equal(jinja.bosTokenId, 1);
    // A template @huggingface/jinja cannot parse ({% with %}, valid Jinja) fails the chat call, not the model's load.
    const unparsable = await withConfig({ chat_template: '{% with x = 1 %}{{ x }}{% endwith %}' });
    assert.deepEqual(unparsable.encode('hi'), jinja.encode('hi'));
    assert.throws(() => unparsable.applyChatTemplate!(hi), /tokenizer\.json: chat_template does not parse \(Unknown statement type: with\)/);
    // A list of named templates: the one named "default"; without one, the call asks which (transformers raises too).
    const named = await withConfig({ chat_template: [{ name: 'rag', template: 'RAG' }, { name: 'default', template: 'DEFAULT' }] });
    assert.equal(named.applyChatTemplate!(hi), 'DEFAULT');
    const noDefault = await withConfig({ chat_template: [{ name: 'tool_use', template: 'TOOL' }, { name: 'rag', template: 'RAG' }] });
    assert.throws(() => noDefault.applyChatTemplate!(hi), /chat_template lists several templates \(tool_use, rag\) and none named "default"/);
    const malformed = await withConfig({ chat_template: [{ name: 'default', template: 5 }] });
    assert.throws(() => malformed.applyChatTemplate!(hi), /chat_template\[0\] must be a \{name, template\} pair of strings/);
    // tools and documents are passed as transformers passes them (None when not given), and given ones reach the
    // template, as do further variables; a refusal names the tokenizer.
    const tools = await withConfig({
      chat_template: '{% if tools is not none %}[{{ tools | length }} tools]{% endif %}{% if documents is defined %}[docs defined]{% endif %}{{ today }}{% if messages | length > 1 %}{{ raise_exception("one message only") }}{% endif %}',
    });
    assert.equal(tools.applyChatTemplate!(hi), '[docs defined]');
    assert.equal(tools.applyChatTemplate!(hi, { tools: [{ name: 'f' }], variables: { today: '2 Dec' } }), '[1 tools][docs defined]2 Dec');
    assert.throws(() => tools.applyChatTemplate!([...hi, ...hi]), /tokenizer\.json: chat template: one message only$/);
    // strftime_now in English whatever the locale (Python's), as Llama 3.2's date line uses it.
    const date = await withConfig({ chat_template: "{{ strftime_now('%d %b %Y') }}" });
    assert.equal(date.applyChatTemplate!(hi), strftimeEnglish(new Date(), '%d %b %Y'));
    assert.equal(strftimeEnglish(new Date(2026, 11, 2, 15, 4, 5), '%d %b %Y, %A %I:%M:%S %p, day %j, %B %y %% %Q'), '02 Dec 2026, Wednesday 03:04:05 PM, day 336, December 26 % %Q');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('broken tokenizer files give errors that name the file', async () => {
  const dir = tempDir('namm-tok-');
  try {
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": ');
    await assert.rejects(loadTokenizer(dir), /tokenizer\.json: not valid JSON/);
    writeFileSync(join(dir, 'tokenizer.json'), '{"version": "1.0"}');
    await assert.rejects(loadTokenizer(dir), /tokenizer\.json: tokenizer\.json has no "model"/);
    // Ids that are no ids are refused (they were dropped silently); one past the vocabulary decodes to nothing, as in HF.
    const tok = await loadTokenizer(MODEL);
    assert.throws(() => tok.decode([100, -1, 101]), /decode: ids\[1\] is -1, not a token id/);
    assert.throws(() => tok.decode([100, 2.5]), /ids\[1\] is 2\.5/);
    // eslint-disable-next-line no-sparse-arrays
    assert.throws(() => tok.decode([100, , 101] as number[]), /ids\[1\] is undefined/);
    assert.equal(tok.decode([100, tok.vocabSize, 101]), tok.decode([100, 101]));
    // Special tokens kept too (this tokenizer's <unk> is special, so the default hid the library's "<unk>" for it).
    assert.equal(tok.decode([100, tok.vocabSize, 101], { skipSpecial: false }), tok.decode([100, 101], { skipSpecial: false }));
    // An empty vocabulary encoded every prompt to its BOS alone, and generation ran on that.
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ model: { type: 'BPE', vocab: {}, merges: [] } }));
    await assert.rejects(loadTokenizer(dir), /tokenizer\.json: tokenizer\.json model has an empty "vocab"/);
    await assert.rejects(loadTokenizer(join(dir, 'missing')), /no such file or folder/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('BOS is the one the tokenizer adds, whatever a stale generation_config.json says; a tokenizer that adds none takes it from there', async () => {
  const dir = tempDir('namm-tok-');
  try {
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(MODEL, f), join(dir, f));
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 5, eos_token_id: 2 }));
    const tok = await loadTokenizer(dir);
    assert.equal(tok.bosTokenId, 1);
    assert.deepEqual(tok.encode('Hi', { addBos: true }), tok.encode('Hi'));
    assert.equal(tok.encode('Hi')[0], 1);
    // Without a post-processor that adds it and without a bos_token, generation_config's id is the BOS.
    const json = JSON.parse(readFileSync(join(MODEL, 'tokenizer.json'), 'utf8'));
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ ...json, post_processor: null }));
    const config = JSON.parse(readFileSync(join(MODEL, 'tokenizer_config.json'), 'utf8'));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...config, bos_token: null }));
    const bare = await loadTokenizer(dir);
    assert.equal(bare.bosTokenId, 5);
    assert.equal(bare.encode('Hi', { addBos: true })[0], 5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
