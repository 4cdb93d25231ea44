import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertModel } from '../../src/cli/convert.js';
import { loadModelFiles } from '../../src/models/load.js';
import { readSafetensors, writeSafetensors } from '../../src/models/safetensors.js';
import { tempDir } from '../helpers/temp.js';

const MODEL = '../shared/models/tinystories-656k';

function withDir(fn: (dir: string) => void | Promise<void>) {
  return async () => {
    const dir = tempDir('namm-conv-');
    try { await fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
  };
}

test('HF → GGUF → HF folder gives back the original weights, config and tokenizer', withDir(async (dir) => {
  const src = await loadModelFiles(MODEL);
  const gguf = join(dir, 'ts.gguf');
  const r1 = await convertModel({ from: MODEL, to: 'gguf', out: gguf });
  assert.equal(r1.tokenizer, 'embedded');
  assert.match(r1.notes.join(), /SentencePiece-style vocabulary tokenizes as llama\.cpp reads it, which differs from tokenizer\.json around special tokens/);
  assert.doesNotMatch(r1.notes.join(), /prepend_scheme/, 'this one prepends by its normalizer');
  const r2 = await convertModel({ from: gguf, to: 'safetensors', out: join(dir, 'back') });
  assert.equal(r2.tensors, 20, 'the tied embedding is stored once');
  assert.match(r2.notes.join(), /not written as tokenizer\.json/);
  const back = await loadModelFiles(join(dir, 'back'));
  assert.equal(back.config.ropeLayout, 'half');
  assert.deepEqual(back.config, src.config, 'rms_norm_eps too: GGUF\'s float32 of 1e-6 reads back as 1e-6');
  for (const [name, t] of src.weights) assert.deepEqual(back.weights.get(name)!.data, t.data, name);
  assert.equal(back.weights.get('lm_head.weight'), back.weights.get('model.embed_tokens.weight'));
  assert.deepEqual(readSafetensors(join(dir, 'back', 'model.safetensors')).metadata, { format: 'pt', 'model.embed_tokens.weight': 'lm_head.weight' });
}));

test('HF → HF f16 copies the tokenizer files; bad dtypes are refused', withDir(async (dir) => {
  const out = join(dir, 'f16');
  const r = await convertModel({ from: MODEL, to: 'safetensors', out, dtype: 'f16' });
  assert.equal(r.tokenizer, 'copied');
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json']) {
    assert.deepEqual(readFileSync(join(out, f)), readFileSync(join(MODEL, f)), f);
  }
  assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).torch_dtype, 'float16');
  const src = await loadModelFiles(MODEL);
  const back = await loadModelFiles(out);
  // The shipped weights are f16 values held in f32, so f16 storage is exact for them.
  for (const [name, t] of src.weights) assert.deepEqual(back.weights.get(name)!.data, t.data, name);
  assert.deepEqual(back.tokenizer!.encode('Once upon a time'), src.tokenizer!.encode('Once upon a time'));
  await assert.rejects(convertModel({ from: MODEL, to: 'safetensors', out, dtype: 'q8_0' }), /--dtype q8_0 is not available for safetensors/);
  await assert.rejects(convertModel({ from: MODEL, to: 'gguf', out: join(dir, 'x.gguf'), dtype: 'bf16' }), /--dtype bf16 is not available for GGUF/);
  assert.equal(existsSync(join(dir, 'x.gguf')), false);
  // The writer's refusals name the file asked for, not the temporary file it writes first.
  await assert.rejects(convertModel({ from: 'models/namm-tiny-llama', to: 'gguf', out: join(dir, 'shipped.gguf') }),
    (err: Error) => err.message.startsWith(`GGUF writer (${join(dir, 'shipped.gguf')}): `) && !err.message.includes('.tmp-'));
}));

