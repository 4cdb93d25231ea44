/**
 * Configs and inputs the trainer used to accept and then fail on mid-run (or never finish): empty length lists of a
 * drawn kind, recall lengths too short for their gaps, recall samples with more records than distinct keys, a
 * vocabulary the config allows but the BPE trainer refused, a tokenizer path that does not exist, and a model too large
 * to train (it failed with "Invalid typed array length" after the tokenizer had been trained and files written).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HfTokenizer } from '../../src/models/tokenizers/hf.js';
import { JsBackend } from '../../src/tensor/js.js';
import { bpeTokenizerConfig, bpeTokenizerJson, trainBpe } from '../../src/train/bpe.js';
import { MAX_VOCAB_SIZE, parseTrainConfig } from '../../src/train/config.js';
import { brownDocuments } from '../../src/train/corpus.js';
import { DataMixer, tokenStream } from '../../src/train/data.js';
import { createTrainableModel } from '../../src/train/family.js';
import { backendGemm } from '../../src/train/ops/gemm.js';
import { checkTrainingSize, MAX_TRAIN_PARAMETERS, modelConfigFor, runTraining } from '../../src/train/trainer.js';
import { tempDir } from '../helpers/temp.js';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const base = { model: { arch: 'llama', hiddenSize: 16, nLayers: 1, nHeads: 4, intermediateSize: 8, maxPositions: 512 }, training: { steps: 1 } };

describe('training config: what would fail at a draw is refused up front', () => {
  it('an empty list of lengths (or tasks) of a kind that is drawn', () => {
    assert.throws(() => parseTrainConfig({ ...base, data: { textLengths: [64], recallWeight: 1, recallLengths: [] } }), /data\.recallLengths is empty, but its kind of sample is drawn/);
    assert.throws(() => parseTrainConfig({ ...base, data: { textWeight: 1, taskWeight: 1, tasks: [], taskLengths: [128] } }), /data\.tasks is empty/);
    assert.throws(() => parseTrainConfig({ ...base, data: { textWeight: 1, taskWeight: 0, textLengths: [] } }), /data\.textLengths is empty/);
    assert.throws(() => parseTrainConfig({ ...base, data: { textWeight: 1, taskWeight: 0, copyWeight: 1, textLengths: [64], copyLengths: [] } }), /data\.copyLengths is empty/);
    // A kind that is not drawn may leave its list empty.
    assert.deepEqual(parseTrainConfig({ ...base, data: { textWeight: 1, taskWeight: 0, tasks: [], textLengths: [64] } }).data.tasks, []);
  });

  it('recall lengths too short for the largest gaps (every length is drawn with every gap)', () => {
    // A record is at most 2 + gap + 2 + 1 tokens; one record and its query (plus the query gap) after BOS.
    assert.throws(() => parseTrainConfig({ ...base, data: { textLengths: [64], recallWeight: 1, recallLengths: [32, 64], recallGaps: [16] } }),
      /data\.recallLengths: 32 cannot hold a recall record and its query at gap 16 \(43 tokens\)/);
    assert.throws(() => parseTrainConfig({ ...base, data: { textLengths: [64], recallWeight: 1, recallLengths: [58], recallGaps: [16], recallQueryGaps: [0, 16] } }),
      /58 cannot hold a recall record and its query at gap 16 and query gap 16 \(59 tokens\)/);
    assert.deepEqual(parseTrainConfig({ ...base, data: { textLengths: [64], recallWeight: 1, recallLengths: [43], recallGaps: [16] } }).data.recallLengths, [43]);
  });
});

describe('training config: fields that were accepted and ignored are refused', () => {
  it('ropeTheta on a gpt2 model, a misspelt task that is not drawn', () => {
    const gpt2 = { arch: 'gpt2', hiddenSize: 16, nLayers: 1, nHeads: 4, intermediateSize: 8, maxPositions: 512 };
    assert.throws(() => parseTrainConfig({ ...base, model: { ...gpt2, ropeTheta: 500000 } }), /model\.ropeTheta applies to llama models/);
    assert.equal(parseTrainConfig({ ...base, model: gpt2 }).model.arch, 'gpt2');
    assert.equal(parseTrainConfig({ ...base, init: 'models/x' }).tokenizer.path, 'models/x');
    assert.throws(() => parseTrainConfig({ ...base, data: { textLengths: [64], taskWeight: 0, tasks: ['passkey', 'pass_key'] } }), /data\.tasks: unknown task "pass_key"/);
  });

  it('a context below the shortest sample of a drawn kind whose lengths follow it names the context', () => {
    const small = { ...base.model, maxPositions: 24 };
    assert.throws(() => parseTrainConfig({ ...base, model: small, data: { textWeight: 1, taskWeight: 0, copyWeight: 1 } }), /model\.maxPositions 24 is below the shortest copy sample \(32 tokens\)/);
    assert.throws(() => parseTrainConfig({ ...base, model: { ...base.model, maxPositions: 48 }, data: { textWeight: 1 } }), /model\.maxPositions 48 is below the shortest task sample \(64 tokens\)/);
    assert.throws(() => parseTrainConfig({ ...base, model: small, data: { textWeight: 1, taskWeight: 0, recallWeight: 1 } }), /model\.maxPositions 24 is below the shortest recall sample/);
    assert.equal(parseTrainConfig({ ...base, model: small, data: { textWeight: 1, taskWeight: 0 } }).data.textLengths[1], 24);
  });
});

describe('data mixer', () => {
  const bpe = trainBpe(brownDocuments().slice(0, 2).map((d) => d.text), { vocabSize: 300 });
  const tok = new HfTokenizer({ tokenizerJson: bpeTokenizerJson(bpe), tokenizerConfig: bpeTokenizerConfig(bpe, 512), origin: 'test' });
  const stream = tokenStream(brownDocuments().slice(0, 2), tok, 1, 2);
  const recall = { textWeight: 0, taskWeight: 0, recallWeight: 1, textLengths: [64], taskLengths: [], tasks: [], lossOn: 'answer' as const, seed: 0 };

  it('refuses empty recall lengths and recall lengths too short for the gaps when it is made, not at a draw', () => {
    assert.throws(() => new DataMixer({ ...recall, recallLengths: [] }, stream, tok, 1, 2, 512), /recallLengths is empty/);
    assert.throws(() => new DataMixer({ ...recall, recallLengths: [32], recallGaps: [16] }, stream, tok, 1, 2, 512), /recall length 32 cannot hold a record/);
  });

  it('refuses a shortest task length that cannot hold the prompt of a task with this tokenizer when it is made, not at a draw', () => {
    const tasks = { textWeight: 0, taskWeight: 1, textLengths: [64], tasks: ['passkey', 'niah_single_1'], lossOn: 'answer' as const, seed: 0 };
    // 256 tokens hold a passkey prompt but not niah_single_1's (with this 300-token vocabulary): the pair failed
    // only when first drawn, after every sizing try.
    assert.throws(() => new DataMixer({ ...tasks, taskLengths: [1024, 256] }, stream, tok, 1, 2, 1024),
      /data\.taskLengths: 256 tokens cannot hold a niah_single_1 sample with this tokenizer \(niah_single_1: a length of 256 tokens is too small/);
    const mixer = new DataMixer({ ...tasks, taskLengths: [1024] }, stream, tok, 1, 2, 1024);
    assert.equal(mixer.next().kind, 'task');
  });

  it('kv_retrieval reaches lengths between two pair counts (it ended "cannot reach" there, and a run failed at such a draw)', () => {
    // kv_retrieval grows in whole key-value pairs, ~80 tokens each with a 500-token vocabulary: 370 tokens lie
    // between two pair counts, beyond what the object's layout makes up (350-390 all failed). Such a record now ends
    // further below (as documented) instead of failing; every draw at 370 failed, until the run did.
    const bpe500 = trainBpe(brownDocuments().slice(0, 8).map((d) => d.text), { vocabSize: 500 });
    const tok500 = new HfTokenizer({ tokenizerJson: bpeTokenizerJson(bpe500), tokenizerConfig: bpeTokenizerConfig(bpe500, 512), origin: 'test' });
    const stream500 = tokenStream(brownDocuments().slice(0, 4), tok500, 1, 2);
    const kv = { textWeight: 0, taskWeight: 1, textLengths: [16], tasks: ['kv_retrieval'], lossOn: 'answer' as const, seed: 0 };
    const mixer = new DataMixer({ ...kv, taskLengths: [370] }, stream500, tok500, 1, 2, 512);
    const s = mixer.next();
    assert.equal(s.source, 'kv_retrieval');
    assert.ok(s.ids.length <= 370 && s.ids.length > 290, `${s.ids.length} tokens`);
    // 260 holds the asked pair and no other: refused as too small (a record of the pair alone asks nothing).
    assert.throws(() => new DataMixer({ ...kv, taskLengths: [260] }, stream500, tok500, 1, 2, 512), /260 tokens cannot hold a kv_retrieval sample .*no other/);
  });

  it('a recall sample longer than its distinct keys allow ends (at most one record per key)', () => {
    // 64 ids (the mixer's least vocabulary for recall) leave 61 one-token keys; 4096 tokens would hold 682 records.
    // Run in a child process: the search for a 62nd distinct key never ended.
    const code = `
      import { recallSample } from ${JSON.stringify(new URL('../../src/train/data.ts', import.meta.url).pathname)};
      import { Rng } from ${JSON.stringify(new URL('../../src/util/rng.ts', import.meta.url).pathname)};
      const rng = new Rng('keys'); let most = 0;
      for (let i = 0; i < 20; i++) {
        const s = recallSample(rng, 64, 1, 512, 0);
        most = Math.max(most, s.ids.length);
        if (s.ids.some((x) => x < 0 || x >= 64)) throw new Error('id out of range');
      }
      console.log('ok ' + most);`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.error, undefined, `the samples never finished (${String(r.error)})`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^ok \d+/);
  });
});

describe('BPE: every vocabulary size the config accepts', () => {
  it('trains beyond 65,536 ids: merges past id 65,535 name their parts right', () => {
    assert.equal(MAX_VOCAB_SIZE, 1 << 18);
    const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', words: string[] = [];
    for (const a of letters) for (const b of letters) for (const c of letters) words.push(a + b + c);
    const m = trainBpe([words.slice(0, 70_000).join(' ')], { vocabSize: 70_000, minFrequency: 1 });
    assert.equal(m.vocab.length, 70_000);
    assert.equal(new Set(m.vocab).size, 70_000, 'distinct tokens');
    const id = new Map(m.vocab.map((v, i) => [v, i]));
    m.merges.forEach(([x, y], k) => {
      const made = 259 + k;
      assert.ok(id.get(x)! < made && id.get(y)! < made && m.vocab[made] === x + y, `merge ${k}: ${x} + ${y}`);
    });
  });
});

describe('trainer', () => {
  it('a tokenizer path that does not exist is refused before anything is written', async () => {
    const root = tempDir('namm-audit-'); dirs.push(root);
    const out = join(root, 'run');
    const config = parseTrainConfig({ ...base, tokenizer: { path: join(root, 'missing.json') }, data: { textLengths: [32], taskWeight: 0 }, training: { steps: 1, tokensPerStep: 64 } });
    const corpus = { train: brownDocuments().slice(0, 1), validation: brownDocuments().slice(1, 2) };
    await assert.rejects(runTraining({ config, outDir: out, backend: new JsBackend(), corpus }), /tokenizer\.path: .*missing\.json does not exist/);
    assert.equal(existsSync(out), false, 'no folder made');
  });

  it('a vocabSize that contradicts the given tokenizer is refused before anything is written; one that agrees passes', async () => {
    const root = tempDir('namm-audit-'); dirs.push(root);
    const bpe = trainBpe(brownDocuments().slice(0, 2).map((d) => d.text), { vocabSize: 300 });
    writeFileSync(join(root, 'tokenizer.json'), JSON.stringify(bpeTokenizerJson(bpe)));
    writeFileSync(join(root, 'tokenizer_config.json'), JSON.stringify(bpeTokenizerConfig(bpe, 512)));
    const corpus = { train: brownDocuments().slice(0, 1), validation: brownDocuments().slice(1, 2) };
    const config = (vocabSize: number) => parseTrainConfig({ ...base, tokenizer: { path: join(root, 'tokenizer.json'), vocabSize }, data: { textLengths: [32], taskWeight: 0 }, training: { steps: 1, tokensPerStep: 32 } });
    // It was ignored: the run trained with the file's 300 tokens.
    await assert.rejects(runTraining({ config: config(4096), outDir: join(root, 'a'), backend: new JsBackend(), corpus }),
      /tokenizer\.vocabSize is 4096, but the tokenizer that tokenizer\.path names \(.*tokenizer\.json\) has 300 tokens/);
    assert.equal(existsSync(join(root, 'a')), false, 'no folder made');
    const r = await runTraining({ config: config(300), outDir: join(root, 'b'), backend: new JsBackend(), corpus });
    assert.equal(r.step, 1);
    // A resume whose config drops the (matching) vocabSize continues: a given tokenizer is compared by its path.
    const without = parseTrainConfig({ ...base, tokenizer: { path: join(root, 'tokenizer.json') }, data: { textLengths: [32], taskWeight: 0 }, training: { steps: 2, tokensPerStep: 32 } });
    assert.equal((await runTraining({ config: without, outDir: join(root, 'b'), backend: new JsBackend(), corpus, resume: true })).step, 2);
  });

  it('the parameter count of the size check is the one the model allocates (llama with GQA and an untied head, gpt2)', () => {
    for (const model of [
      { arch: 'llama', hiddenSize: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, intermediateSize: 24, maxPositions: 64, tieEmbeddings: false },
      { arch: 'gpt2', hiddenSize: 32, nLayers: 2, nHeads: 4, intermediateSize: 24, maxPositions: 64 },
    ]) {
      const cfg = parseTrainConfig({ ...base, model, tokenizer: { vocabSize: 300 } });
      const config = modelConfigFor(cfg, 300, 1, 2);
      const allocated = createTrainableModel(config, backendGemm(new JsBackend())).params.count;
      assert.equal(checkTrainingSize(config), allocated, model.arch);
      // 28 bytes per parameter must fit in memory: one byte short is refused, with what it needs.
      assert.equal(checkTrainingSize(config, 28 * allocated), allocated);
      assert.throws(() => checkTrainingSize(config, 28 * allocated - 1), new RegExp(`the model has ${allocated.toLocaleString('en-US')} parameters .*more than this machine's`));
    }
  });

  it('a model past the bound of a checkpoint is refused before anything is written', async () => {
    // 24 layers of width 8,192: ~14 G parameters (168 GiB of checkpoint).
    const big = { arch: 'llama', hiddenSize: 8192, nLayers: 24, nHeads: 64, intermediateSize: 28_672, maxPositions: 512 };
    const config = parseTrainConfig({ ...base, model: big, data: { textLengths: [32], taskWeight: 0 }, training: { steps: 1, tokensPerStep: 64 } });
    assert.throws(() => checkTrainingSize(modelConfigFor(config, 4096, 1, 2), 2 ** 60), /parameters .*namm train takes at most [\d,]+, whose checkpoint .* must stay within 3\.0 GiB/);
    const root = tempDir('namm-audit-'); dirs.push(root);
    const out = join(root, 'run');
    const corpus = { train: brownDocuments().slice(0, 1), validation: brownDocuments().slice(1, 2) };
    await assert.rejects(runTraining({ config, outDir: out, backend: new JsBackend(), corpus }), /namm train takes at most/);
    assert.equal(existsSync(out), false, 'no folder made');
    // The bound itself: its checkpoint (12 bytes a parameter and the header's room) is one the reader takes.
    assert.ok(12 * MAX_TRAIN_PARAMETERS + 1024 * 1024 <= 3 * 1024 ** 3 && 12 * (MAX_TRAIN_PARAMETERS + 1) + 1024 * 1024 > 3 * 1024 ** 3);
  });
});

describe('training config: null is refused in every field', () => {
  it('data.tasks, data.recallGaps and name (null became their defaults)', () => {
    assert.throws(() => parseTrainConfig({ ...base, data: { textLengths: [64], tasks: null } }), /data\.tasks must be an array of task names/);
    assert.throws(() => parseTrainConfig({ ...base, data: { textLengths: [64], recallWeight: 1, recallGaps: null } }), /data\.recallGaps must be a non-empty array/);
    assert.throws(() => parseTrainConfig({ ...base, name: null }), /name must be a string/);
  });
});
