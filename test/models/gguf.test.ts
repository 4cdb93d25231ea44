import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, rmSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadModelFiles } from '../../src/models/load.js';
import { loadTokenizer } from '../../src/models/tokenizer.js';
import { HfTokenizer } from '../../src/models/tokenizers/hf.js';
import {
  GgmlType, GgufValueType, readGgufHeader, shortestFloat32Decimal, ggufToHfName, hfToGgufName, permuteRopeRows, q4_0ToF32, quantizeQ8_0, writeGguf, writeGgufContainer, gv,
  type GgufMetadata,
} from '../../src/models/gguf.js';
import { getBackend } from '../../src/tensor/index.js';
import { tinyByteLevelTokenizerJson, tinyGpt2, tinyQwen2 } from '../fixtures/tiny-models.js';
import { tempDir } from '../helpers/temp.js';
import { assertClose } from '../helpers/compare.js';

const MODEL = '../shared/models/tinystories-656k';
const ESSAYS = '../shared/data/pg-essays';

/** A GGUF file's metadata. */
function ggufMetadataOf(path: string): GgufMetadata {
  const fd = openSync(path, 'r');
  try { return readGgufHeader(fd, path).metadata; } finally { closeSync(fd); }
}

function withDir(fn: (dir: string) => void | Promise<void>) {
  return async () => {
    const dir = tempDir('namm-gguf-');
    try { await fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
  };
}

/** The HF q/k weight as llama.cpp's converter stores it (rows permuted for interleaved RoPE). */
function expectedStored(name: string, t: { shape: number[]; data: Float32Array }) {
  const m = /self_attn\.(q|k)_proj/.exec(name);
  return m ? permuteRopeRows(t, m[1] === 'q' ? 8 : 4) : t;
}

test('writeGguf writes beside the file and renames: an error part-way leaves the old file as it was (it was cut off)', withDir(async (dir) => {
  const { default: fs } = await import('node:fs');
  const { syncBuiltinESMExports } = await import('node:module');
  const { mock } = await import('node:test');
  const src = await loadModelFiles(MODEL);
  const p = join(dir, 'model.gguf');
  writeFileSync(p, 'the old model');
  // The disk fills after the first tensor's bytes.
  const writeSync = fs.writeSync as (...a: unknown[]) => number;
  let big = 0;
  mock.method(fs, 'writeSync', (...args: unknown[]) => {
    if (ArrayBuffer.isView(args[1]) && (args[1] as Uint8Array).byteLength > 1000 && ++big === 2) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return writeSync(...args);
  });
  syncBuiltinESMExports();
  try {
    assert.throws(() => writeGguf(p, src.config, src.weights, src.tokenizer), new RegExp(`^Error: cannot write ${p}: ENOSPC`));
  } finally {
    mock.restoreAll();
    syncBuiltinESMExports();
  }
  assert.equal(readFileSync(p, 'utf8'), 'the old model');
  assert.deepEqual(readdirSync(dir), ['model.gguf']);
}));

test('tinystories → GGUF F32 / F16 → load: every tensor identical, interleaved layout, tied embeddings', withDir(async (dir) => {
  const src = await loadModelFiles(MODEL);
  for (const dtype of ['F32', 'F16'] as const) {
    const p = join(dir, `ts-${dtype}.gguf`);
    writeGguf(p, src.config, src.weights, src.tokenizer, { dtype });
    const g = await loadModelFiles(p);
    assert.equal(g.format, 'gguf');
    assert.equal(g.config.ropeLayout, 'interleaved');
    // GGUF stores eps as float32 (9.99999997e-7 for 1e-6); it is read back as the shortest decimal of that float32,
    // the config's own value.
    assert.notEqual(Math.fround(src.config.normEps), src.config.normEps);
    assert.deepEqual({ ...g.config, ropeLayout: 'half', modelType: 'llama' }, src.config);
    assert.equal(g.weights.size, src.weights.size);
    assert.equal(g.weights.get('lm_head.weight'), g.weights.get('model.embed_tokens.weight'));
    for (const [name, t] of src.weights) {
      const got = g.weights.get(name)!;
      assert.deepEqual(got.shape, t.shape, name);
      // The shipped weights are f16 values stored as f32 (SOURCE.md), so F16 is lossless here too.
      assert.deepEqual(got.data, expectedStored(name, t).data, `${dtype} ${name}`);
    }
  }
}));

test('tinystories → GGUF Q8_0 → load: within the Q8_0 quantisation bound', withDir(async (dir, ) => {
  const src = await loadModelFiles(MODEL);
  const p = join(dir, 'ts-q8.gguf');
  writeGguf(p, src.config, src.weights, src.tokenizer, { dtype: 'Q8_0' });
  const g = await loadModelFiles(p);
  let maxErr = 0;
  for (const [name, t] of src.weights) {
    const ref = expectedStored(name, t).data, got = g.weights.get(name)!.data;
    if (t.shape.length === 1) { assert.deepEqual(got, ref, `${name} stays F32`); continue; }
    for (let b = 0; b < ref.length; b += 32) {
      let amax = 0;
      for (let i = b; i < b + 32; i++) amax = Math.max(amax, Math.abs(ref[i]!));
      // Rounding to the nearest step d/2 = amax/254, plus the f16 rounding of d (≤ 2^-11 relative) times |q| ≤ 127.
      const bound = amax / 254 + amax * 2 ** -11 + 1e-7;
      for (let i = b; i < b + 32; i++) {
        const err = Math.abs(got[i]! - ref[i]!);
        maxErr = Math.max(maxErr, err);
        assert.ok(err <= bound, `${name}[${i}] error ${err} > ${bound}`);
      }
    }
  }
  assert.ok(maxErr > 0 && maxErr < 0.02, `max abs error ${maxErr}`);
  console.log(`# tinystories Q8_0 round trip: max abs error ${maxErr}`);
}));

test('float32 metadata reads as the shortest decimal that rounds to it', () => {
  assert.equal(shortestFloat32Decimal(Math.fround(1e-5)), 1e-5);
  assert.equal(shortestFloat32Decimal(Math.fround(0.1)), 0.1);
  assert.equal(shortestFloat32Decimal(Math.fround(-2.5e-7)), -2.5e-7);
  assert.equal(shortestFloat32Decimal(500000), 500000);
  assert.equal(shortestFloat32Decimal(Math.fround(1 / 3)), 0.33333334, 'eight digits where fewer do not round back');
  assert.equal(shortestFloat32Decimal(0), 0);
});

test('Q8_0 quantiser: one block by hand (halves round away from zero, as roundf)', () => {
  const x = Float32Array.from({ length: 32 }, (_, i) => i - 16); // amax 16 → d = 16/127
  const q = quantizeQ8_0(x);
  assert.equal(q.length, 34);
  assert.equal(q[0]! | (q[1]! << 8), 0x3008); // half(16/127 = 0.125984…) = 0x3008 (0.1259765625)
  const qs = Int8Array.from(q.subarray(2));
  assert.equal(qs[0], -127);
  assert.equal(qs[8], -64); // -8 · 127/16 = -63.5 → -64
  assert.equal(qs[24], 64); //  8 · 127/16 =  63.5 →  64
  assert.equal(qs[16], 0);
  const back = new Float32Array(32);
  getBackend().q8_0ToF32(q, back, 32);
  assert.equal(back[0], -127 * 0.1259765625);
});

test('Q4_0 dequantisation: one block by hand', () => {
  const block = new Uint8Array(18);
  block[0] = 0x00; block[1] = 0x38; // half 0.5
  for (let j = 0; j < 16; j++) block[2 + j] = j | ((15 - j) << 4);
  const out = new Float32Array(32);
  q4_0ToF32(block, out, 32);
  for (let j = 0; j < 16; j++) {
    assert.equal(out[j], 0.5 * (j - 8));
    assert.equal(out[j + 16], 0.5 * (15 - j - 8));
  }
});

test('reads Q4_0 and BF16 tensors from a hand-assembled GGUF', withDir(async (dir) => {
  const p = join(dir, 'q4.gguf');
  const q4 = new Uint8Array(18 * 2);
  q4.set([0x00, 0x3c], 0); q4.set([0x00, 0x40], 18); // scales 1 and 2
  for (let j = 0; j < 16; j++) { q4[2 + j] = 0x99; q4[20 + j] = 0x07; } // (9-8)=1 both nibbles; (7-8)=-1 low, (0-8)=-8 high
  const bf = new Uint16Array([0x3f80, 0xc000]); // 1, -2
  writeGgufContainer(p, minimalLlamaMeta(), [
    { name: 'token_embd.weight', dims: [32, 2], type: GgmlType.Q4_0, bytes: q4 },
    { name: 'output_norm.weight', dims: [2], type: GgmlType.BF16, bytes: new Uint8Array(bf.buffer) },
  ]);
  const g = await loadModelFiles(p);
  const e = g.weights.get('model.embed_tokens.weight')!;
  assert.deepEqual(e.shape, [2, 32]);
  assert.deepEqual([...e.data.subarray(0, 32)], new Array(32).fill(1));
  assert.deepEqual([...e.data.subarray(32, 48)], new Array(16).fill(-2));
  assert.deepEqual([...e.data.subarray(48)], new Array(16).fill(-16));
  assert.deepEqual([...g.weights.get('model.norm.weight')!.data], [1, -2]);
}));

test('rope row permutation: inverse undoes it, and attention scores are unchanged under the interleaved layout', async () => {
  const src = await loadModelFiles(MODEL);
  const b = getBackend();
  const wq = src.weights.get('model.layers.0.self_attn.q_proj.weight')!;
  const wk = src.weights.get('model.layers.0.self_attn.k_proj.weight')!;
  assert.deepEqual(permuteRopeRows(permuteRopeRows(wq, 8), 8, true).data, wq.data);
  const n = 5, hd = 16;
  const x = Float32Array.from({ length: n * 128 }, (_, i) => Math.sin(i * 0.37));
  const pos = Int32Array.from({ length: n }, (_, i) => 3 + 7 * i);
  const invFreq = Float32Array.from({ length: hd / 2 }, (_, i) => 1 / 10000 ** ((2 * i) / hd));
  const project = (w: Float32Array, rows: number, heads: number, layout: 'half' | 'interleaved') => {
    const y = new Float32Array(n * rows);
    b.matmulABt(x, w, y, n, 128, rows);
    b.rope(y, n, heads, hd, pos, invFreq, layout);
    return y;
  };
  const q = project(wq.data, 128, 8, 'half'), k = project(wk.data, 64, 4, 'half');
  const q2 = project(permuteRopeRows(wq, 8).data, 128, 8, 'interleaved'), k2 = project(permuteRopeRows(wk, 4).data, 64, 4, 'interleaved');
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let h = 0; h < 8; h++) {
    let s = 0, s2 = 0;
    const kh = h >> 1; // GQA: 2 query heads per KV head
    for (let d = 0; d < hd; d++) {
      s += q[i * 128 + h * hd + d]! * k[j * 64 + kh * hd + d]!;
      s2 += q2[i * 128 + h * hd + d]! * k2[j * 64 + kh * hd + d]!;
    }
    assert.ok(Math.abs(s - s2) <= 1e-5 * Math.max(1, Math.abs(s)), `score ${i},${j},${h}: ${s} vs ${s2}`);
  }
});

