import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, copyFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer } from '../../src/models/tokenizer.js';

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
  const dir = mkdtempSync(join(tmpdir(), 'namm-tok-'));
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
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('broken tokenizer files give errors that name the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'namm-tok-'));
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
    // An empty vocabulary encoded every prompt to its BOS alone, and generation ran on that.
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ model: { type: 'BPE', vocab: {}, merges: [] } }));
    await assert.rejects(loadTokenizer(dir), /tokenizer\.json: tokenizer\.json model has an empty "vocab"/);
    await assert.rejects(loadTokenizer(join(dir, 'missing')), /no such file or folder/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('BOS is the one the tokenizer adds, whatever a stale generation_config.json says; a tokenizer that adds none takes it from there', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'namm-tok-'));
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
