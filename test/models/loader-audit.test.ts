/** Loader and writer defects found in an audit of src/models: each test failed before its fix. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, cpSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GGUF_MAX_ARRAY_ENTRIES, GgufMeta, GgufValueType, gv, readGgufHeader, writeGguf, writeGgufContainer, type GgufMetadata } from '../../src/models/gguf.js';
import { loadModelFiles } from '../../src/models/load.js';
import { READ_CHUNK, readExactly, readSafetensors, writeSafetensors } from '../../src/models/safetensors.js';
import { ggufTokenizerFromMetadata, ggufVocabularyMetadata } from '../../src/models/tokenizers/gguf-vocab.js';
import type { ModelConfig } from '../../src/models/types.js';
import { HfTokenizer } from '../../src/models/tokenizers/hf.js';
import { byteToUnicode, tinyQwen2 } from '../fixtures/tiny-models.js';
import { rewriteGguf } from '../helpers/gguf-rewrite.js';
import { mockBigIo, NODE_IO_LIMIT } from '../helpers/big-io.js';
import { llamaConfig } from '../../src/models/random.js';
import { tempDir } from '../helpers/temp.js';

const MODEL = '../shared/models/tinystories-656k';

function withDir(fn: (dir: string) => void | Promise<void>) {
  return async () => {
    const dir = tempDir('namm-audit-');
    try { await fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
  };
}

/** A GGUF byte-level ("gpt2") vocabulary: the 256 byte symbols, then `extra` tokens, then a control BOS token. */
function gpt2VocabMeta(pre: string | null, extra: string[], merges: string[], addBos?: boolean): { meta: GgufMeta; bos: number } {
  const tokens = [...byteToUnicode(), ...extra, '<|begin_of_text|>'];
  const bos = tokens.length - 1;
  const m: GgufMetadata = new Map([
    ['tokenizer.ggml.model', gv.str('gpt2')],
    ['tokenizer.ggml.tokens', gv.arr(GgufValueType.STRING, tokens)],
    ['tokenizer.ggml.token_type', gv.arr(GgufValueType.INT32, tokens.map((_, i) => (i === bos ? 3 : 1)))],
    ['tokenizer.ggml.merges', gv.arr(GgufValueType.STRING, merges)],
    ['tokenizer.ggml.bos_token_id', gv.u32(bos)],
  ]);
  if (pre !== null) m.set('tokenizer.ggml.pre', gv.str(pre));
  if (addBos !== undefined) m.set('tokenizer.ggml.add_bos_token', gv.bool(addBos));
  return { meta: new GgufMeta(m, 'vocab.gguf'), bos };
}

test('GGUF byte-level vocabulary: tokens named like Object.prototype members ("toString", "constructor", "__proto__") are ordinary tokens', () => {
  const words = ['toString', 'constructor', '__proto__', 'valueOf'];
  // ignore_merges (llama-bpe): a whole word in the vocabulary is one token.
  const { meta } = gpt2VocabMeta('llama-bpe', words, [], false);
  const tok = ggufTokenizerFromMetadata(meta);
  for (const w of ['toString', 'constructor', 'valueOf']) assert.deepEqual(tok.encode(w), [256 + words.indexOf(w)], w);
  // "__proto__" is split by the pre-tokenizer's regex (as in llama.cpp), but it is still a token of the vocabulary.
  assert.equal((tok as HfTokenizer).tokenToId('__proto__'), 258);
  assert.equal(tok.decode([256, 258, 257]), 'toString__proto__constructor');
  // Through merges (gpt-2): the merged "toString" must be found in the vocabulary too.
  const pieces = ['to', 'St', 'ri', 'ng', 'ring', 'String', 'toString'];
  const g = ggufTokenizerFromMetadata(gpt2VocabMeta('gpt-2', pieces, ['t o', 'S t', 'r i', 'n g', 'ri ng', 'St ring', 'to String'], false).meta);
  assert.deepEqual(g.encode('toString'), [256 + pieces.indexOf('toString')]);
  // A merge "t o S" is "t" + "o S" for llama.cpp (it never applies: no symbol "o S"); the library read it as "t" + "o".
  const odd = ggufTokenizerFromMetadata(gpt2VocabMeta('gpt-2', pieces, ['t o S'], false).meta);
  assert.deepEqual(odd.encode('to'), [...'to'].map((c) => c.charCodeAt(0)));
});