test('GGUF embedded vocabulary encodes like tokenizer.json (tinystories, sample essays) and decodes the golden ids', withDir(async (dir) => {
  const src = await loadModelFiles(MODEL);
  const p = join(dir, 'ts.gguf');
  writeGguf(p, src.config, src.weights, src.tokenizer);
  const tok = await loadTokenizer(p);
  assert.equal(tok.vocabSize, 2048);
  assert.equal(tok.bosTokenId, 1);
  assert.deepEqual(tok.eosTokenIds, [2]);
  const golden = [147, 201, 282, 215, 286, 598, 1662, 356, 499, 826, 1363, 1145, 1652, 615, 242, 1482, 951, 628, 499, 826, 872, 921, 318, 385];
  assert.equal(tok.decode([1, ...golden]), 'Once upon a time, there was a little girl named Lily. She had a toy car that she loved very much. One day, she went to the park to play with her toy car in the park. Lily was very happy ');
  const texts = ['Once upon a time, there was a little girl named Lily.', 'héllo 😀😀 world', '  two  spaces\nnew line', ''];
  for (const f of readdirSync(ESSAYS).sort().slice(0, 4)) texts.push(readFileSync(join(ESSAYS, f), 'utf8').slice(0, 6000));
  for (const t of texts) {
    assert.deepEqual(tok.encode(t), src.tokenizer!.encode(t), JSON.stringify(t.slice(0, 40)));
    assert.deepEqual(tok.encode(t, { addBos: false }), src.tokenizer!.encode(t, { addBos: false }));
    const ids = tok.encode(t);
    assert.equal(tok.decode(ids), src.tokenizer!.decode(ids));
  }
  // An added token that strips the spaces around it has no form in a SentencePiece GGUF vocabulary: refused, not dropped.
  const hf = src.tokenizer as HfTokenizer, added = hf.json.added_tokens as { content: string }[];
  const stripping = new HfTokenizer({
    tokenizerJson: { ...hf.json, added_tokens: added.map((a, i) => (i === 0 ? { ...a, rstrip: true } : a)) },
    tokenizerConfig: hf.tokenizerConfig, origin: 'stripping',
  });
  assert.throws(() => writeGguf(join(dir, 'x.gguf'), src.config, src.weights, stripping),
    new RegExp(`added token ${JSON.stringify(added[0]!.content).replace(/[|[\]]/g, '\\$&')} has rstrip set, which a SentencePiece GGUF vocabulary has no form for`));
}));