test('HF → GGUF of a Metaspace vocabulary with prepend_scheme "first": the note says where it tokenizes otherwise', withDir(async (dir) => {
  const src = join(dir, 'src');
  mkdirSync(src);
  for (const f of ['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer_config.json']) copyFileSync(join(MODEL, f), join(src, f));
  const json = JSON.parse(readFileSync(join(MODEL, 'tokenizer.json'), 'utf8'));
  json.normalizer = null;
  json.pre_tokenizer = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false };
  writeFileSync(join(src, 'tokenizer.json'), JSON.stringify(json));
  const r = await convertModel({ from: src, to: 'gguf', out: join(dir, 'm.gguf') });
  assert.match(r.notes.join(), /with its Metaspace prepend_scheme "first", for text that begins with a space/);
}));

test('HF → HF copies chat_template.jinja, and a stale one in the output folder is refused', withDir(async (dir) => {
  const src = join(dir, 'src');
  mkdirSync(src);
  for (const f of ['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(MODEL, f), join(src, f));
  writeFileSync(join(src, 'chat_template.jinja'), '{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}');
  const out = join(dir, 'out');
  await convertModel({ from: src, to: 'safetensors', out });
  assert.deepEqual(readFileSync(join(out, 'chat_template.jinja')), readFileSync(join(src, 'chat_template.jinja')));
  const back = await loadModelFiles(out);
  assert.equal(back.tokenizer!.applyChatTemplate!([{ role: 'user', content: 'hi' }], { addGenerationPrompt: false }), '<user>hi');
  // A GGUF's SentencePiece vocabulary writes no tokenizer files: the old template would stay beside new weights.
  const gguf = join(dir, 'm.gguf');
  await convertModel({ from: MODEL, to: 'gguf', out: gguf });
  await assert.rejects(convertModel({ from: gguf, to: 'safetensors', out, force: true }), /out holds tokenizer\.json, .*chat_template\.jinja, which this conversion would not replace/);
}));

test('--force over a model folder: a tokenizer file the conversion would not replace is refused, nothing written', withDir(async (dir) => {
  const out = join(dir, 'hf');
  await convertModel({ from: MODEL, to: 'safetensors', out });
  const gguf = join(dir, 'ts.gguf');
  await convertModel({ from: MODEL, to: 'gguf', out: gguf });
  const before = readFileSync(join(out, 'model.safetensors'));
  // The GGUF's SentencePiece vocabulary is not written as tokenizer.json: the old one would stay beside new weights.
  await assert.rejects(convertModel({ from: gguf, to: 'safetensors', out, force: true }),
    /hf holds tokenizer\.json, tokenizer_config\.json, special_tokens_map\.json, generation_config\.json, which this conversion would not replace \(the source has no tokenizer to write\)/);
  assert.ok(readFileSync(join(out, 'model.safetensors')).equals(before), 'the folder is as it was');
  // From a HF folder every tokenizer file is replaced, so --force goes through.
  const r = await convertModel({ from: MODEL, to: 'safetensors', out, force: true, dtype: 'f16' });
  assert.equal(r.tokenizer, 'copied');
}));

test('the slow tokenizers\' files and chat_template.json travel with the tokenizer: copied from a HF folder, refused when stale (transformers loaded the old model\'s)', withDir(async (dir) => {
  const gguf = join(dir, 'ts.gguf');
  await convertModel({ from: MODEL, to: 'gguf', out: gguf });
  const extra = ['chat_template.json', 'tokenizer.model', 'vocab.json', 'merges.txt', 'added_tokens.json'];
  for (const f of extra) {
    const out = join(dir, `old-${f}`);
    mkdirSync(out);
    copyFileSync(join(MODEL, 'config.json'), join(out, 'config.json'));
    copyFileSync(join(MODEL, 'model.safetensors'), join(out, 'model.safetensors'));
    writeFileSync(join(out, f), `the old model's ${f}`);
    await assert.rejects(convertModel({ from: gguf, to: 'safetensors', out, force: true }),
      new RegExp(`old-${f.replace('.', '\\.')} holds ${f.replace('.', '\\.')}, which this conversion would not replace \\(the source has no tokenizer to write\\)`));
    assert.ok(readFileSync(join(out, 'model.safetensors')).equals(readFileSync(join(MODEL, 'model.safetensors'))), 'nothing written');
  }
  // From a HF folder that has them, they are copied as the other tokenizer files are.
  const src = join(dir, 'src');
  mkdirSync(src);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(MODEL, f), join(src, f));
  for (const f of extra) writeFileSync(join(src, f), `the source's ${f}`);
  const out = join(dir, 'old-vocab.json');
  const r = await convertModel({ from: src, to: 'safetensors', out, force: true });
  assert.equal(r.tokenizer, 'copied');
  for (const f of extra) assert.equal(readFileSync(join(out, f), 'utf8'), `the source's ${f}`);
}));

test('--force over a folder with a folder where a model file goes, and --tokenizer on a source that has its own: refused before anything is written', withDir(async (dir) => {
  const out = join(dir, 'hf');
  await convertModel({ from: MODEL, to: 'safetensors', out });
  const before = readFileSync(join(out, 'model.safetensors'));
  rmSync(join(out, 'tokenizer.json'));
  mkdirSync(join(out, 'tokenizer.json'));
  // It failed at that file, after model.safetensors and config.json had been replaced beside the old tokenizer files.
  await assert.rejects(convertModel({ from: MODEL, to: 'safetensors', out, force: true, dtype: 'f16' }), /cannot write .*hf\/tokenizer\.json: it is a folder, not a file/);
  assert.ok(readFileSync(join(out, 'model.safetensors')).equals(before), 'the folder is as it was');
  // --tokenizer was ignored for a HF folder or a GGUF file (only a llama2.c checkpoint reads one beside it).
  await assert.rejects(convertModel({ from: MODEL, to: 'gguf', out: join(dir, 'x.gguf'), tokenizer: join(MODEL, 'tokenizer.json') }),
    /--tokenizer applies to a llama2\.c checkpoint \(its tokenizer\.bin\); .* is a Hugging Face model, whose own tokenizer is converted/);
  assert.equal(existsSync(join(dir, 'x.gguf')), false);
}));

test('what --from reads beside it is an input too: a .safetensors file\'s folder, a llama2.c checkpoint\'s tokenizer.bin (--force rewrote the source\'s config.json)', withDir(async (dir) => {
  const src = join(dir, 'src');
  mkdirSync(src);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(MODEL, f), join(src, f === 'model.safetensors' ? 'model.fp32.safetensors' : f));
  const config = readFileSync(join(src, 'config.json'));
  const from = join(src, 'model.fp32.safetensors');
  const why = `\\(the folder of --from ${from.replace(/[.]/g, '\\.')}, whose config\\.json and tokenizer files are read\\); write somewhere else$`;
  await assert.rejects(convertModel({ from, to: 'safetensors', out: src, dtype: 'bf16', force: true }), new RegExp(`^Error: ${src} would overwrite the input ${src} ${why}`));
  await assert.rejects(convertModel({ from, to: 'gguf', out: join(src, 'm.gguf'), force: true }), new RegExp(`^Error: ${src}/m\\.gguf lies inside the input folder ${src} ${why}`));
  assert.ok(readFileSync(join(src, 'config.json')).equals(config));
  assert.deepEqual(readdirSync(src).sort(), ['config.json', 'model.fp32.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  // Elsewhere it converts as before.
  assert.equal((await convertModel({ from, to: 'gguf', out: join(dir, 'm.gguf') })).tokenizer, 'embedded');
  // A llama2.c checkpoint reads the tokenizer.bin beside it unless --tokenizer names another.
  const l2c = join(dir, 'l2c');
  mkdirSync(l2c);
  writeFileSync(join(l2c, 'model.bin'), Buffer.alloc(64));
  writeFileSync(join(l2c, 'tokenizer.bin'), 'the old tokenizer');
  await assert.rejects(convertModel({ from: join(l2c, 'model.bin'), to: 'gguf', out: join(l2c, 'tokenizer.bin'), force: true }),
    new RegExp(`^Error: ${l2c}/tokenizer\\.bin would overwrite the input ${l2c}/tokenizer\\.bin \\(the tokenizer of the llama2\\.c checkpoint --from ${l2c}/model\\.bin\\); write somewhere else$`));
  assert.equal(readFileSync(join(l2c, 'tokenizer.bin'), 'utf8'), 'the old tokenizer');
}));

test('--to safetensors --out an existing file is refused before the source is read (it was loaded whole first)', withDir(async (dir) => {
  const out = join(dir, 'a-file');
  writeFileSync(out, 'keep me');
  // A source that fails to load: the refusal comes first.
  const broken = join(dir, 'broken.gguf');
  writeFileSync(broken, 'not a model');
  await assert.rejects(convertModel({ from: broken, to: 'safetensors', out, force: true }),
    new RegExp(`^Error: ${out}: exists and is not a folder \\(safetensors output is a HF folder\\); choose another --out$`));
  assert.equal(readFileSync(out, 'utf8'), 'keep me');
}));

test('a folder whose config.json disagrees with its weights is refused before anything is written (both outputs)', withDir(async (dir) => {
  // The same files with a config that says 3 layers and a 256-wide MLP: it was converted, and the loader then refused the output.
  const bad = join(dir, 'bad');
  mkdirSync(bad);
  for (const f of ['model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(MODEL, f), join(bad, f));
  const config = JSON.parse(readFileSync(join(MODEL, 'config.json'), 'utf8'));
  writeFileSync(join(bad, 'config.json'), JSON.stringify({ ...config, intermediate_size: 256 }));
  await assert.rejects(convertModel({ from: bad, to: 'gguf', out: join(dir, 'x.gguf') }), /bad: weight "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[384,128\] but \[256,128\] was expected/);
  writeFileSync(join(bad, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: 3 }));
  await assert.rejects(convertModel({ from: bad, to: 'safetensors', out: join(dir, 'hf') }), /bad: missing weight "model\.layers\.2\.input_layernorm\.weight"/);
  assert.equal(existsSync(join(dir, 'x.gguf')), false);
  assert.equal(existsSync(join(dir, 'hf')), false);
}));

test('convertModel: bad options are named; a device target is refused as one; a failed folder output leaves no empty folder', withDir(async (dir) => {
  // Raw errors before: "toUpperCase is not a function", Node's "paths[0]" message.
  await assert.rejects(convertModel({ from: MODEL, to: 'gguf', out: join(dir, 'a.gguf'), dtype: 5 as never }), /^TypeError: convertModel: dtype must be a string, got 5/);
  await assert.rejects(convertModel({ from: MODEL, to: 'gguf' } as never), /^TypeError: convertModel: out must be a path, got undefined/);
  await assert.rejects(convertModel(undefined as never), /convertModel: options must be an object/);
  await assert.rejects(convertModel({ from: MODEL, to: 'gguf', out: join(dir, 'b.gguf'), froce: true } as never), /convertModel: unknown option "froce"/);
  // It said "/dev/null exists; pass --force to overwrite it", and --force was then refused.
  await assert.rejects(convertModel({ from: MODEL, to: 'gguf', out: '/dev/null' }), /cannot write \/dev\/null: \/dev\/null is a character device/);
  // A weight beyond float16's range: refused while writing, and the folder the conversion made is gone again.
  const big = join(dir, 'big');
  mkdirSync(big);
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(MODEL, f), join(big, f));
  const src = await loadModelFiles(MODEL);
  const tensors = new Map([...src.weights].filter(([name]) => name !== 'lm_head.weight').map(([name, t]) => [name, { dtype: 'F32' as const, shape: t.shape, data: t.data }]));
  const norm = tensors.get('model.norm.weight')!;
  tensors.set('model.norm.weight', { ...norm, data: Float32Array.from(norm.data, (v, i) => (i === 0 ? 100000 : v)) });
  writeSafetensors(join(big, 'model.safetensors'), tensors, { format: 'pt' });
  await assert.rejects(convertModel({ from: big, to: 'safetensors', out: join(dir, 'big-f16'), dtype: 'f16' }), /holds 100000, beyond float16's range/);
  assert.equal(existsSync(join(dir, 'big-f16')), false, 'no empty folder left');
  // Parents it made go too, up to the first that existed.
  await assert.rejects(convertModel({ from: big, to: 'safetensors', out: join(dir, 'a', 'b', 'c'), dtype: 'f16' }), /beyond float16's range/);
  assert.equal(existsSync(join(dir, 'a')), false, 'no empty parents left');
}));

test('GGUF Q8_0 / Q4_0: matrices whose rows are no multiple of 32 go out as F16, and the report says so', withDir(async (dir) => {
  const { llamaConfig, randomWeights } = await import('../../src/models/random.js');
  const { toHfConfig } = await import('../../src/models/config.js');
  const config = llamaConfig({ vocabSize: 64, hiddenSize: 40, nLayers: 1, nHeads: 2, nKvHeads: 2, intermediateSize: 64, maxPositions: 64 });
  const src = join(dir, 'odd');
  mkdirSync(src);
  writeFileSync(join(src, 'config.json'), JSON.stringify(toHfConfig(config)));
  const weights = [...randomWeights(config, 1)].filter(([name]) => name !== 'lm_head.weight'); // tied: stored once
  writeSafetensors(join(src, 'model.safetensors'), new Map(weights.map(([name, t]) => [name, { dtype: 'F32' as const, shape: t.shape, data: t.data as Float32Array }])));
  for (const dtype of ['q8_0', 'q4_0']) {
    const r = await convertModel({ from: src, to: 'gguf', out: join(dir, `odd-${dtype}.gguf`), dtype });
    // Rows of 40 (the embedding and every matrix that reads the hidden state: 7) cannot be split into 32-value blocks; down_proj's rows of 64 can.
    assert.match(r.notes.join('\n'), new RegExp(`^7 matrices whose rows are no multiple of 32 values went out as F16, not ${dtype.toUpperCase()} \\(as llama\\.cpp writes them\\): model\\.embed_tokens\\.weight, `, 'm'));
  }
  const even = await convertModel({ from: MODEL, to: 'gguf', out: join(dir, 'even.gguf'), dtype: 'q8_0' });
  assert.ok(!even.notes.some((n) => n.includes('F16')), even.notes.join());
}));

test('HF → HF from a folder with only a slow tokenizer copies its files and says namm cannot read them', withDir(async (dir) => {
  const src = join(dir, 'src');
  mkdirSync(src);
  for (const f of ['config.json', 'model.safetensors', 'generation_config.json']) copyFileSync(join(MODEL, f), join(src, f));
  writeFileSync(join(src, 'tokenizer.model'), Buffer.from([1, 2, 3, 4]));
  writeFileSync(join(src, 'special_tokens_map.json'), '{"bos_token": "<s>"}');
  const out = join(dir, 'out');
  const r = await convertModel({ from: src, to: 'safetensors', out });
  // It converted with no tokenizer at all and no word about it.
  assert.equal(r.tokenizer, 'copied');
  for (const f of ['tokenizer.model', 'special_tokens_map.json', 'generation_config.json']) assert.deepEqual(readFileSync(join(out, f)), readFileSync(join(src, f)), f);
  assert.ok(r.notes.includes('the source has no tokenizer.json: its special_tokens_map.json, tokenizer.model were copied as they are (transformers reads them; namm reads a tokenizer.json)'), r.notes.join('\n'));
  // generation_config.json alone is no tokenizer.
  rmSync(join(src, 'tokenizer.model'));
  rmSync(join(src, 'special_tokens_map.json'));
  const bare = await convertModel({ from: src, to: 'safetensors', out: join(dir, 'bare') });
  assert.equal(bare.tokenizer, 'none');
  assert.ok(existsSync(join(dir, 'bare', 'generation_config.json')));
}));

test('HF → HF --force into a folder of a sharded model is refused before anything is read', withDir(async (dir) => {
  const out = join(dir, 'sharded');
  mkdirSync(out);
  writeFileSync(join(out, 'model.safetensors.index.json'), '{"weight_map": {}}');
  await assert.rejects(convertModel({ from: MODEL, to: 'safetensors', out, force: true }),
    /sharded holds model\.safetensors\.index\.json, another model's sharded weights, which this conversion would not replace; remove it and its shards, or choose another --out$/);
  assert.deepEqual(readdirSync(out), ['model.safetensors.index.json']);
}));