test('GGUF: merges that are not two pieces, unknown token types, odd or oversized rotary dims and huge sizes are refused by key', withDir(async (dir) => {
  const { meta } = gpt2VocabMeta('gpt-2', ['ab'], ['a b', 'nospace'], false);
  assert.throws(() => ggufTokenizerFromMetadata(meta), /vocab\.gguf: metadata "tokenizer\.ggml\.merges"\[1\] is "nospace", not two pieces separated by a space$/);
  const typed = gpt2VocabMeta('gpt-2', ['ab'], ['a b'], false).meta;
  const m = new Map(typed.map);
  const n = (m.get('tokenizer.ggml.tokens')!.value as unknown[]).length;
  m.set('tokenizer.ggml.token_type', gv.arr(GgufValueType.INT32, Array.from({ length: n }, () => 99)));
  assert.throws(() => ggufTokenizerFromMetadata(new GgufMeta(m, 'vocab.gguf')), /metadata "tokenizer\.ggml\.token_type"\[0\] is 99, not a token type \(0 to 6\)$/);
  const src = await loadModelFiles(MODEL);
  const base = join(dir, 'base.gguf');
  writeGguf(base, src.config, src.weights, src.tokenizer);
  for (const [key, value, shown] of [
    ['llama.rope.dimension_count', gv.u32(15), /metadata "llama\.rope\.dimension_count" must be an even number within 2\.\.\d+ \(the head's size\), got 15$/],
    ['llama.rope.dimension_count', gv.u32(1000), /metadata "llama\.rope\.dimension_count" must be an even number within 2\.\.\d+ \(the head's size\), got 1000$/],
    ['llama.context_length', { type: GgufValueType.UINT64, value: 2n ** 62n }, /metadata "llama\.context_length" must be a positive integer \(at most 2\^53 − 1\), got 4611686018427388000$/],
  ] as const) {
    const bad = join(dir, 'bad.gguf');
    rewriteGguf(base, bad, { meta: (mm) => { mm.set(key, value); } });
    await assert.rejects(loadModelFiles(bad), shown, key);
  }
}));

test('GGUF llama-bpe vocabulary without tokenizer.ggml.add_bos_token adds BOS, as llama.cpp does (Llama 3 files)', () => {
  for (const pre of ['llama-bpe', 'llama3', 'llama-v3']) {
    const { meta, bos } = gpt2VocabMeta(pre, [], []);
    const tok = ggufTokenizerFromMetadata(meta);
    assert.deepEqual(tok.encode('hi'), [bos, 104, 105], pre);
  }
  // The explicit key still decides, and other pre-tokenizers keep llama.cpp's default of no BOS.
  assert.deepEqual(ggufTokenizerFromMetadata(gpt2VocabMeta('llama-bpe', [], [], false).meta).encode('hi'), [104, 105]);
  assert.deepEqual(ggufTokenizerFromMetadata(gpt2VocabMeta('qwen2', [], []).meta).encode('hi'), [104, 105]);
  assert.deepEqual(ggufTokenizerFromMetadata(gpt2VocabMeta(null, [], []).meta).encode('hi'), [104, 105]);
  assert.throws(() => ggufTokenizerFromMetadata(gpt2VocabMeta('constructor', [], []).meta), /vocab\.gguf: pre-tokenizer "constructor" is not supported/);
});

test('GGUF byte-level vocabulary with pre-tokenizer "default" or none: llama.cpp\'s four successive splits, not GPT-2\'s alone', () => {
  // Merges that build "12345" and "Ġ." (space, period): GPT-2's split keeps "12345" and " ." whole; llama.cpp's
  // DEFAULT splits digits into groups of three and punctuation runs apart from the space first.
  const extra = ['12', '123', '1234', '12345', '45', 'Ġ.'];
  const merges = ['1 2', '12 3', '123 4', '1234 5', '4 5', 'Ġ .'];
  const id = (t: string) => 256 + extra.indexOf(t);
  const gpt2 = ggufTokenizerFromMetadata(gpt2VocabMeta('gpt-2', extra, merges, false).meta);
  assert.deepEqual(gpt2.encode('12345'), [id('12345')]);
  assert.deepEqual(gpt2.encode('a .'), [97, id('Ġ.')]);
  for (const pre of ['default', null]) {
    const tok = ggufTokenizerFromMetadata(gpt2VocabMeta(pre, extra, merges, false).meta);
    assert.deepEqual(tok.encode('12345'), [id('123'), id('45')], String(pre));
    assert.deepEqual(tok.encode('a .'), [97, byteToUnicode().indexOf('Ġ'), 46], String(pre));
    assert.equal(tok.decode(tok.encode('x 12345, y.')), 'x 12345, y.');
  }
  // Written back to GGUF under the same name, so that llama.cpp splits as it read.
  const tok = ggufTokenizerFromMetadata(gpt2VocabMeta(null, extra, merges, false).meta);
  const written = new Map(ggufVocabularyMetadata(tok, { vocabSize: 256 + extra.length + 1 } as ModelConfig, 'default.gguf'));
  assert.equal(written.get('tokenizer.ggml.pre')?.value, 'default');
  assert.deepEqual(ggufTokenizerFromMetadata(new GgufMeta(written, 'default.gguf')).encode('12345'), [id('123'), id('45')]);
});

test('sharded safetensors: a tensor stored in two shards is refused by name, not silently taken from the last', withDir(async (dir) => {
  const m = join(dir, 'sharded');
  cpSync(MODEL, m, { recursive: true });
  rmSync(join(m, 'model.safetensors'));
  const src = readSafetensors(join(MODEL, 'model.safetensors')).tensors;
  const names = [...src.keys()].filter((n) => n !== 'model.embed_tokens.weight'); // the alias: lm_head is stored
  const half = Math.ceil(names.length / 2);
  const shard = (file: string, list: string[]) =>
    writeSafetensors(join(m, file), new Map(list.map((n) => [n, { dtype: 'F32' as const, shape: src.get(n)!.shape, data: src.get(n)!.data }])),
      list.includes('lm_head.weight') ? { format: 'pt', 'model.embed_tokens.weight': 'lm_head.weight' } : { format: 'pt' });
  const index = (map: Record<string, string>) => writeFileSync(join(m, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: map }));
  const a = 'model-00001-of-00002.safetensors', b = 'model-00002-of-00002.safetensors';
  shard(a, names.slice(0, half));
  shard(b, names.slice(half));
  index(Object.fromEntries(names.map((n, i) => [n, i < half ? a : b])));
  const ok = await loadModelFiles(m); // the baseline: a well-formed sharded folder loads, alias and all
  assert.deepEqual(ok.weights.get('model.layers.1.mlp.up_proj.weight')!.data, src.get('model.layers.1.mlp.up_proj.weight')!.data);
  assert.equal(ok.weights.get('model.embed_tokens.weight'), ok.weights.get('lm_head.weight'));
  // The second shard also holds a (different) copy of a tensor of the first.
  const dup = names[0]!;
  const other = { dtype: 'F32' as const, shape: src.get(dup)!.shape, data: src.get(dup)!.data.map((x) => x + 1) };
  writeSafetensors(join(m, b), new Map([...names.slice(half).map((n) => [n, { dtype: 'F32' as const, shape: src.get(n)!.shape, data: src.get(n)!.data }] as const), [dup, other]]));
  await assert.rejects(loadModelFiles(m), (e: Error) => e.message.includes(`tensor "${dup}" is stored in both ${a} and ${b}`) && e.message.includes(m));
}));

test('a deeply nested value or a huge name in a damaged file is shown cut, naming the file (not a stack overflow or a dump)', withDir((dir) => {
  // JSON.stringify of the value in the message overflowed the stack: "Maximum call stack size exceeded", no file named.
  const p = join(dir, 'deep.safetensors');
  const json = Buffer.from(`{"w":{"dtype":"F32","shape":${'['.repeat(100_000)}${']'.repeat(100_000)},"data_offsets":[0,4]}}`);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(p, Buffer.concat([len, json, Buffer.alloc(4)]));
  assert.throws(() => readSafetensors(p), /deep\.safetensors.* has an invalid shape \[\[\[\[\[…\]\]\]\]\] \(dimensions must be non-negative integers\)$/);
  // A GGUF tensor name of a damaged length read the header and data that followed into one 245 KB message.
  const g = join(dir, 'long-name.gguf');
  writeGgufContainer(g, new Map([['general.architecture', gv.str('llama')]]), [{ name: 'x'.repeat(300), dims: [1], type: 0, bytes: new Uint8Array(4) }]);
  const fd = openSync(g, 'r');
  try {
    assert.throws(() => readGgufHeader(fd, g), /long-name\.gguf: tensor #0's name is 300 bytes long \(ggml allows 63\), starting "x{64}…": the file is damaged$/);
  } finally { closeSync(fd); }
}));

test('safetensors: an empty tensor at the offset where another begins does not "overlap" it', withDir((dir) => {
  const p = join(dir, 'empty.safetensors');
  // Header order as written by a writer that lists the non-empty tensor first (JSON order is not offset order).
  const header = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, empty: { dtype: 'F32', shape: [0, 4], data_offsets: [0, 0] } };
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const data = Buffer.alloc(8);
  data.writeFloatLE(1.5, 0); data.writeFloatLE(-2, 4);
  writeFileSync(p, Buffer.concat([len, json, data]));
  const r = readSafetensors(p);
  assert.deepEqual([...r.tensors.get('w')!.data], [1.5, -2]);
  assert.deepEqual(r.tensors.get('empty')!.shape, [0, 4]);
  // Real overlaps are still refused.
  const bad = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, v: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } };
  const j2 = Buffer.from(JSON.stringify(bad));
  len.writeBigUInt64LE(BigInt(j2.length));
  writeFileSync(p, Buffer.concat([len, j2, data]));
  assert.throws(() => readSafetensors(p), /overlapping byte ranges/);
}));

test('GGUF writer: F16 / Q8_0 refuse values float16 cannot hold instead of writing infinities', withDir((dir) => {
  const { config, weights } = tinyQwen2();
  const big = new Map(weights);
  const t = weights.get('model.layers.0.mlp.up_proj.weight')!;
  const data = t.data.slice();
  data[5] = 70000;
  big.set('model.layers.0.mlp.up_proj.weight', { shape: t.shape, data });
  const p = join(dir, 'x.gguf');
  assert.throws(() => writeGguf(p, config, big, null, { dtype: 'F16' }), /tensor "model\.layers\.0\.mlp\.up_proj\.weight" holds 70000, beyond what float16 can hold/);
  writeGguf(p, config, big, null, { dtype: 'Q8_0' }); // 70000/127 is a fine block scale
  data[5] = 1e7;
  assert.throws(() => writeGguf(p, config, big, null, { dtype: 'Q8_0' }), /holds 10000000, beyond what Q8_0/);
  writeGguf(p, config, big, null, { dtype: 'F32' });
  assert.ok(readFileSync(p).length > 0);
}));

test('GGUF SentencePiece vocabulary without BOS/EOS keys gets llama.cpp\'s defaults (1 and 2); one that has none keeps none through the writer', async () => {
  const { SpmTokenizer } = await import('../../src/models/tokenizers/spm.js');
  const tokens = ['<unk>', '<s>', '</s>', '▁a', '▁b'];
  const spmMeta = (extra: [string, ReturnType<typeof gv.str>][] = []) => new GgufMeta(new Map([
    ['tokenizer.ggml.model', gv.str('llama')],
    ['tokenizer.ggml.tokens', gv.arr(GgufValueType.STRING, tokens)],
    ['tokenizer.ggml.scores', gv.arr(GgufValueType.FLOAT32, [0, 0, 0, -1, -2])],
    ...extra,
  ]), 'spm.gguf');
  const plain = ggufTokenizerFromMetadata(spmMeta());
  assert.equal(plain.bosTokenId, 1);
  assert.deepEqual(plain.eosTokenIds, [2]);
  assert.deepEqual(plain.encode('a b'), [1, 3, 4]);
  // The keys, when present, win.
  const keyed = ggufTokenizerFromMetadata(spmMeta([['tokenizer.ggml.bos_token_id', gv.u32(2)], ['tokenizer.ggml.eos_token_id', gv.u32(1)]]));
  assert.equal(keyed.bosTokenId, 2);
  assert.deepEqual(keyed.eosTokenIds, [1]);
  // A vocabulary with neither, written and read back, still has neither (it would otherwise gain 1 and 2).
  const none = new SpmTokenizer({ tokens, scores: [0, 0, 0, -1, -2], bosTokenId: null, eosTokenIds: [], unkTokenId: 0, spaceSymbol: '▁', addSpacePrefix: true, addBosByDefault: false, origin: 't' });
  const config = { eosTokenIds: [] } as unknown as Parameters<typeof ggufVocabularyMetadata>[1];
  const back = ggufTokenizerFromMetadata(new GgufMeta(new Map(ggufVocabularyMetadata(none, config, 'none.gguf')), 'none.gguf'));
  assert.equal(back.bosTokenId, null);
  assert.deepEqual(back.eosTokenIds, []);
  // A piece listed twice encodes to its last id, as llama.cpp's token_to_id (assigned in order) has it; both decode.
  const twice = new SpmTokenizer({ tokens: ['<unk>', '<s>', '</s>', '▁a', '▁a'], scores: [0, 0, 0, -1, -1], bosTokenId: null, eosTokenIds: [], unkTokenId: 0, spaceSymbol: '▁', addSpacePrefix: true, addBosByDefault: false, origin: 't' });
  assert.deepEqual(twice.encode('a'), [4]);
  assert.deepEqual([twice.decode([3]), twice.decode([4])], ['a', 'a']);
});

test('a config with fewer layers than the weights is refused (the layers past it were ignored, the output fluent but wrong)', async () => {
  const { loadModel } = await import('../../src/models/model.js');
  const dir = tempDir('namm-layers-');
  try {
    for (const [src, key, layers, example] of [
      ['../shared/models/tinystories-656k', 'num_hidden_layers', 2, 'model.layers.1.'],
      ['models/namm-tiny-gpt2', 'n_layer', 4, 'h.3.'],
    ] as const) {
      const folder = join(dir, key);
      cpSync(src, folder, { recursive: true });
      const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(config[key], layers);
      writeFileSync(join(folder, 'config.json'), JSON.stringify({ ...config, [key]: layers - 1 }));
      await assert.rejects(loadModel(folder), (e: Error) => {
        assert.match(e.message, new RegExp(`^.*${key}: the weights hold ${layers} layers \\(up to ".*${example.replace(/\./g, '\\.')}.*"\\) but the config has ${layers - 1} \\(num_hidden_layers, n_layer or block_count\\); layers past it would be ignored$`));
        return true;
      });
      writeFileSync(join(folder, 'config.json'), JSON.stringify(config));
      assert.equal((await loadModel(folder)).config.nLayers, layers);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('new Model refuses a weight map that is not one, a tensor short of its shape and a backend without the kernels', async () => {
  const { Model, loadModel } = await import('../../src/models/model.js');
  const f = await loadModelFiles('../shared/models/tinystories-656k');
  // Each was accepted and failed at the first forward: "w.get is not a function", "b holds 10 values but 256 are
  // needed" (a kernel's argument), "be.rmsNorm is not a function".
  assert.throws(() => new Model(f.config, Object.fromEntries(f.weights) as never, f.tokenizer), /^TypeError: weights must be a Map of parameter names to tensors .*, got object$/);
  const short = new Map(f.weights);
  const norm = short.get('model.norm.weight')!;
  short.set('model.norm.weight', { shape: norm.shape, data: norm.data.subarray(0, 10) });
  assert.throws(() => new Model(f.config, short, f.tokenizer), /^RangeError: weight "model\.norm\.weight" holds 10 values but its shape \[128\] needs 128$/);
  await assert.rejects(loadModel('../shared/models/tinystories-656k', { backend: {} as never }), /^TypeError: backend must be a Backend .*; this one lacks matmulABt, matmulAB, rmsNorm/);
  assert.equal(new Model(f.config, f.weights, f.tokenizer).config.nLayers, 2);
});

test('GGUF byte-level vocabulary: qwen2 and smollm decode without the clean-up of spaces, as llama.cpp does; the others with it', () => {
  // Before, every byte-level GGUF vocabulary decoded with it (the tokenizer library's default): Qwen2's text lost the
  // space in " ." and " 's" (llama.cpp sets clean_spaces = false for both names, and so do their tokenizer_configs).
  const text = "Pi is about 3 .14 , isn 't it ? x = f(a) . b ! 'm";
  for (const [pre, cleaned] of [['qwen2', false], ['smollm', false], ['gpt-2', true], ['llama-bpe', true], ['default', true], [null, true]] as const) {
    const tok = ggufTokenizerFromMetadata(gpt2VocabMeta(pre, [], [], false).meta);
    const ids = tok.encode(text);
    assert.equal(ids.length, Buffer.byteLength(text), `${pre}: one byte per token without merges`);
    assert.equal(tok.decode(ids), cleaned ? "Pi is about 3.14, isn 't it? x = f(a). b!'m" : text, String(pre));
  }
});

test('GGUF byte-level vocabulary "smollm": each digit alone, then GPT-2\'s pattern (llama.cpp\'s split); written back under that name', () => {
  // Merges that would build "12" and " 3": the smollm split puts every digit in a piece of its own, so neither forms.
  const pieces = ['12', 'Ġ3', 'ab', 'Ġab'];
  const { meta } = gpt2VocabMeta('smollm', pieces, ['1 2', 'Ġ 3', 'a b', 'Ġ ab'], false);
  const tok = ggufTokenizerFromMetadata(meta) as HfTokenizer;
  const id = (t: string) => tok.tokenToId(t)!;
  assert.deepEqual(tok.encode('ab 123 ab'), [id('ab'), id('Ġ'), id('1'), id('2'), id('3'), id('Ġab')]);
  assert.equal(tok.decode(tok.encode('ab 123 ab')), 'ab 123 ab');
  // GPT-2's split alone keeps " 123" whole, so "12" forms.
  const g = ggufTokenizerFromMetadata(gpt2VocabMeta('gpt-2', pieces, ['1 2', 'Ġ 3', 'a b', 'Ġ ab'], false).meta) as HfTokenizer;
  assert.ok(g.encode('ab 123 ab').includes(g.tokenToId('12')!));
  // The writer names SmolLM's own tokenizer.json form (Digits with individual_digits, then ByteLevel) "smollm".
  const written = new Map(ggufVocabularyMetadata(tok, { vocabSize: tok.vocabSize } as ModelConfig, 'x.gguf'));
  assert.equal(written.get('tokenizer.ggml.pre')!.value, 'smollm');
  // A pre-tokenizer that splits otherwise than every name is refused, not written under the nearest name: a ByteLevel
  // without its regex was written "gpt-2", a Sequence with a Digits step of its own lost it (and tokenized otherwise).
  const json = (g as unknown as { json: Record<string, unknown> }).json;
  const variant = (pre: unknown) => new HfTokenizer({ origin: 'y', tokenizerJson: { ...json, pre_tokenizer: pre }, tokenizerConfig: { clean_up_tokenization_spaces: false } });
  const bl = (useRegex: boolean) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex });
  const qwen2 = (json2: unknown) => (json2 as { pretokenizers: unknown[] }).pretokenizers[0];
  const qwenSplit = qwen2((ggufTokenizerFromMetadata(gpt2VocabMeta('qwen2', [], []).meta) as unknown as { json: { pre_tokenizer: unknown } }).json.pre_tokenizer);
  for (const pre of [bl(false), { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, qwenSplit, bl(false)] }, { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: false }, bl(true)] }]) {
    assert.throws(() => ggufVocabularyMetadata(variant(pre), { vocabSize: tok.vocabSize } as ModelConfig, 'y.gguf'),
      /^Error: GGUF writer \(y\.gguf\): the tokenizer\.json pre-tokenizer splits text as none that GGUF names here .* does; it would tokenize differently \(convert --to safetensors keeps it\)$/, JSON.stringify(pre));
  }
  // The known forms still get their names.
  assert.equal(new Map(ggufVocabularyMetadata(variant(bl(true)), { vocabSize: tok.vocabSize } as ModelConfig, 'y.gguf')).get('tokenizer.ggml.pre')!.value, 'gpt-2');
  assert.equal(new Map(ggufVocabularyMetadata(variant({ type: 'Sequence', pretokenizers: [qwenSplit, bl(false)] }), { vocabSize: tok.vocabSize } as ModelConfig, 'y.gguf')).get('tokenizer.ggml.pre')!.value, 'qwen2');
});