test('end-of-generation ids: GGUF eos, eot and eom keys all stop a generation; several ids survive a round trip', withDir(async (dir) => {
  // A hand-built llama vocabulary whose file names an end of sequence (3), of turn (5) and of message (5 again).
  const tokens = ['<unk>', '<s>', '</s>', 'a', 'b', '<|eot|>'];
  const vocabMeta = (extra: [string, ReturnType<typeof gv.u32>][]): GgufMetadata => new Map([
    ...minimalLlamaMeta(),
    ['tokenizer.ggml.model', gv.str('llama')],
    ['tokenizer.ggml.tokens', gv.arr(GgufValueType.STRING, tokens)],
    ['tokenizer.ggml.bos_token_id', gv.u32(1)],
    ...extra,
  ]);
  const emb = [{ name: 'token_embd.weight', dims: [32, 6], type: GgmlType.F32, bytes: new Uint8Array(32 * 6 * 4) }];
  const p = join(dir, 'v.gguf');
  writeGgufContainer(p, vocabMeta([['tokenizer.ggml.eos_token_id', gv.u32(2)], ['tokenizer.ggml.eot_token_id', gv.u32(5)], ['tokenizer.ggml.eom_token_id', gv.u32(5)]]), emb);
  const g = await loadModelFiles(p);
  assert.deepEqual(g.tokenizer!.eosTokenIds, [2, 5]);
  assert.deepEqual(g.config.eosTokenIds, [2, 5]);
  writeGgufContainer(p, vocabMeta([['tokenizer.ggml.eot_token_id', gv.u32(5)]]), emb);
  assert.deepEqual((await loadModelFiles(p)).tokenizer!.eosTokenIds, [5], 'an end of turn alone');
  writeGgufContainer(p, vocabMeta([['tokenizer.ggml.eos_token_id', gv.u32(2)], ['tokenizer.ggml.eot_token_id', gv.u32(6)]]), emb);
  await assert.rejects(loadModelFiles(p), /tokenizer\.ggml\.eot_token_id 6 is not a token id of the vocabulary \(6 tokens\)/);

  // A model that stops on several ids (as Llama 3 instruct's generation_config lists them) keeps them all.
  const src = await loadModelFiles(MODEL);
  const out = join(dir, 'ts.gguf');
  writeGguf(out, { ...src.config, eosTokenIds: [2, 7, 9] }, src.weights, null, { dtype: 'F32' });
  assert.deepEqual((await loadModelFiles(out)).config.eosTokenIds, [2, 7, 9]);
  writeGguf(out, { ...src.config, eosTokenIds: [2] }, src.weights, null, { dtype: 'F32' });
  assert.deepEqual((await loadModelFiles(out)).config.eosTokenIds, [2]);
}));

