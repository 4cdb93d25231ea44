import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadModelFiles } from '../../src/models/load.js';
import { loadTokenizer } from '../../src/models/tokenizer.js';
import { convertRopeLayout, permuteRopeRows, writeGguf } from '../../src/models/gguf.js';
import { encodeLlama2cCheckpoint, encodeLlama2cTokenizer, loadLlama2cTokenizer } from '../../src/models/llama2c.js';
import { SpmTokenizer } from '../../src/models/tokenizers/spm.js';
import { tempDir } from '../helpers/temp.js';

const MODEL = '../shared/models/tinystories-656k';
const ESSAYS = '../shared/data/pg-essays';

function withDir(fn: (dir: string) => void | Promise<void>) {
  return async () => {
    const dir = tempDir('namm-l2c-');
    try { await fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
  };
}

/**
 * The tinystories model as a llama2.c checkpoint + tokenizer.bin: weights in the interleaved layout, vocabulary
 * from the GGUF conversion with '▁' spelled as a space, as Karpathy's tokenizer export does.
 */
async function writeTinystoriesLlama2c(dir: string, shared = true) {
  const src = await loadModelFiles(MODEL);
  const weights = convertRopeLayout(src.config, src.weights, 'interleaved');
  const config = { ...src.config, ropeLayout: 'interleaved' as const, tieEmbeddings: shared };
  if (!shared) {
    const head = weights.get('lm_head.weight')!;
    weights.set('lm_head.weight', { shape: head.shape, data: head.data.map((x) => -x) });
  }
  writeFileSync(join(dir, 'model.bin'), encodeLlama2cCheckpoint(config, weights));
  writeGguf(join(dir, 'vocab.gguf'), src.config, src.weights, src.tokenizer);
  const spm = (await loadTokenizer(join(dir, 'vocab.gguf'))) as SpmTokenizer;
  writeFileSync(join(dir, 'tokenizer.bin'), encodeLlama2cTokenizer(spm.vocab.tokens.map((t) => t.replaceAll('▁', ' ')), spm.vocab.scores));
  return { src, weights };
}

test('llama2.c checkpoint: header, weights in file order, shared classifier, tokenizer.bin beside it', withDir(async (dir) => {
  const { src } = await writeTinystoriesLlama2c(dir);
  const m = await loadModelFiles(join(dir, 'model.bin'));
  assert.equal(m.format, 'llama2c');
  assert.equal(m.config.ropeLayout, 'interleaved');
  assert.equal(m.config.nKvHeads, 4);
  assert.equal(m.config.tieEmbeddings, true);
  assert.equal(m.weights.get('lm_head.weight'), m.weights.get('model.embed_tokens.weight'));
  for (const [name, t] of src.weights) {
    const qk = /self_attn\.(q|k)_proj/.exec(name);
    const expected = qk ? permuteRopeRows(t, qk[1] === 'q' ? 8 : 4) : t;
    assert.deepEqual(m.weights.get(name)!.data, expected.data, name);
  }
  // The header as Karpathy's export writes it: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab, seq_len.
  const head = readFileSync(join(dir, 'model.bin'));
  assert.deepEqual(Array.from({ length: 7 }, (_, i) => head.readInt32LE(4 * i)), [128, 384, 2, 8, 4, 2048, 512]);
  // The tokenizer, space-spelled, encodes like tokenizer.json on text without unknown characters.
  const tok = m.tokenizer!;
  for (const f of readdirSync(ESSAYS).sort().slice(0, 3)) {
    const text = readFileSync(join(ESSAYS, f), 'utf8').slice(0, 4000).replace(/[^\x20-\x7e\n]/g, ' ');
    assert.deepEqual(tok.encode(text), src.tokenizer!.encode(text), f);
    assert.equal(tok.decode(tok.encode(text)), src.tokenizer!.decode(src.tokenizer!.encode(text)));
  }
}));

test('llama2.c checkpoint with a separate classifier (negative vocab_size)', withDir(async (dir) => {
  const { weights } = await writeTinystoriesLlama2c(dir, false);
  const head = readFileSync(join(dir, 'model.bin'));
  assert.equal(head.readInt32LE(20), -2048);
  const m = await loadModelFiles(join(dir, 'model.bin'), { tokenizerPath: join(dir, 'tokenizer.bin') });
  assert.equal(m.config.tieEmbeddings, false);
  assert.deepEqual(m.weights.get('lm_head.weight')!.data, weights.get('lm_head.weight')!.data);
  assert.notDeepEqual(m.weights.get('lm_head.weight')!.data, m.weights.get('model.embed_tokens.weight')!.data);
}));

test('SentencePiece-style merging by best score, traced by hand', () => {
  const tokens = ['<unk>', '<s>', '</s>', ' ', 'a', 'b', 'c', 'ab', 'bc', 'abc', ' a', '<0xC3>', '<0xA9>'];
  const scores = [0, 0, 0, -5, -5, -5, -5, -1, -0.5, -0.1, -2, 0, 0];
  const tok = new SpmTokenizer({ tokens, scores, bosTokenId: 1, eosTokenIds: [2], unkTokenId: 0, spaceSymbol: ' ', addSpacePrefix: true, addBosByDefault: true, origin: 't' });
  // " abc": pairs " a"(-2) ab(-1) bc(-0.5) → bc; then " a"(-2) abc(-0.1) → abc; " abc" is not a token.
  assert.deepEqual(tok.encode('abc'), [1, 3, 9]);
  // " cab": only ab(-1) exists → " ", c, ab.
  assert.deepEqual(tok.encode('cab', { addBos: false }), [3, 6, 7]);
  // " ab": " a"(-2) vs ab(-1) → ab wins although " a" is leftmost.
  assert.deepEqual(tok.encode('ab', { addBos: false }), [3, 7]);
  // é is not a token: its UTF-8 bytes C3 A9 become byte tokens; ü (C3 BC) has no <0xBC>, so the whole character is
  // one <unk> (as HF's byte fallback does when a byte token is missing), and so is each character without bytes.
  assert.deepEqual(tok.encode('é', { addBos: false }), [3, 11, 12]);
  assert.deepEqual(tok.encode('ü', { addBos: false }), [3, 0]);
  assert.deepEqual(tok.encode('日本', { addBos: false }), [3, 0, 0]);
  // Special tokens in text, the unknown token's own text among them; the text after one is space-prefixed again.
  assert.deepEqual(tok.encode('ab</s>ab', { addBos: false }), [3, 7, 2, 3, 7]);
  assert.deepEqual(tok.encode('<unk>', { addBos: false }), [0]);
  assert.equal(tok.decode([1, 3, 9, 3, 11, 12]), 'abc é');
  assert.equal(tok.decode([1, 3, 9], { skipSpecial: false }), '<s> abc');
  // An id past the vocabulary (a model whose embedding is padded past it) decodes to nothing, as in HfTokenizer; it
  // threw, ending a generation that sampled one. Ids that are no ids are refused.
  assert.equal(tok.decode([1, 3, 9, 13, 2000, 3, 11, 12]), 'abc é');
  for (const bad of [-1, 2.5, Number.NaN]) assert.throws(() => tok.decode([3, bad]), new RegExp(`^RangeError: decode: ${String(bad).replace('.', '\\.')} is not a token id \\(an integer ≥ 0\\)$`));
});

/** run.c's encoder, transcribed plainly: O(n²) best-pair search over the whole id list. */
function naiveEncode(tokens: string[], scores: ArrayLike<number>, text: string): number[] {
  const index = new Map<string, number>();
  tokens.forEach((t, i) => { if (!index.has(t)) index.set(t, i); });
  const ids: number[] = [];
  for (const ch of ' ' + text) ids.push(index.get(ch) ?? 0);
  for (;;) {
    let best = -Infinity, at = -1, id = -1;
    for (let i = 0; i + 1 < ids.length; i++) {
      const m = index.get(tokens[ids[i]!]! + tokens[ids[i + 1]!]!);
      if (m !== undefined && scores[m]! > best) { best = scores[m]!; at = i; id = m; }
    }
    if (at < 0) return ids;
    ids.splice(at, 2, id);
  }
}

test('the heap-based merge loop gives exactly what run.c\'s O(n²) loop gives', withDir(async (dir) => {
  await writeTinystoriesLlama2c(dir);
  const tok = await loadLlama2cTokenizer(join(dir, 'tokenizer.bin'), 2048);
  const texts = ['Once upon a time, there was a little girl named Lily.', 'aaaa aaaa bbbb', 'the the the the'];
  for (const f of readdirSync(ESSAYS).sort().slice(3, 6)) texts.push(readFileSync(join(ESSAYS, f), 'utf8').slice(0, 1500).replace(/[^\x20-\x7e]/g, ' '));
  for (const t of texts) assert.deepEqual(tok.encode(t, { addBos: false }), naiveEncode(tok.vocab.tokens, tok.vocab.scores, t), t.slice(0, 30));
}));

test('malformed llama2.c files end in clear errors naming the file', withDir(async (dir) => {
  const p = join(dir, 'bad.bin');
  const header = (...f: number[]) => { const b = Buffer.alloc(28); f.forEach((x, i) => b.writeInt32LE(x, 4 * i)); return b; };
  const cases: [string, Buffer, RegExp][] = [
    ['short', Buffer.alloc(10), /too short for a llama2\.c checkpoint/],
    ['zero dim', header(0, 8, 1, 1, 1, 4, 4), /header field dim must be positive, got 0/],
    ['negative layers', header(8, 8, -1, 1, 1, 4, 4), /n_layers must be positive, got -1/],
    ['heads do not divide', header(8, 8, 1, 3, 3, 4, 4), /n_heads \(3\) does not divide dim \(8\)/],
    ['kv heads do not divide', header(8, 8, 1, 4, 3, 4, 4), /n_kv_heads \(3\) does not divide n_heads \(4\)/],
    ['size mismatch', Buffer.concat([header(8, 16, 1, 2, 2, 4, 4), Buffer.alloc(40)]), /implies \d+ bytes but the file has 68/],
    ['huge header, tiny file', header(1 << 16, 1 << 18, 1 << 10, 1, 1, 1 << 22, 1 << 22), /implies [\d.e+]+ bytes but the file has 28/],
    ['a text file', Buffer.from('# namm\n\nA TypeScript library and CLI that gives transformers a learned memory.\n'), /not a llama2\.c checkpoint: its header reads dim 1634607139, /],
    ['sizes beyond any model', header(1 << 20, 8, 1, 1, 1, 4, 4), /not a llama2\.c checkpoint: .*dim 1048576.*limits: dim 65536/],
    ['versioned export', Buffer.concat([Buffer.from('24ka', 'latin1'), Buffer.alloc(252)]), /versioned export \(magic "ak42"\) is not supported/],
  ];
  for (const [what, bytes, re] of cases) {
    writeFileSync(p, bytes);
    await assert.rejects(loadModelFiles(p), (e: Error) => re.test(e.message) && e.message.includes(p), what);
  }
  const t = join(dir, 'tokenizer.bin');
  const good = encodeLlama2cTokenizer(['<unk>', 'a', 'bb'], [0, -1, -2]);
  writeFileSync(t, good.subarray(0, good.length - 1));
  await assert.rejects(loadLlama2cTokenizer(t, 3), /tokenizer\.bin: token 2 runs past the end of the file/);
  await assert.rejects(loadLlama2cTokenizer(t), /tokenizer\.bin: token 2 runs past the end of the file/);
  writeFileSync(t, good);
  await assert.rejects(loadLlama2cTokenizer(t, 5), /truncated at token 3 \(expected 5 tokens\)/);
  await assert.rejects(loadLlama2cTokenizer(t, 2), /bytes left after 2 tokens/);
  const long = Buffer.from(good); long.writeInt32LE(1, 0); // max_token_length 1 but "<unk>" has 5 bytes
  writeFileSync(t, long);
  await assert.rejects(loadLlama2cTokenizer(t), /token 0 has length 5 \(max_token_length 1\)/);
  writeFileSync(t, good);
  assert.equal((await loadLlama2cTokenizer(t)).vocabSize, 3, 'without a vocab size it reads to the end');
}));