test('GGUF metadata arrays past 2^25 entries in all are refused by name (a damaged count that a large file could back ended the process out of memory)', () => {
  const dir = tempDir('namm-gguf-count-');
  try {
    const path = join(dir, 'm.gguf');
    writeGgufContainer(path, new Map([['general.architecture', gv.str('llama')], ['x.list', gv.arr(GgufValueType.INT32, [1, 2, 3])]]), []);
    const bytes = readFileSync(path);
    const key = Buffer.from('x.list');
    const countAt = bytes.indexOf(key) + key.length + 8;  // after the value type and the element type
    assert.equal(bytes.readBigUInt64LE(countAt), 3n);
    // A count the (sparse) file can hold, one past the limit.
    bytes.writeBigUInt64LE(BigInt(GGUF_MAX_ARRAY_ENTRIES + 1), countAt);
    writeFileSync(path, bytes);
    truncateSync(path, countAt + 8 + 4 * (GGUF_MAX_ARRAY_ENTRIES + 1) + 64);
    const fd = openSync(path, 'r');
    try {
      assert.throws(() => readGgufHeader(fd, path), /metadata key #1 "x\.list" has 33554433 array entries, past the 33554432 that namm reads from a file's metadata in all \(a damaged count\?\)/);
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readExactly reads in pieces of at most READ_CHUNK, below readSync\'s 2^31 − 1 (a 2.15 GB tensor was refused with "length is out of range")', () => {
  assert.ok(READ_CHUNK <= 2 ** 31 - 1);
  const dir = tempDir('namm-read-');
  try {
    const path = join(dir, 'b.bin');
    const data = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7919) & 255);
    writeFileSync(path, data);
    const fd = openSync(path, 'r');
    try {
      assert.deepEqual(readExactly(fd, 3, 9_990, path, undefined, 4096), data.subarray(3, 9_993));
      assert.throws(() => readExactly(fd, 5_000, 6_000, path, undefined, 1024), /unexpected end of file reading 6000 bytes at offset 5000/);
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a tensor of 2 GiB or more is written in pieces, by the safetensors and the GGUF writer (a 7B model\'s F32 embedding was refused with "length is out of range")', withDir(async (dir) => {
  // The mocks keep Node's limit of 2^31 − 1 bytes a write but skip the work: the tensors are never touched.
  const io = await mockBigIo();
  try {
    const n = 2 ** 29 + 16;
    writeSafetensors(join(dir, 'model.safetensors'), new Map([['w', { dtype: 'F32', shape: [n], data: new Float32Array(n) }]]));
    assert.ok(Math.max(...io.lengths) <= NODE_IO_LIMIT && io.lengths.includes(2 ** 30), `writes of ${io.lengths.join(', ')} bytes`);
    io.lengths.length = 0;
    const config = llamaConfig({ vocabSize: 524800, hiddenSize: 1024, nLayers: 1, nHeads: 8, nKvHeads: 8, intermediateSize: 64, maxPositions: 64 });
    writeGguf(join(dir, 'model.gguf'), config, new Map([['model.embed_tokens.weight', { shape: [524800, 1024], data: new Float32Array(524800 * 1024) }]]), null);
    assert.ok(Math.max(...io.lengths) <= NODE_IO_LIMIT && io.lengths.includes(2 ** 30), `writes of ${io.lengths.join(', ')} bytes`);
  } finally {
    io.restore();
  }
}));

test('a model folder\'s JSON files are read up to 16 MiB (configs) and 128 MiB (tokenizer.json): past that, an error, not a crash of V8', async () => {
  // A 400 MB config.json (under the 512 MiB read before) ended the process in JSON.parse.
  const dir = tempDir('namm-json-limit-');
  try {
    cpSync('../shared/models/tinystories-656k', dir, { recursive: true });
    truncateSync(join(dir, 'config.json'), 16 * 1024 * 1024 + 1);
    await assert.rejects(loadModelFiles(dir), /config\.json holds 16777217 bytes, more than a JSON config file can \(16 MiB\)/);
    cpSync('../shared/models/tinystories-656k/config.json', join(dir, 'config.json'));
    truncateSync(join(dir, 'tokenizer.json'), 128 * 1024 * 1024 + 1);
    await assert.rejects(loadModelFiles(dir), /tokenizer\.json holds 134217729 bytes, more than a tokenizer\.json can \(128 MiB\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a JSON file of a model folder given as the model names the folder (it was read as a llama2.c header)', async () => {
  const { resolve } = await import('node:path');
  const folder = resolve('models/namm-tiny-llama');
  for (const f of ['tokenizer.json', 'config.json']) {
    await assert.rejects(loadModelFiles(join(folder, f)), new RegExp(`^Error: ${join(folder, f).replace(/[.]/g, '\\.')} is a JSON file, not a model: pass the folder that holds it \\(${folder.replace(/[.]/g, '\\.')}\\)$`));
  }
  const dir = tempDir('namm-json-');
  try {
    writeFileSync(join(dir, 'x.json'), '{}');
    await assert.rejects(loadModelFiles(join(dir, 'x.json')), /x\.json is a JSON file, not a model \(a Hugging Face model is its folder, with config\.json\)$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a tokenizer.json id past 2^24 is refused by name (the vocabulary size is the largest id + 1: 2e7 ran a conversion out of memory)', () => {
  const json = JSON.parse(readFileSync('../shared/models/tinystories-656k/tokenizer.json', 'utf8')) as { model: { vocab: Record<string, number> }; added_tokens: { id: number }[] };
  for (const [where, damage] of [['vocab', (j: typeof json) => { j.model.vocab['zz'] = 2e7; }], ['added_tokens', (j: typeof json) => { j.added_tokens[0]!.id = -3; }]] as const) {
    const j = structuredClone(json);
    damage(j);
    assert.throws(() => new HfTokenizer({ origin: 't.json', tokenizerJson: j, tokenizerConfig: {} }), /^Error: t\.json: tokenizer\.json (model\.vocab gives token "zz" the id 20000000|added_tokens\[0\] gives token "<unk>" the id -3), not an integer within 0\.\.16777215 \(2\^24, far past any real vocabulary\): the file is damaged$/, where);
  }
  assert.equal(new HfTokenizer({ origin: 't.json', tokenizerJson: json, tokenizerConfig: {} }).vocabSize, 2048);
});

test('a tokenizer.json whose ids are not integers, whose vocabulary has the wrong form or whose model type is unknown is refused', () => {
  const json = JSON.parse(readFileSync('../shared/models/tinystories-656k/tokenizer.json', 'utf8')) as { model: { type: string; vocab: unknown } };
  const make = (damage: (j: typeof json) => void) => { const j = structuredClone(json); damage(j); return () => new HfTokenizer({ origin: 't.json', tokenizerJson: j, tokenizerConfig: {} }); };
  // Each of these loaded: "4" failed in the model's embedding for the prompts holding it; a list or an unknown type
  // encoded every prompt to <unk>.
  assert.throws(make((j) => { (j.model.vocab as Record<string, unknown>)['!'] = '4'; }), /model\.vocab gives token "!" the id "4", not an integer/);
  assert.throws(make((j) => { j.model.vocab = Object.entries(j.model.vocab as object); }), /^Error: t\.json: tokenizer\.json model is BPE, whose "vocab" must be an object of token → id, got a list$/);
  assert.throws(make((j) => { j.model.type = 'Foo'; }), /^Error: t\.json: tokenizer\.json model type "Foo" is not one of BPE, WordPiece, WordLevel, Unigram$/);
  assert.throws(make((j) => { j.model.type = 'Unigram'; }), /model is Unigram, whose "vocab" must be a list of \[piece, score\] pairs, got an object/);
  assert.throws(make((j) => { (j as unknown as { added_tokens: unknown }).added_tokens = [{ id: 'x', content: 5 }]; }), /added_tokens\[0\] must be an object with a "content" string/);
  // A post-processor or a model that names a token the vocabulary lacks gave undefined ids, found only by a later
  // decode or prefill that did not name the file.
  // (The shipped model's tokenizer has no unknown token to fall back on, as this one has.)
  const own = JSON.parse(readFileSync('models/namm-tiny-llama/tokenizer.json', 'utf8')) as Record<string, unknown>;
  own.post_processor = { type: 'TemplateProcessing', single: [{ SpecialToken: { id: 'nope', type_id: 0 } }], pair: [], special_tokens: {} };
  assert.throws(() => new HfTokenizer({ origin: 't.json', tokenizerJson: own, tokenizerConfig: {} }),
    /^Error: t\.json: tokenizer\.json post_processor \(TemplateProcessing\) single\[0\] names the special token "nope", which "special_tokens" does not list$/);
  // Listed with an id, by a name the vocabulary lacks: the library adds the token of that name (none here).
  own.post_processor = { ...(own.post_processor as object), special_tokens: { nope: { id: 'nope', ids: [1], tokens: ['nope'] } } };
  assert.throws(() => new HfTokenizer({ origin: 't.json', tokenizerJson: own, tokenizerConfig: {} }),
    /^Error: t\.json: tokenizer\.json post_processor \(TemplateProcessing\): the special token "nope" adds the ids \[1\], where the tokenizer library namm uses adds the unknown token \(the vocabulary has no token of that name\): namm cannot add them as Hugging Face tokenizers does$/);
  // Damaged pre-tokenizer, normaliser and merges sections are named: a null Split pattern loaded with a console message
  // and encoded a prompt to its BOS alone; a null list ran the words together; null merges were the library's TypeError.
  const damaged = (damage: (j: Record<string, any>) => void) => {
    const j = JSON.parse(readFileSync('models/namm-tiny-llama/tokenizer.json', 'utf8')) as Record<string, any>;
    damage(j);
    return () => new HfTokenizer({ origin: 't.json', tokenizerJson: j, tokenizerConfig: {} });
  };
  assert.throws(damaged((j) => { j.pre_tokenizer.pretokenizers[0].pattern = null; }), /^Error: t\.json: tokenizer\.json pre_tokenizer\.pretokenizers\[0\] \(Split\) needs a "pattern" of \{ "String": … \} or a non-empty \{ "Regex": … \}$/);
  assert.throws(damaged((j) => { j.pre_tokenizer.pretokenizers = null; }), /pre_tokenizer is a Sequence whose "pretokenizers" must be a list$/);
  assert.throws(damaged((j) => { j.pre_tokenizer.pretokenizers[0].behavior = 'Foo'; }), /\(Split\) has behavior "Foo", not one of Removed, Isolated/);
  assert.throws(damaged((j) => { j.normalizer = { type: 'Sequence', normalizers: null }; }), /normalizer is a Sequence whose "normalizers" must be a list$/);
  assert.throws(damaged((j) => { j.model.merges = null; }), /BPE "merges" must be a list of "a b" strings or \[a, b\] pairs$/);
  assert.throws(damaged((j) => { j.model.merges[3] = 5; }), /BPE merges\[3\] must be an "a b" string or an \[a, b\] pair$/);
  assert.throws(damaged((j) => { j.added_tokens = null; }), /"added_tokens" must be a list$/);
  // Merges that could never apply loaded without a word (Hugging Face tokenizers refuses them): unknown tokens, a
  // result the vocabulary lacks, a string that is not two tokens.
  assert.throws(damaged((j) => { j.model.merges[3] = 'QQQ ZZZ'; }), /^Error: t\.json: tokenizer\.json BPE merges\[3\] \("QQQ" \+ "ZZZ"\) needs the token "QQQ", which the vocabulary lacks: the merge could never apply \(Hugging Face tokenizers refuses the file\)$/);
  assert.throws(damaged((j) => { j.model.merges = j.model.merges.map((m: string) => m.split(' ')); j.model.merges[3] = ['i', 'QQQ']; }), /merges\[3\] \("i" \+ "QQQ"\) needs the token "QQQ"/);
  assert.throws(damaged((j) => { j.model.merges[3] = 'Ġ t n'; }), /^Error: t\.json: tokenizer\.json BPE merges\[3\] is "Ġ t n", not two tokens separated by one space$/);
  assert.throws(damaged((j) => { j.model.merges[3] = 'Ġt'; }), /BPE merges\[3\] is "Ġt", not two tokens separated by one space$/);
  // One list, one form (the library read the form of the first entry, and ignored or failed on the others).
  assert.throws(damaged((j) => { j.model.merges[3] = j.model.merges[3].split(' '); }), /^Error: t\.json: tokenizer\.json BPE merges mix "a b" strings and \[a, b\] pairs \(entry 0 is a string, entry 3 is not\): a list holds one form$/);
  assert.throws(damaged((j) => { j.model.merges = j.model.merges.map((m: string) => m.split(' ')); j.model.merges[3] = 'Ġ t'; }), /merges mix "a b" strings and \[a, b\] pairs \(entry 0 is a pair, entry 3 is not\)/);
  assert.ok(damaged((j) => { j.model.merges = j.model.merges.map((m: string) => m.split(' ')); })().encode('Hello world').length > 2, 'merges as pairs load');
  // A merges.txt header is skipped, as Hugging Face tokenizers skips it.
  assert.deepEqual(damaged((j) => { j.model.merges.unshift('#version: 0.2'); })().encode('Hello world'), damaged(() => {})().encode('Hello world'));
  // The library's BPE does not apply a continuing_subword_prefix (words came out as single characters).
  assert.throws(damaged((j) => { j.model.continuing_subword_prefix = '##'; }), /^Error: t\.json: tokenizer\.json BPE model has continuing_subword_prefix "##", which the tokenizer library namm uses does not apply \(it would encode words into single characters\)$/);
  assert.throws(damaged((j) => {
    // Two tokens of the vocabulary ("cc" and "c") whose concatenation is not one.
    const vocab = j.model.vocab as Record<string, number>;
    const c = Object.keys(vocab).find((t) => /^[a-z]$/.test(t) && !(`${t}${t}${t}` in vocab))!;
    vocab[`${c}${c}`] ??= Object.keys(vocab).length;
    j.model.merges[3] = `${c}${c} ${c}`;
  }), /merges\[3\] \("(.)\1" \+ "\1"\) needs the token "\1\1\1", which the vocabulary lacks/);
  assert.ok(damaged(() => {})().encode('Hello world').length > 2, 'the undamaged file loads');
});

test('config.json: a byte-order mark is skipped; a NaN is named, in one line; an id of 1e30 is named as a bad id', withDir(async (dir) => {
  const { loadModel } = await import('../../src/models/model.js');
  cpSync(MODEL, join(dir, 'm'), { recursive: true });
  const text = readFileSync(join(MODEL, 'config.json'), 'utf8');
  writeFileSync(join(dir, 'm', 'config.json'), '\ufeff' + text);
  assert.equal((await loadModel(join(dir, 'm'))).config.vocabSize, 2048);
  const cfg = JSON.parse(text) as Record<string, unknown>;
  writeFileSync(join(dir, 'm', 'config.json'), JSON.stringify({ ...cfg, rms_norm_eps: 1e-5 }, null, 2).replace('0.00001', 'NaN'));
  await assert.rejects(loadModel(join(dir, 'm')), (err: Error) => {
    assert.match(err.message, /config\.json: not valid JSON \(.*\); it holds NaN, which JSON has no number for \(Python's json writes it\)$/);
    assert.ok(!err.message.includes('\n'), err.message);
    return true;
  });
  // It said "eosTokenIds must be an array of token ids, got an array".
  writeFileSync(join(dir, 'm', 'config.json'), JSON.stringify({ ...cfg, eos_token_id: 1e30 }));
  await assert.rejects(loadModel(join(dir, 'm')), /config\.json: "eos_token_id" must be a token id or a list of token ids, got 1e\+30$/);
}));

test('a tokenizer with many more tokens than the model reads is refused at load, naming the folder; a few, warned of', withDir(async (dir) => {
  // A token of id 3000 in a 2,048-token model loaded, and a prompt holding it failed in the forward, naming no file.
  const { loadModel } = await import('../../src/models/model.js');
  cpSync(MODEL, join(dir, 'm'), { recursive: true });
  const tok = JSON.parse(readFileSync(join(dir, 'm', 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } };
  tok.model.vocab['zzzz'] = 3000;
  writeFileSync(join(dir, 'm', 'tokenizer.json'), JSON.stringify(tok));
  await assert.rejects(loadModel(join(dir, 'm')), /m: the tokenizer has 3001 tokens \(ids up to 3000\), more than the model's vocabulary of 2048: it does not belong to this model \(or is damaged\)$/);
  // A few past it (an added <pad> the embedding was not resized for, which transformers loads) load, with a warning.
  delete tok.model.vocab['zzzz'];
  tok.model.vocab['<pad>'] = 2048;
  writeFileSync(join(dir, 'm', 'tokenizer.json'), JSON.stringify(tok));
  const warnings: string[] = [];
  const listener = (w: Error & { code?: string }) => { if (w.code === 'NAMM_TOKENIZER_PAST_VOCAB') warnings.push(w.message); };
  process.on('warning', listener);
  try {
    assert.equal((await loadModel(join(dir, 'm'))).tokenizer!.vocabSize, 2049);
    await new Promise((r) => setImmediate(r));
  } finally { process.off('warning', listener); }
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /the tokenizer has 2049 tokens \(ids up to 2048\), more than the model's vocabulary of 2048: a text holding a token past 2047 cannot be read$/);
}));

test('generation_config.json ids that are not token ids are refused, naming the file and key', withDir(async (dir) => {
  // Dropped without a word before, and config.json's end token used in their place.
  const { loadModel } = await import('../../src/models/model.js');
  cpSync(MODEL, join(dir, 'm'), { recursive: true });
  for (const [gen, shown] of [
    [{ eos_token_id: '2' }, /generation_config\.json: "eos_token_id" must be a token id or a list of token ids \(integers ≥ 0\), got "2"$/],
    [{ eos_token_id: [2, -1] }, /generation_config\.json: "eos_token_id" must be .*, got -1 in the list$/],
    [{ bos_token_id: 1.5 }, /generation_config\.json: "bos_token_id" must be .*, got 1\.5$/],
  ] as const) {
    writeFileSync(join(dir, 'm', 'generation_config.json'), JSON.stringify(gen));
    await assert.rejects(loadModel(join(dir, 'm')), shown);
  }
  writeFileSync(join(dir, 'm', 'generation_config.json'), JSON.stringify({ eos_token_id: [2], bos_token_id: null }));
  assert.deepEqual((await loadModel(join(dir, 'm'))).tokenizer!.eosTokenIds, [2]);
}));

test('an end or begin token past the vocabulary is refused at load, naming the folder; a small GPT-2 without them names none', withDir(async (dir) => {
  // generation_config.json's eos_token_id 99999 replaced the real end token (2), which no logit can be: generation
  // ran past it to its length limit.
  const { loadModel, Model } = await import('../../src/models/model.js');
  cpSync(MODEL, join(dir, 'm'), { recursive: true });
  writeFileSync(join(dir, 'm', 'generation_config.json'), JSON.stringify({ eos_token_id: [99999] }));
  await assert.rejects(loadModel(join(dir, 'm')), /m\/generation_config\.json: "eos_token_id" must be a token id of the vocabulary \(0\.\.2047\) or a list of them, got 99999$/);
  // Without tokenizer.json too: generation_config's end ids are the model's (a generation from ids stops on them).
  rmSync(join(dir, 'm', 'tokenizer.json'));
  await assert.rejects(loadModel(join(dir, 'm')), /generation_config\.json: "eos_token_id" must be a token id/);
  writeFileSync(join(dir, 'm', 'generation_config.json'), JSON.stringify({ eos_token_id: [2, 7], bos_token_id: 1 }));
  assert.deepEqual((await loadModelFiles(join(dir, 'm'))).config.eosTokenIds, [2, 7]);
  cpSync(join(MODEL, 'tokenizer.json'), join(dir, 'm', 'tokenizer.json'));
  const withTokenizer = await loadModelFiles(join(dir, 'm'));
  assert.deepEqual([withTokenizer.config.eosTokenIds, withTokenizer.tokenizer!.eosTokenIds], [[2, 7], [2, 7]]);
  const config = JSON.parse(readFileSync(join(MODEL, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'm', 'generation_config.json'), '{}');
  writeFileSync(join(dir, 'm', 'config.json'), JSON.stringify({ ...config, bos_token_id: 5000 }));
  await assert.rejects(loadModel(join(dir, 'm')), /m: model config: bosTokenId must be null or a token id of the vocabulary \(0\.\.2047\), got 5000/);
  // A tokenizer that is not one failed only at the first encode.
  const files = await loadModelFiles(MODEL);
  assert.throws(() => new Model(files.config, files.weights, {} as never), /the tokenizer must be an object with encode and decode \(or null\), got object/);
  // transformers' GPT-2 default (50256) for a 300-token GPT-2 config without the fields: none, not an id past it.
  const { parseHfConfig } = await import('../../src/models/config.js');
  const small = parseHfConfig({ model_type: 'gpt2', vocab_size: 300, n_embd: 32, n_head: 4, n_layer: 1, n_positions: 64 }, 'small');
  assert.equal(small.bosTokenId, null);
  assert.deepEqual(small.eosTokenIds, []);
  assert.equal(parseHfConfig({ model_type: 'gpt2', vocab_size: 50257, n_embd: 32, n_head: 4, n_layer: 1, n_positions: 64 }, 'gpt2').bosTokenId, 50256);
}));

test('a model.safetensors link that leads nowhere is named as one (it read "neither … is present")', withDir(async (dir) => {
  const { symlinkSync, mkdirSync: mk } = await import('node:fs');
  const m = join(dir, 'm');
  mk(m);
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) cpSync(join(MODEL, f), join(m, f));
  symlinkSync('model.safetensors', join(m, 'model.safetensors'));
  await assert.rejects(loadModelFiles(m), /m: model\.safetensors is a symbolic link that leads to no file \(a dangling link or a loop\)/);
}));