test('GGUF export refuses what its architectures cannot say: GPT-2 with exact GELU, partial rotary embeddings', withDir(async (dir) => {
  const g = tinyGpt2(64);
  assert.throws(() => writeGguf(join(dir, 'g.gguf'), { ...g.config, activation: 'gelu_erf' }, g.weights, null), /GGUF's gpt2 uses the tanh GELU; this model's exact \(erf\) GELU would run as another model/);
  const q = tinyQwen2();
  assert.throws(() => writeGguf(join(dir, 'q.gguf'), { ...q.config, modelType: 'llama', ropeLayout: 'half', attnQkvBias: false, partialRotaryFactor: 0.5 }, q.weights, null), /partial rotary embeddings \(partial_rotary_factor 0\.5\) are not supported for llama/);
  assert.deepEqual(readdirSync(dir), [], 'nothing written');
}));

test('qwen2 → GGUF keeps the half layout (llama.cpp runs qwen2 NEOX-style) and the q/k/v biases', withDir(async (dir) => {
  const { config, weights } = tinyQwen2();
  const p = join(dir, 'qwen.gguf');
  writeGguf(p, config, weights, null, { dtype: 'F32' });
  const g = await loadModelFiles(p);
  assert.equal(g.config.modelType, 'qwen2');
  assert.equal(g.config.ropeLayout, 'half');
  assert.equal(g.config.attnQkvBias, true);
  assert.equal(g.config.attnOutBias, false);
  assert.equal(g.config.tieEmbeddings, false);
  for (const [name, t] of weights) assert.deepEqual(g.weights.get(name)!.data, t.data, name);
}));

test('a sliding window travels through GGUF (attention.sliding_window), also one as long as the context', withDir(async (dir) => {
  const { config, weights } = tinyQwen2();
  const window = Math.floor(config.maxPositions / 2);
  const p = join(dir, 'windowed.gguf');
  writeGguf(p, { ...config, slidingWindow: window }, weights, null, { dtype: 'F32' });
  const g = await loadModelFiles(p);
  assert.equal(g.config.slidingWindow, window);
  // A session on it runs past the window with the window's mask: the same logits as the model it was written from.
  const { Model } = await import('../../src/models/model.js');
  const ids = Array.from({ length: window + 9 }, (_, i) => 1 + ((i * 7) % 50));
  const got = new Model(g.config, g.weights, null, getBackend()).createSessionWith(null, { chunkSize: 4 }).prefill(ids, { logits: 'all' });
  const want = new Model({ ...config, slidingWindow: window }, weights, null, getBackend()).createSessionWith(null, { chunkSize: 4 }).prefill(ids, { logits: 'all' });
  const plain = new Model(config, weights, null, getBackend()).createSessionWith(null, { chunkSize: 4 }).prefill(ids, { logits: 'all' });
  assertClose(got, want, 1e-5, 'windowed logits');
  assert.ok(plain.some((x, i) => Math.abs(x - want[i]!) > 1e-3), 'the window matters at this length');
  // A window on some layers only cannot be said in GGUF (one key for every layer): refused, not written as another model.
  assert.throws(() => writeGguf(p, { ...config, nLayers: 3, slidingWindow: window, slidingLayers: [0, 2] }, weights, null, { dtype: 'F32' }), /sliding window is on layers 0, 2 only, which GGUF cannot say/);
  writeGguf(p, { ...config, slidingWindow: window, slidingLayers: [] }, weights, null, { dtype: 'F32' });
  assert.equal((await loadModelFiles(p)).config.slidingWindow, undefined, 'a window on no layer is no window');

  writeGguf(p, config, weights, null, { dtype: 'F32' });
  assert.equal((await loadModelFiles(p)).config.slidingWindow, undefined, 'no key, no window');
  // A window as long as the context is kept: the model runs past its context length, where the window cuts.
  writeGguf(p, { ...config, slidingWindow: config.maxPositions }, weights, null, { dtype: 'F32' });
  assert.equal((await loadModelFiles(p)).config.slidingWindow, config.maxPositions);
}));

test('GPT-2 → GGUF → load: Conv1D weights back in HF layout, byte-level vocabulary with merges', withDir(async (dir) => {
  const { json, vocabSize } = tinyByteLevelTokenizerJson();
  const hfTok = new HfTokenizer({ tokenizerJson: json, tokenizerConfig: { eos_token: '<|endoftext|>', bos_token: '<|endoftext|>' }, origin: 'tiny' });
  const { config, weights } = tinyGpt2(vocabSize);
  const p = join(dir, 'gpt2.gguf');
  writeGguf(p, config, weights, hfTok, { dtype: 'F32' });
  const g = await loadModelFiles(p);
  assert.equal(g.config.arch, 'gpt2');
  assert.equal(g.config.tieEmbeddings, true);
  for (const [name, t] of weights) {
    assert.deepEqual(g.weights.get(name)!.shape, t.shape, name);
    assert.deepEqual(g.weights.get(name)!.data, t.data, name);
  }
  const tok = g.tokenizer!;
  for (const text of ['the cat in the hat', ' another  one!\n', 'ünïcödé ☃']) {
    assert.deepEqual(tok.encode(text), hfTok.encode(text), text);
    assert.equal(tok.decode(tok.encode(text)), text);
  }
  // "Ġthe" is one merged token, the second-to-last merges give "Ġan".
  assert.equal(hfTok.encode(' the').length, 1);
  assert.deepEqual(tok.encode('<|endoftext|>'), [vocabSize - 1]);
  // llama.cpp's name for GPT-2's pre-tokenizer is "gpt-2" (it refuses "gpt2", which files before it was fixed hold).
  assert.match(readFileSync(p).subarray(0, 1 << 16).toString('latin1'), /tokenizer\.ggml\.pre[\s\S]{12}gpt-2/);
  // A named list of chat templates goes out as llama.cpp's converter writes it: the default as
  // tokenizer.chat_template, the others under their names (other characters than letters and digits as "_"), listed
  // in tokenizer.chat_templates; the file's model renders the default.
  const named = new HfTokenizer({ tokenizerJson: json, tokenizerConfig: { eos_token: '<|endoftext|>', bos_token: '<|endoftext|>', chat_template: [
    { name: 'default', template: '{% for m in messages %}[{{ m.content }}]{% endfor %}' }, { name: 'tool-use', template: 'tools' }, { name: '', template: 'dropped' },
  ] }, origin: 'tiny' });
  const np = join(dir, 'named.gguf');
  writeGguf(np, config, weights, named, { dtype: 'F32' });
  const namedMeta = ggufMetadataOf(np);
  assert.equal(namedMeta.get('tokenizer.chat_template')?.value, '{% for m in messages %}[{{ m.content }}]{% endfor %}');
  assert.equal(namedMeta.get('tokenizer.chat_template.tool_use')?.value, 'tools');
  assert.deepEqual(namedMeta.get('tokenizer.chat_templates')?.value, ['tool_use']);
  assert.deepEqual([...namedMeta.keys()].filter((k) => k.startsWith('tokenizer.chat_template')).sort(), ['tokenizer.chat_template', 'tokenizer.chat_template.tool_use', 'tokenizer.chat_templates']);
  assert.equal((await loadModelFiles(np)).tokenizer!.applyChatTemplate!([{ role: 'user', content: 'hi' }]), '[hi]');
  const twice = new HfTokenizer({ tokenizerJson: json, tokenizerConfig: { chat_template: [{ name: 'rag', template: 'a' }, { name: 'r.g', template: 'b' }, { name: 'r-g', template: 'c' }] }, origin: 'tiny' });
  assert.throws(() => writeGguf(join(dir, 'x.gguf'), config, weights, twice), /chat_template names "r_g" twice \(as "r-g" made a key\)/);
  // What GGUF has no field for is refused, not dropped: a normalizer, ByteLevel's add_prefix_space, an EOS template.
  const variant = (edit: (j: Record<string, any>) => void) => {
    const j = structuredClone(json) as Record<string, any>;
    edit(j);
    return new HfTokenizer({ tokenizerJson: j, tokenizerConfig: { eos_token: '<|endoftext|>', bos_token: '<|endoftext|>' }, origin: 'tiny' });
  };
  assert.throws(() => writeGguf(join(dir, 'x.gguf'), config, weights, variant((j) => { j.normalizer = { type: 'Lowercase' }; })), /the tokenizer's normalizer \(Lowercase\) has no GGUF form/);
  writeGguf(join(dir, 'nfc.gguf'), config, weights, variant((j) => { j.normalizer = { type: 'NFC' }; })); // Qwen2's: written, as llama.cpp's converter does
  assert.throws(() => writeGguf(join(dir, 'x.gguf'), config, weights, variant((j) => { j.pre_tokenizer = { ...j.pre_tokenizer, add_prefix_space: true }; })), /ByteLevel's add_prefix_space has no GGUF form/);
  assert.throws(() => writeGguf(join(dir, 'x.gguf'), config, weights, variant((j) => {
    j.post_processor = { type: 'TemplateProcessing', single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<|endoftext|>', type_id: 0 } }], pair: [], special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [vocabSize - 1], tokens: ['<|endoftext|>'] } } };
  })), /post-processor adds tokens other than a leading BOS/);
  // What namm's own keys carry through (llama.cpp has none for them): the tokenizer's clean-up of decoded spaces, and
  // added tokens that strip the whitespace around them.
  for (const cleanUp of [false, true]) {
    const stripping = new HfTokenizer({
      tokenizerJson: { ...json, added_tokens: [{ ...(json.added_tokens as object[])[0]!, lstrip: true, rstrip: true }] },
      tokenizerConfig: { eos_token: '<|endoftext|>', bos_token: '<|endoftext|>', clean_up_tokenization_spaces: cleanUp }, origin: 'tiny',
    });
    const q = join(dir, `strip-${cleanUp}.gguf`);
    writeGguf(q, config, weights, stripping, { dtype: 'F32' });
    const back = (await loadModelFiles(q)).tokenizer!;
    assert.equal(back.cleansUpSpaces, cleanUp);
    for (const text of ['the cat <|endoftext|>  in the hat', 'an apple , the end .']) {
      assert.deepEqual(back.encode(text), stripping.encode(text), text);
      assert.equal(back.decode(back.encode(text)), stripping.decode(stripping.encode(text)), text);
    }
    assert.equal(stripping.encode('a <|endoftext|> b').length, 3, 'the spaces around the token are stripped (the case this checks)');
  }
  // An added token that is also the model's unknown token keeps its flags (it failed to load: "names token 255,
  // which is not an added token"). One matched only as a whole word (single_word) is refused: the tokenizer library
  // matches it inside words too (the flag was carried through GGUF, and ignored on both sides).
  const first = (json.added_tokens as Record<string, unknown>[])[0]!;
  assert.throws(() => new HfTokenizer({ tokenizerJson: { ...json, added_tokens: [{ ...first, single_word: true }] }, tokenizerConfig: {}, origin: 'tiny' }),
    /^Error: tiny: tokenizer\.json added token "<\|endoftext\|>" is single_word \(matched only as a whole word\), which the tokenizer library namm uses does not apply/);
  for (const flags of [{ lstrip: true }]) {
    const unk = new HfTokenizer({
      tokenizerJson: { ...json, added_tokens: [{ ...first, ...flags }], model: { ...(json.model as object), unk_token: first.content } },
      tokenizerConfig: { eos_token: '<|endoftext|>', bos_token: '<|endoftext|>', unk_token: first.content, pad_token: first.content }, origin: 'tiny',
    });
    const q = join(dir, 'unk.gguf');
    writeGguf(q, config, weights, unk, { dtype: 'F32' });
    const back = (await loadModelFiles(q)).tokenizer!;
    for (const text of ['the cat <|endoftext|>  in the hat', 'a<|endoftext|>b', 'a <|endoftext|>b']) {
      assert.deepEqual(back.encode(text), unk.encode(text), `${JSON.stringify(flags)}: ${text}`);
    }
    const kept = ((back as HfTokenizer).json.added_tokens as Record<string, unknown>[]).find((a) => a.content === first.content)!;
    assert.deepEqual([kept.lstrip, kept.single_word, kept.special], [true, false, true]);
    assert.notDeepEqual(unk.encode('a <|endoftext|>b'), new HfTokenizer({ tokenizerJson: json, tokenizerConfig: {}, origin: 'tiny' }).encode('a <|endoftext|>b'), 'lstrip changes this text (the case this checks)');
  }
}));

test('GGUF special tokens besides BOS and EOS reach a chat template (unk, pad, sep, cls, mask), written by llama.cpp\'s keys', withDir(async (dir) => {
  const { json, vocabSize } = tinyByteLevelTokenizerJson();
  const { config, weights } = tinyGpt2(vocabSize);
  const eot = (json.added_tokens as { content: string }[])[0]!.content;
  const template = '{{ bos_token }}|{{ eos_token }}|{{ unk_token }}|{{ pad_token }}|{{ sep_token }}|{{ cls_token }}|{{ mask_token }}';
  const tok = new HfTokenizer({ tokenizerJson: json, tokenizerConfig: { eos_token: eot, bos_token: eot, pad_token: 'the', mask_token: eot, chat_template: template }, origin: 'tiny' });
  const p = join(dir, 's.gguf');
  writeGguf(p, config, weights, tok, { dtype: 'F32' });
  const meta = ggufMetadataOf(p);
  assert.equal(meta.get('tokenizer.ggml.padding_token_id')?.value, tok.tokenToId('the'));
  assert.equal(meta.get('tokenizer.ggml.mask_token_id')?.value, vocabSize - 1);
  assert.equal(meta.has('tokenizer.ggml.seperator_token_id'), false);
  const back = (await loadModelFiles(p)).tokenizer!;
  assert.equal(back.applyChatTemplate!([]), `${eot}|${eot}||the|||${eot}`);
  assert.equal(back.applyChatTemplate!([]), tok.applyChatTemplate!([]));
  // An id outside the vocabulary names no token, as llama.cpp reads it (its llama2.c converter writes 0xFFFFFFFF for
  // the padding and separator ids): the file loads, that variable is empty.
  const { rewriteGguf } = await import('../helpers/gguf-rewrite.js');
  const q = join(dir, 'bad-ids.gguf');
  rewriteGguf(p, q, { meta: (m) => { m.set('tokenizer.ggml.padding_token_id', gv.u32(0xffffffff)); m.set('tokenizer.ggml.seperator_token_id', gv.u32(vocabSize + 5)); } });
  assert.equal((await loadModelFiles(q)).tokenizer!.applyChatTemplate!([]), `${eot}|${eot}|||||${eot}`);
  // A byte-level model whose unknown token is an ordinary entry of its vocabulary keeps it ordinary (typed unknown,
  // it was read back as a special token, matched inside words and dropped when decoded).
  const plainUnk = new HfTokenizer({ tokenizerJson: { ...json, model: { ...(json.model as object), unk_token: 'the' } }, tokenizerConfig: { eos_token: eot }, origin: 'tiny' });
  const u = join(dir, 'plain-unk.gguf');
  writeGguf(u, config, weights, plainUnk, { dtype: 'F32' });
  const uBack = (await loadModelFiles(u)).tokenizer!;
  for (const text of ['a the b', 'xthey']) {
    assert.deepEqual(uBack.encode(text), plainUnk.encode(text), text);
    assert.equal(uBack.decode(uBack.encode(text)), text);
  }
  // Likewise in a SentencePiece vocabulary, whose unknown token then comes from the token types.
  const ts = await loadModelFiles('../shared/models/tinystories-656k');
  const sp = join(dir, 'spm.gguf'), spBad = join(dir, 'spm-bad.gguf');
  writeGguf(sp, ts.config, ts.weights, ts.tokenizer, { dtype: 'F32' });
  rewriteGguf(sp, spBad, { meta: (m) => { for (const k of ['unknown_token_id', 'padding_token_id', 'seperator_token_id']) m.set(`tokenizer.ggml.${k}`, gv.u32(0xffffffff)); } });
  const spTok = (await loadModelFiles(spBad)).tokenizer!, spRef = (await loadModelFiles(sp)).tokenizer!;
  for (const text of ['Once upon a time', 'a ☃ <unk> b']) assert.deepEqual(spTok.encode(text), spRef.encode(text), text);
}));

test('tensor names map both ways', () => {
  assert.equal(ggufToHfName('blk.3.attn_q.weight', 'llama'), 'model.layers.3.self_attn.q_proj.weight');
  assert.equal(ggufToHfName('blk.0.ffn_down.weight', 'llama'), 'model.layers.0.mlp.down_proj.weight');
  assert.equal(ggufToHfName('output.weight', 'llama'), 'lm_head.weight');
  assert.equal(ggufToHfName('blk.1.attn_qkv.bias', 'gpt2'), 'transformer.h.1.attn.c_attn.bias');
  assert.equal(ggufToHfName('position_embd.weight', 'gpt2'), 'transformer.wpe.weight');
  assert.equal(ggufToHfName('rope_freqs.weight', 'llama'), null);
  assert.equal(hfToGgufName('model.layers.11.post_attention_layernorm.weight', 'llama'), 'blk.11.ffn_norm.weight');
  assert.equal(hfToGgufName('transformer.ln_f.bias', 'gpt2'), 'output_norm.bias');
});

// ---------------------------------------------------------------- malformed files

function minimalLlamaMeta(): GgufMetadata {
  return new Map([
    ['general.architecture', gv.str('llama')],
    ['llama.context_length', gv.u32(64)], ['llama.embedding_length', gv.u32(32)], ['llama.block_count', gv.u32(1)],
    ['llama.feed_forward_length', gv.u32(64)], ['llama.attention.head_count', gv.u32(2)],
  ]);
}

/** Raw little-endian pieces for hand-built headers. */
const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
const u64 = (v: bigint | number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; };
const str = (s: string) => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);
const kvStr = (k: string, v: string) => Buffer.concat([str(k), u32(GgufValueType.STRING), str(v)]);

test('malformed GGUF files end in clear errors naming the file and the problem', withDir(async (dir) => {
  const p = join(dir, 'bad.gguf');
  const good = join(dir, 'good.gguf');
  writeGgufContainer(good, minimalLlamaMeta(), [{ name: 'token_embd.weight', dims: [32, 4], type: GgmlType.F32, bytes: new Uint8Array(512) }]);
  const goodBytes = readFileSync(good);
  await loadModelFiles(good); // the baseline loads
  const header = (version: number, nt: number | bigint, nkv: number | bigint, ...rest: Buffer[]) =>
    Buffer.concat([Buffer.from('GGUF'), u32(version), u64(nt), u64(nkv), ...rest, Buffer.alloc(64)]); // padding so counts pass
  const emb = (type: number, offset: number, dims = [32, 4]) =>
    Buffer.concat([str('token_embd.weight'), u32(dims.length), ...dims.map((d) => u64(d)), u32(type), u64(offset)]);
  const cases: [string, Buffer, RegExp][] = [
    // A .gguf file is read as one (these were described as llama2.c checkpoints, or as "exceeding (-1)").
    ['bad magic', Buffer.from('GGML\x03\x00\x00\x00'), /bad\.gguf: not a GGUF file \(bad magic\)$/],
    ['empty', Buffer.alloc(0), /bad\.gguf: too short for a GGUF file \(0 bytes; its header alone takes 24\)$/],
    ['20 bytes', header(3, 20, 0).subarray(0, 20), /too short for a GGUF file \(20 bytes/],
    ['version 1', header(1, 0, 0), /GGUF version 1 is not supported/],
    ['truncated counts', Buffer.from('GGUF\x03\x00\x00\x00\x01'), /too short for a GGUF file \(9 bytes/],
    ['truncated header', goodBytes.subarray(0, 60), /unexpected end of file|exceeds what the file can hold/],
    ['huge tensor count', header(3, 1n << 60n, 0), /tensor count \d+ exceeds what the file can hold/],
    ['huge string length', header(3, 0, 1, u64(1n << 50n)), /metadata key #0 length \d+ exceeds/],
    ['huge array', header(3, 0, 1, str('a'), u32(GgufValueType.ARRAY), u32(GgufValueType.UINT32), u64(1n << 40n)), /metadata key #0 "a" array length \d+ exceeds/],
    ['unknown value type', header(3, 0, 1, str('a'), u32(77), u32(0)), /metadata key #0 "a" has unknown value type 77/],
    ['garbled key', header(3, 0, 1, str('ge\u0001\u0002' + 'x'.repeat(500)), u32(77), u32(0)), /metadata key #0 "ge\\u0001\\u0002x{60}…" has unknown value type 77$/],
    ['bad bool', header(3, 0, 1, str('a'), u32(GgufValueType.BOOL), Buffer.from([7])), /bool with value 7/],
    ['bad alignment', header(3, 0, 1, str('general.alignment'), u32(GgufValueType.UINT32), u32(24)), /general\.alignment must be a power of two from 1 to 2\^31, got 24/],
    // `&` reads int32s: 3·2³² passed the power-of-two test, and the file then failed as "truncated?".
    ['alignment a multiple of 2^32', header(3, 0, 1, str('general.alignment'), u32(GgufValueType.UINT64), u64(3n << 32n)), /general\.alignment must be a power of two from 1 to 2\^31, got 12884901888/],
    ['alignment 2^32', header(3, 0, 1, str('general.alignment'), u32(GgufValueType.UINT64), u64(1n << 32n)), /general\.alignment must be a power of two from 1 to 2\^31, got 4294967296/],
    ['five dims', header(3, 1, 0, str('t'), u32(5)), /tensor "t" has 5 dimensions/],
    ['zero dim', header(3, 1, 0, str('t'), u32(1), u64(0)), /tensor "t" has an invalid dimension 0/],
    ['unknown tensor type', header(3, 1, 0, emb(99, 0), Buffer.alloc(600)), /tensor "token_embd\.weight" has type #99, which is unknown/],
    ['unsupported tensor type', header(3, 1, 0, emb(16, 0), Buffer.alloc(600)), /has type IQ2_XXS, which is not supported \(F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS are\)/],
    ['k-quant rows of a partial super-block', header(3, 1, 0, emb(12, 0), Buffer.alloc(600)), /row length 32 is not a multiple of the Q4_K block size 256/],
    ['misaligned offset', header(3, 1, 0, emb(0, 4), Buffer.alloc(600)), /offset 4 is not a multiple of the alignment 32/],
    ['tensor past EOF', header(3, 1, 0, emb(0, 0), Buffer.alloc(100)), /tensor "token_embd\.weight" \(512 bytes at data offset 0\) runs past the end of the file/],
    ['Q8_0 row not a block multiple', header(3, 1, 0, emb(8, 0, [20, 4]), Buffer.alloc(600)), /row length 20 is not a multiple of the Q8_0 block size 32/],
    ['duplicate key', header(3, 0, 2, kvStr('a', 'x'), kvStr('a', 'y')), /duplicate metadata key #1 "a"/],
    ['no architecture', header(3, 1, 0, emb(0, 0), Buffer.alloc(600)), /required metadata key "general\.architecture" is missing/],
    ['unsupported architecture', header(3, 0, 1, kvStr('general.architecture', 'mamba')), /architecture "mamba" is not supported/],
  ];
  for (const [what, bytes, re] of cases) {
    writeFileSync(p, bytes);
    await assert.rejects(loadModelFiles(p), (e: Error) => re.test(e.message) && e.message.includes(dir), `${what}: expected ${re}`);
  }
  const meta = minimalLlamaMeta();
  meta.delete('llama.block_count');
  writeGgufContainer(p, meta, [{ name: 'token_embd.weight', dims: [32, 4], type: GgmlType.F32, bytes: new Uint8Array(512) }]);
  await assert.rejects(loadModelFiles(p), /bad\.gguf: required metadata key "llama\.block_count" is missing/);
  writeGgufContainer(p, minimalLlamaMeta(), [{ name: 'blk.0.mystery.weight', dims: [32], type: GgmlType.F32, bytes: new Uint8Array(128) },
    { name: 'token_embd.weight', dims: [32, 4], type: GgmlType.F32, bytes: new Uint8Array(512) }]);
  await assert.rejects(loadModelFiles(p), /tensor "blk\.0\.mystery\.weight" has no counterpart in a llama model/);
}));
