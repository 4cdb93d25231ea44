/**
 * The training loop end to end on a tiny model and a small corpus: HF output that loadModel reads back (same
 * logits as the trainer's forward), exact resume from a checkpoint, and clear refusals.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadModel } from '../../src/models/model.js';
import { JsBackend } from '../../src/tensor/js.js';
import { NativeBackend } from '../../src/tensor/native.js';
import { skipNative } from '../tensor/native-fixtures.js';
import { readCheckpointFile, writeCheckpointFile } from '../../src/evolve/checkpoint.js';
import { loadTrainCheckpoint, saveTrainCheckpoint } from '../../src/train/checkpoint.js';
import { parseTrainConfig, type TrainConfig } from '../../src/train/config.js';
import { brownDocuments, wordnetDocuments } from '../../src/train/corpus.js';
import { createTrainableModel } from '../../src/train/family.js';
import { backendGemm } from '../../src/train/ops/gemm.js';
import { MAX_SKIPPED_STEPS, runTraining, UNFINISHED_RUN_MARKER } from '../../src/train/trainer.js';
import { RUN_LOCK_FILE, readRunLock } from '../../src/util/run-lock.js';
import { worstError } from '../helpers/compare.js';
import { deadPid, holdLock } from '../util/run-lock-holder.js';
import { attendFull } from './attend.js';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
function tempDir(): string { const d = mkdtempSync(join(tmpdir(), 'namm-train-')); dirs.push(d); return d; }

const corpus = { train: [...brownDocuments().slice(0, 6), ...wordnetDocuments().slice(0, 20)], validation: brownDocuments().slice(6, 7) };

function tinyConfig(arch: 'llama' | 'gpt2', steps = 4, vocabSize = 400): TrainConfig {
  return parseTrainConfig({
    name: 'tiny',
    model: arch === 'llama'
      ? { arch, hiddenSize: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, intermediateSize: 24, maxPositions: 256 }
      : { arch, hiddenSize: 16, nLayers: 2, nHeads: 2, intermediateSize: 32, maxPositions: 256 },
    tokenizer: { vocabSize },
    data: { textWeight: 1, taskWeight: 1, textLengths: [32, 64], taskLengths: [256], tasks: ['passkey'], lossOn: 'answer', validationSamples: 2 },
    optimizer: { lr: 3e-3, warmupSteps: 1 },
    training: { steps, tokensPerStep: 200, seed: 3, checkpointEvery: 2, evalEvery: 2 },
  }, 'tiny');
}

describe('namm train loop', () => {
  for (const arch of ['llama', 'gpt2'] as const) {
    it(`${arch}: trains, logs, checkpoints and saves a folder that loadModel runs`, async () => {
      const out = tempDir(), be = new JsBackend();
      const losses: number[] = [];
      const r = await runTraining({ config: tinyConfig(arch), outDir: out, backend: be, corpus, onStep: (s) => losses.push(s.loss) });
      assert.equal(r.step, 4);
      assert.ok(losses.every(Number.isFinite) && losses.length === 4);
      for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors', 'checkpoint.bin', 'train-log.jsonl', 'loss.svg']) {
        assert.ok(existsSync(join(out, f)), `${f} is written`);
      }
      const log = readFileSync(join(out, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
      assert.deepEqual(log.filter((e) => 'loss' in e).map((e) => e.step), [1, 2, 3, 4]);
      assert.equal(log.filter((e) => 'validation_loss' in e).length, 2);

      const model = await loadModel(out, { backend: be });
      assert.equal(model.config.arch, arch);
      assert.ok(model.tokenizer, 'tokenizer loaded');
      const text = 'The jury said the pass key is 40213.';
      const ids = model.tokenizer.encode(text);
      assert.equal(ids[0], 1, 'BOS first');
      assert.equal(model.tokenizer.decode(ids), text);

      // The saved weights give the trainer's logits through the inference path.
      const ckpt = await loadTrainCheckpoint(join(out, 'checkpoint.bin'));
      const trained = createTrainableModel(model.config, backendGemm(be), 'f32');
      trained.params.data.set(ckpt.params);
      const want = trained.logits(Int32Array.from(ids));
      const session = model.createSessionWith(null);
      const positions = Int32Array.from(ids, (_, t) => t);
      const logits = model.arch.forward(be, Int32Array.from(ids), positions, attendFull(be, model.config), 'all');
      assert.ok(worstError(logits, want).err < 1e-4, 'saved model reproduces the trained logits');

      const res = await session.generate('The jury', { greedy: true, maxNewTokens: 4 });
      assert.ok(res.outputTokens.length > 0);
    });
  }

  it('a run that diverges (a non-finite gradient norm at MAX_SKIPPED_STEPS steps in a row) stops with an error', async () => {
    // A learning rate of 1000 makes every step's gradient non-finite after a few; the run went on to its end, skipping
    // every update, and exported a model whose forward was non-finite.
    const base = tinyConfig('llama', 40);
    const cfg = { ...base, data: { ...base.data, taskWeight: 0 }, optimizer: { ...base.optimizer, lr: 1e3, minLr: 1e3, warmupSteps: 0 } };
    const out = tempDir(), said: string[] = [];
    const failure = await runTraining({ config: cfg, outDir: out, backend: new JsBackend(), corpus, onStatus: (m) => said.push(m) }).then(() => null, (e: Error) => e);
    assert.match(String(failure), new RegExp(`^Error: training diverged: the gradient norm was non-finite at ${MAX_SKIPPED_STEPS} steps in a row \\(steps \\d+–\\d+\\), so the run stops`));
    const skipped = said.filter((l) => /non-finite gradient norm, update skipped/.test(l));
    assert.ok(skipped.length >= MAX_SKIPPED_STEPS, `${skipped.length} skipped steps`);
    // The notes count steps from 1, as the final error, the progress bar and the log do (they counted from 0).
    const range = /\(steps (\d+)–(\d+)\)/.exec(String(failure))!;
    assert.equal(skipped.at(-1), `step ${range[2]}: non-finite gradient norm, update skipped`);
  });

  it('resuming from a checkpoint continues bit-identically', async () => {
    const straight = tempDir(), split = tempDir(), be = new JsBackend();
    await runTraining({ config: tinyConfig('llama'), outDir: straight, backend: be, corpus });
    await runTraining({ config: tinyConfig('llama'), outDir: split, backend: be, corpus, maxSteps: 2 });
    const half = await loadTrainCheckpoint(join(split, 'checkpoint.bin'));
    assert.equal(half.header.step, 2);
    await runTraining({ config: tinyConfig('llama'), outDir: split, backend: be, corpus, resume: true });
    const a = await loadTrainCheckpoint(join(straight, 'checkpoint.bin')), b = await loadTrainCheckpoint(join(split, 'checkpoint.bin'));
    assert.equal(b.header.step, 4);
    assert.deepEqual(b.header.mixer, a.header.mixer);
    assert.ok(Buffer.from(a.params.buffer).equals(Buffer.from(b.params.buffer)), 'weights identical');
    assert.ok(Buffer.from(a.v.buffer).equals(Buffer.from(b.v.buffer)), 'optimizer state identical');
    const steps = (dir: string) => readFileSync(join(dir, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);
    assert.deepEqual(steps(split), steps(straight), 'the log holds each step once');
    // A resume of the finished run (or with fewer steps) trains nothing and says so; before, it said nothing.
    for (const steps of [4, 3]) {
      const said: string[] = [];
      const done = await runTraining({ config: { ...tinyConfig('llama'), training: { ...tinyConfig('llama').training, steps } }, outDir: split, backend: be, corpus, resume: true, onStatus: (m) => said.push(m) });
      assert.equal(done.step, 4);
      assert.ok(said.some((m) => new RegExp(`is at step 4, ${steps === 4 ? 'at' : 'past'} the config's training\\.steps \\(${steps}\\): nothing to train; raise training\\.steps to continue it`).test(m)), said.join(' | '));
    }
  });

  it('a resume that raises training.steps keeps the warm-up the run started with when the config sets none', async () => {
    const be = new JsBackend(), out = tempDir();
    const cfg = (steps: number, optimizer: Record<string, number> = { lr: 3e-3 }) => parseTrainConfig({
      name: 'tiny',
      model: { arch: 'llama', hiddenSize: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, intermediateSize: 24, maxPositions: 256 },
      tokenizer: { vocabSize: 400 },
      data: { textWeight: 1, taskWeight: 1, textLengths: [32, 64], taskLengths: [256], tasks: ['passkey'], lossOn: 'answer', validationSamples: 2 },
      optimizer,
      training: { steps, tokensPerStep: 200, seed: 3, checkpointEvery: 2, evalEvery: 2 },
    }, 'tiny');
    assert.equal(cfg(12).optimizer.warmupSteps, 2, 'a tenth of a short run');
    await runTraining({ config: cfg(12), outDir: out, backend: be, corpus, maxSteps: 4 });
    const said: string[] = [];
    await runTraining({ config: cfg(200), outDir: out, backend: be, corpus, resume: true, maxSteps: 2, onStatus: (m) => said.push(m) });
    const lrs = readFileSync(join(out, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step?: number; lr?: number }).filter((e) => e.lr !== undefined);
    // Step 5 (0-based 4) on the cosine after a 2-step warm-up over 200 steps: near the peak, where a new 100-step
    // warm-up gave 5/100 of it.
    const { learningRate } = await import('../../src/train/schedule.js');
    assert.equal(lrs.find((e) => e.step === 5)!.lr, learningRate({ peak: 3e-3, min: cfg(200).optimizer.minLr, warmupSteps: 2, totalSteps: 200 }, 4));
    assert.ok(lrs.find((e) => e.step === 5)!.lr! > 2.9e-3);
    assert.ok(said.some((m) => /warm-up stays 2 steps, as the run started/.test(m)), said.join(' | '));
    // And at the resume after that (the checkpoint it wrote holds the warm-up in use, not the config's default).
    await runTraining({ config: cfg(200), outDir: out, backend: be, corpus, resume: true, maxSteps: 1 });
    const step7 = readFileSync(join(out, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step?: number; lr?: number }).find((e) => e.step === 7 && e.lr !== undefined)!;
    assert.equal(step7.lr, learningRate({ peak: 3e-3, min: cfg(200).optimizer.minLr, warmupSteps: 2, totalSteps: 200 }, 6));
    // A warm-up the config gives is the config's.
    await runTraining({ config: cfg(200, { lr: 3e-3, warmupSteps: 50 }), outDir: out, backend: be, corpus, resume: true, maxSteps: 1 });
    const last = readFileSync(join(out, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step?: number; lr?: number }).filter((e) => e.step === 8 && e.lr !== undefined)[0]!;
    assert.equal(last.lr, learningRate({ peak: 3e-3, min: cfg(200).optimizer.minLr, warmupSteps: 50, totalSteps: 200 }, 7));
  });

  it('a resume on other kernels than the checkpoint\'s says it is no longer bit-identical', { skip: skipNative }, async () => {
    const out = tempDir();
    await runTraining({ config: tinyConfig('llama'), outDir: out, backend: new NativeBackend({ threads: 1 }), corpus, maxSteps: 2 });
    assert.match((await loadTrainCheckpoint(join(out, 'checkpoint.bin'))).header.backend!, /^native\//);
    const said: string[] = [];
    await runTraining({ config: tinyConfig('llama'), outDir: out, backend: new JsBackend(), corpus, resume: true, maxSteps: 1, onStatus: (m) => said.push(m) });
    assert.ok(said.some((m) => /^warning: .*checkpoint\.bin was written on native\/\w+, this run uses js\/\w+: it continues with other roundings/.test(m)), said.join(' | '));
    const same: string[] = [];
    await runTraining({ config: tinyConfig('llama'), outDir: out, backend: new JsBackend(), corpus, resume: true, maxSteps: 1, onStatus: (m) => same.push(m) });
    assert.ok(!same.some((m) => /warning/.test(m)), same.join(' | '));
  });

  it('a folder where model.safetensors goes is refused before the first step, not at the first save', async () => {
    const out = tempDir(), be = new JsBackend();
    await runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus, maxSteps: 2 });
    rmSync(join(out, 'model.safetensors'));
    mkdirSync(join(out, 'model.safetensors'));
    const steps: number[] = [];
    await assert.rejects(runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus, resume: true, onStep: (s) => steps.push(s.step) }),
      /^Error: cannot write .*model\.safetensors: .*folder/);
    assert.deepEqual(steps, [], 'no step ran');
  });

  it('a resume whose tokenizer.json or log is gone: a tokenizer made again must be the run\'s (by its checkpoint\'s digest); a lost log is said to be lost', async () => {
    const out = tempDir(), be = new JsBackend();
    await runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus, maxSteps: 2 });
    const first = readFileSync(join(out, 'tokenizer.json'));
    assert.equal((await loadTrainCheckpoint(join(out, 'checkpoint.bin'))).header.tokenizerSha256, createHash('sha256').update(first).digest('hex'));
    // Made again from other documents (as from a tokenizer.path file edited since), it is another tokenizer: refused.
    rmSync(join(out, 'tokenizer.json'));
    const other = { ...corpus, train: corpus.train.slice(1) };
    const refused = /tokenizer\.json was missing, and the one made again differs from the tokenizer this run was trained with \(its checkpoint\.bin records SHA-256 [0-9a-f]{16}…\); put the run's tokenizer\.json back$/;
    await assert.rejects(runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus: other, resume: true }), refused);
    // The refused tokenizer is not left in the folder, where the same command would have taken it unchecked.
    assert.equal(existsSync(join(out, 'tokenizer.json')), false);
    await assert.rejects(runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus: other, resume: true }), refused);
    // Made again as it was (the BPE is deterministic), the run goes on; a log gone meanwhile is named.
    rmSync(join(out, 'train-log.jsonl'));
    const said: string[] = [];
    const r = await runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus, resume: true, onStatus: (m) => said.push(m) });
    assert.equal(r.step, 4);
    assert.ok(readFileSync(join(out, 'tokenizer.json')).equals(first));
    assert.ok(said.some((m) => /^warning: .*train-log\.jsonl is missing: the log \(and loss\.svg\) of steps 1–2 is gone, and it goes on from step 3$/.test(m)), said.join('\n'));
  });

  it('a resume whose tokenizer.json was replaced by another is refused, by the checkpoint\'s digest or an older checkpoint\'s token cache', async () => {
    const out = tempDir(), elsewhere = tempDir(), be = new JsBackend();
    await runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus, maxSteps: 2 });
    // Another run's tokenizer, trained on other documents, of the same size: the parameter count does not tell.
    await runTraining({ config: tinyConfig('llama'), outDir: elsewhere, backend: be, corpus: { ...corpus, train: corpus.train.slice(1) }, maxSteps: 1 });
    const mine = readFileSync(join(out, 'tokenizer.json')), theirs = readFileSync(join(elsewhere, 'tokenizer.json'));
    assert.ok(!mine.equals(theirs));
    writeFileSync(join(out, 'tokenizer.json'), theirs);
    const cache = readFileSync(join(out, 'token-cache.bin')), ckpt = readFileSync(join(out, 'checkpoint.bin'));
    const steps: number[] = [];
    await assert.rejects(runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus, resume: true, onStep: (st) => steps.push(st.step) }),
      /tokenizer\.json differs from the tokenizer this run was trained with \(its checkpoint\.bin records SHA-256 [0-9a-f]{16}…\); put the run's tokenizer\.json back$/);
    // It went on training the old weights on ids that meant other tokens, and tokenized the corpus again over the cache.
    assert.deepEqual(steps, []);
    assert.ok(readFileSync(join(out, 'token-cache.bin')).equals(cache));
    assert.ok(readFileSync(join(out, 'checkpoint.bin')).equals(ckpt));
    // A checkpoint written before the digest: its token cache's key says the same.
    const old = await loadTrainCheckpoint(join(out, 'checkpoint.bin'));
    delete old.header.tokenizerSha256;
    await saveTrainCheckpoint(join(out, 'checkpoint.bin'), old);
    await assert.rejects(runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus, resume: true }),
      /tokenizer\.json differs from the tokenizer this run was trained with \(its token-cache\.bin was made with another\); put the run's tokenizer\.json back$/);
    assert.ok(readFileSync(join(out, 'token-cache.bin')).equals(cache));
    // The run's own tokenizer back: it goes on, and its next checkpoint records the digest.
    writeFileSync(join(out, 'tokenizer.json'), mine);
    const r = await runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus, resume: true, maxSteps: 1 });
    assert.equal(r.step, 3);
    assert.equal((await loadTrainCheckpoint(join(out, 'checkpoint.bin'))).header.tokenizerSha256, createHash('sha256').update(mine).digest('hex'));
  });

  it('the token cache is keyed by the documents too: a resume given other documents tokenizes them, not the old ones\' tokens', async () => {
    const out = tempDir(), be = new JsBackend();
    await runTraining({ config: tinyConfig('llama', 8), outDir: out, backend: be, corpus, maxSteps: 2 });
    const cache = readFileSync(join(out, 'token-cache.bin'));
    const said: string[] = [];
    await runTraining({ config: tinyConfig('llama', 8), outDir: out, backend: be, corpus, resume: true, maxSteps: 1, onStatus: (m) => said.push(m) });
    assert.ok(!said.some((m) => m.startsWith('tokenizing')), 'the same documents: the cache is used');
    assert.ok(readFileSync(join(out, 'token-cache.bin')).equals(cache));
    // Other documents (the run's tokenizer.json stays the run's): tokenized again, where the old tokens were trained on.
    const other = { train: corpus.train.slice(2), validation: corpus.validation };
    await runTraining({ config: tinyConfig('llama', 8), outDir: out, backend: be, corpus: other, resume: true, maxSteps: 1, onStatus: (m) => said.push(m) });
    assert.ok(said.includes(`tokenizing ${other.train.length + other.validation.length} documents`), said.join('\n'));
    assert.ok(!readFileSync(join(out, 'token-cache.bin')).equals(cache));
    // A checkpoint without a tokenizer digest: the cache's key vouches for the tokenizer, and other documents are
    // no other tokenizer (the key is the tokenizer's and the seed's; the documents' digest ends the file).
    const old = await loadTrainCheckpoint(join(out, 'checkpoint.bin'));
    delete old.header.tokenizerSha256;
    await saveTrainCheckpoint(join(out, 'checkpoint.bin'), old);
    said.length = 0;
    let r = await runTraining({ config: tinyConfig('llama', 8), outDir: out, backend: be, corpus, resume: true, maxSteps: 1, onStatus: (m) => said.push(m) });
    assert.equal(r.step, 5);
    assert.ok(said.includes(`tokenizing ${corpus.train.length + corpus.validation.length} documents`), said.join('\n'));
    // A cache written before the documents' digest (the file ends with the streams): made again.
    const payload = await readCheckpointFile(join(out, 'token-cache.bin'));
    await writeCheckpointFile(join(out, 'token-cache.bin'), payload.subarray(0, payload.length - 32));
    said.length = 0;
    r = await runTraining({ config: tinyConfig('llama', 8), outDir: out, backend: be, corpus, resume: true, maxSteps: 1, onStatus: (m) => said.push(m) });
    assert.equal(r.step, 6);
    assert.ok(said.includes(`tokenizing ${corpus.train.length + corpus.validation.length} documents`), said.join('\n'));
    assert.ok(readFileSync(join(out, 'token-cache.bin')).equals(cache), 'the same documents and tokenizer: the same cache as at the start');
  });

  it('a resume drops the log lines of steps after the checkpoint (a run stopped between checkpoints)', async () => {
    const out = tempDir(), be = new JsBackend();
    await runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus, maxSteps: 2 });
    const logPath = join(out, 'train-log.jsonl');
    // As if the process had logged step 3 and died before its checkpoint, mid-way through a line.
    appendFileSync(logPath, JSON.stringify({ step: 3, loss: 9 }) + '\n{"step": 4, "lo');
    await runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus, resume: true });
    const log = readFileSync(logPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss?: number });
    assert.deepEqual(log.filter((l) => 'loss' in l).map((l) => l.step), [1, 2, 3, 4]);
    assert.ok(log.every((l) => l.loss !== 9), 'the stopped run\'s step 3 is gone');
    // A damaged line inside the log is refused at the start of a resume, before any step runs.
    const before = readFileSync(join(out, 'checkpoint.bin'));
    writeFileSync(logPath, 'not json\n' + readFileSync(logPath, 'utf8'));
    await assert.rejects(runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus, resume: true, maxSteps: 6 }), /train-log\.jsonl:1: not valid JSON/);
    assert.ok(readFileSync(join(out, 'checkpoint.bin')).equals(before), 'no step ran');
  });

  it('a fresh run that stopped before its first checkpoint can be started over in its folder; a finished one cannot', async () => {
    const out = tempDir(), straight = tempDir(), be = new JsBackend();
    await assert.rejects(runTraining({
      config: tinyConfig('llama'), outDir: out, backend: be, corpus, onStep: () => { throw new Error('interrupted'); },
    }), /interrupted/);
    assert.ok(existsSync(join(out, 'config.json')) && existsSync(join(out, 'tokenizer.json')), 'the stopped run left its files');
    assert.ok(existsSync(join(out, UNFINISHED_RUN_MARKER)));
    const notes: string[] = [];
    await runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus, onStatus: (m) => notes.push(m) });
    assert.ok(notes.some((m) => /stopped before its first checkpoint .* starting over in it/.test(m)), notes.join('\n'));
    assert.equal(existsSync(join(out, UNFINISHED_RUN_MARKER)), false, 'the marker goes with the first checkpoint');
    await runTraining({ config: tinyConfig('llama'), outDir: straight, backend: be, corpus });
    for (const f of ['model.safetensors', 'tokenizer.json', 'config.json']) {
      assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(straight, f))), `${f}: the same as a run that never stopped`);
    }
    // Without the marker (a finished run, someone's model) the folder is still refused.
    rmSync(join(out, 'checkpoint.bin'));
    await assert.rejects(runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus }), /already holds a model/);
    // A misspelt option started a fresh run where a resume was meant; a callback of the wrong type failed mid-run.
    await assert.rejects(runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus, resum: true } as never), /^TypeError: runTraining: unknown option "resum" \(did you mean "resume"\?\)/);
    await assert.rejects(runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus, onStep: 'log' as never }), /^TypeError: runTraining: onStep must be a function, got "log"$/);
    // maxSteps 1.5 ran two steps and saved nothing; 0, −2 and NaN trained nothing without a word.
    for (const [maxSteps, shown] of [[1.5, '1.5'], [0, '0'], [-2, '-2'], [NaN, 'NaN']] as const) {
      await assert.rejects(runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus, maxSteps }), new RegExp(`^TypeError: runTraining: o\\.maxSteps must be an integer ≥ 1, got ${shown}$`));
    }
    // A config built by hand is not parsed: checkpointEvery 0 never saved.
    const never = { ...tinyConfig('llama') };
    never.training = { ...never.training, checkpointEvery: 0 };
    await assert.rejects(runTraining({ config: never, outDir: out, backend: be, corpus }), /^TypeError: runTraining: o\.config\.training\.checkpointEvery must be an integer ≥ 1, got 0$/);
    // So is a folder of other files: a run wrote its generation_config.json, loss.svg… over the user's.
    const other = join(tempDir(), 'notes');
    mkdirSync(other);
    writeFileSync(join(other, 'generation_config.json'), '{"mine":1}');
    await assert.rejects(runTraining({ config: tinyConfig('llama'), outDir: other, backend: be, corpus }), /notes already holds files \(generation_config\.json\) and no training checkpoint; a new run needs an empty or new --out$/);
    assert.equal(readFileSync(join(other, 'generation_config.json'), 'utf8'), '{"mine":1}');
  });

  it('a corpus too small for the vocabulary asked for says how many tokens the tokenizer and the model got', async () => {
    const out = tempDir(), said: string[] = [];
    const config = tinyConfig('llama', 4, 20000);
    const small = { train: brownDocuments().slice(0, 1), validation: brownDocuments().slice(6, 7) };
    await runTraining({ config, outDir: out, backend: new JsBackend(), corpus: small, maxSteps: 1, onStatus: (m) => said.push(m) });
    const vocab = (JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { vocab_size: number }).vocab_size;
    assert.ok(vocab < 20000);
    assert.ok(said.includes(`note: the documents hold merges for ${vocab} tokens, fewer than tokenizer.vocabSize (20000): the tokenizer and the model have ${vocab}`), said.join('\n'));
  });

  it('--resume of a folder without a checkpoint is refused before anything is created', async () => {
    const out = join(tempDir(), 'never-trained');
    await assert.rejects(runTraining({ config: tinyConfig('llama'), outDir: out, backend: new JsBackend(), corpus, resume: true }), /--resume: .*never-trained holds no training checkpoint/);
    assert.equal(existsSync(out), false, 'no empty folder left behind');
  });

  it('resumes a checkpoint written before the GPT-2 position-init fields existed (they meant the defaults)', async () => {
    const out = tempDir(), be = new JsBackend();
    await runTraining({ config: tinyConfig('gpt2'), outDir: out, backend: be, corpus, maxSteps: 2 });
    const path = join(out, 'checkpoint.bin'), ckpt = await loadTrainCheckpoint(path);
    const legacy = ckpt.header.config.model as unknown as Record<string, unknown>;
    for (const k of ['positionInit', 'positionStd', 'previousTokenHeads']) delete legacy[k];
    await saveTrainCheckpoint(path, ckpt);
    const r = await runTraining({ config: tinyConfig('gpt2'), outDir: out, backend: be, corpus, resume: true });
    assert.equal(r.step, 4);
    // A real change of the init is still a different model.
    const sinus = tinyConfig('gpt2');
    sinus.model.positionInit = 'sinusoidal';
    await assert.rejects(runTraining({ config: sinus, outDir: out, backend: be, corpus, resume: true }), /different model/);
  });

  it('a new data phase continues the weights and optimizer on a changed data mix; a plain resume refuses the change', async () => {
    const out = tempDir(), be = new JsBackend();
    await runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus, maxSteps: 2 });
    const before = await loadTrainCheckpoint(join(out, 'checkpoint.bin'));
    const phase2 = tinyConfig('llama', 4);
    phase2.data = { ...phase2.data, copyWeight: 1, copyLengths: [48], taskWeight: 0 };
    phase2.training.tokensPerStep = 100;
    await assert.rejects(runTraining({ config: phase2, outDir: out, backend: be, corpus, resume: true }), /--new-data/);
    await assert.rejects(runTraining({ config: phase2, outDir: tempDir(), backend: be, corpus, newData: true }), /pass --resume/);
    await runTraining({ config: phase2, outDir: out, backend: be, corpus, resume: true, newData: true, maxSteps: 1 });
    const mid = await loadTrainCheckpoint(join(out, 'checkpoint.bin'));
    assert.equal(mid.header.step, 3);
    assert.equal(mid.header.adamStep, before.header.adamStep + 1, 'the optimizer state carries on');
    assert.ok(mid.header.mixer.taskIndex >= 20_000, 'the phase draws task records of its own');
    assert.equal(mid.header.config.training.tokensPerStep, 100);
    // Within the phase, a plain resume (same data) continues it.
    await runTraining({ config: phase2, outDir: out, backend: be, corpus, resume: true });
    assert.equal((await loadTrainCheckpoint(join(out, 'checkpoint.bin'))).header.step, 4);
    const log = readFileSync(join(out, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(log.filter((l) => l.phase === 'new data').length, 1);
    const other = tinyConfig('llama', 4);
    other.model.nLayers = 3;
    await assert.rejects(runTraining({ config: other, outDir: out, backend: be, corpus, resume: true, newData: true }), /different model, tokenizer or seed \(model\.nLayers differs from the checkpoint's config\)/);
  });

  for (const taken of [true, false]) {
    it(taken ? 'a new data phase started again after a kill before its first checkpoint logs its start once'
      : 'a new data phase given up after a kill before its first checkpoint (the run resumed on its old data) leaves no phase line', async () => {
      const out = tempDir(), be = new JsBackend();
      await runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus, maxSteps: 2 });
      const phase2 = tinyConfig('llama', 4);
      phase2.data = { ...phase2.data, copyWeight: 1, copyLengths: [48], taskWeight: 0 };
      // What a phase killed before its first checkpoint left: its start logged at the checkpoint's step.
      const logPath = join(out, 'train-log.jsonl');
      appendFileSync(logPath, JSON.stringify({ step: 2, phase: 'new data', data: phase2.data, tokens_per_step: phase2.training.tokensPerStep }) + '\n');
      // Started again, or given up: then steps 3 and 4 train on the old data, and a phase line before them said otherwise.
      if (taken) await runTraining({ config: phase2, outDir: out, backend: be, corpus, resume: true, newData: true, maxSteps: 1 });
      else await runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus, resume: true });
      const log = readFileSync(logPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(log.filter((l) => 'phase' in l).map((l) => l.step), taken ? [2] : []);
      assert.deepEqual(log.filter((l) => 'loss' in l).map((l) => l.step), taken ? [1, 2, 3] : [1, 2, 3, 4]);
    });
  }

  it('a folder of a namm evolve run is named as such, not offered --resume', async () => {
    const { writeCheckpointFile } = await import('../../src/evolve/checkpoint.js');
    const out = tempDir();
    await writeCheckpointFile(join(out, 'checkpoint.bin'), Buffer.from(JSON.stringify({ format: 'namm-evolution', version: 1 })));
    await assert.rejects(runTraining({ config: tinyConfig('llama'), outDir: out, backend: new JsBackend(), corpus }), /holds a namm evolve run \(its checkpoint\.bin is an evolution checkpoint\); choose another --out$/);
    // A checkpoint.bin that is not a regular file (a FIFO, whose open would block) is not read to tell: it is refused.
    if (process.platform === 'linux') {
      const { execFileSync } = await import('node:child_process');
      const fifo = tempDir();
      execFileSync('mkfifo', [join(fifo, 'checkpoint.bin')]);
      await assert.rejects(runTraining({ config: tinyConfig('llama'), outDir: fifo, backend: new JsBackend(), corpus }), /checkpoint\.bin is not a regular file \(a FIFO, a device or a socket\); a run's own files must be$/);
    }
  });

  it('init: a run starts from a saved model\'s weights and tokenizer; a folder of another shape is refused', async () => {
    const first = tempDir(), be = new JsBackend();
    await runTraining({ config: tinyConfig('llama', 2), outDir: first, backend: be, corpus });
    const cont = tinyConfig('llama', 1);
    cont.init = first; cont.tokenizer.path = first; // as parseTrainConfig fills it
    // A rate so small that no float32 weight moves: the saved weights are exactly the folder's.
    cont.optimizer = { ...cont.optimizer, lr: 1e-30, minLr: 0, weightDecay: 0 };
    const second = tempDir();
    const r = await runTraining({ config: cont, outDir: second, backend: be, corpus });
    assert.equal(r.step, 1);
    const a = await loadTrainCheckpoint(join(first, 'checkpoint.bin')), b = await loadTrainCheckpoint(join(second, 'checkpoint.bin'));
    assert.ok(Buffer.from(a.params.buffer).equals(Buffer.from(b.params.buffer)), 'weights are the folder\'s');
    assert.equal(b.header.adamStep, 1, 'the optimizer starts fresh');
    assert.equal(readFileSync(join(second, 'tokenizer.json'), 'utf8'), readFileSync(join(first, 'tokenizer.json'), 'utf8'));
    assert.deepEqual(JSON.parse(readFileSync(join(second, 'train-log.jsonl'), 'utf8').split('\n')[0]!), { step: 0, init: first });
    const wider = tinyConfig('llama', 1);
    wider.init = first; wider.tokenizer.path = first; wider.model.hiddenSize = 32;
    // Refused from the folder's config.json before anything is written (it came after the corpus was tokenized,
    // with config.json, the tokenizer and the token cache already in --out).
    const widerOut = join(tempDir(), 'wider');
    await assert.rejects(runTraining({ config: wider, outDir: widerOut, backend: be, corpus }), /init: .* has hiddenSize 16, the config's model 32/);
    assert.equal(existsSync(widerOut), false, 'nothing written');
    // Other epsilon, q/k/v biases (a Qwen2 folder): loaded without a word before, biases dropped, eps changed.
    for (const [key, value, shown] of [['rms_norm_eps', 1e-6, /has normEps 0\.000001, the config's model 0\.00001/], ['model_type', 'qwen2', /has attnQkvBias true, the config's model false/]] as const) {
      const other = join(tempDir(), 'other');
      cpSync(first, other, { recursive: true });
      const cfgJson = JSON.parse(readFileSync(join(other, 'config.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(other, 'config.json'), JSON.stringify({ ...cfgJson, [key]: value }));
      const c2 = tinyConfig('llama', 1);
      c2.init = other; c2.tokenizer.path = first;
      await assert.rejects(runTraining({ config: c2, outDir: join(tempDir(), 'o'), backend: be, corpus }), shown, key);
    }
    // A sliding window: training attends to every earlier token and writes a model without one.
    const windowed = join(tempDir(), 'windowed');
    cpSync(first, windowed, { recursive: true });
    const wJson = JSON.parse(readFileSync(join(windowed, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(windowed, 'config.json'), JSON.stringify({ ...wJson, model_type: 'mistral', sliding_window: 8 }));
    const c3 = tinyConfig('llama', 1);
    c3.init = windowed; c3.tokenizer.path = first;
    await assert.rejects(runTraining({ config: c3, outDir: join(tempDir(), 'o'), backend: be, corpus }), /is a mistral model with a 8-token sliding window, which namm train does not train/);
    const nowhere = tinyConfig('llama', 1);
    nowhere.init = join(first, 'missing'); nowhere.tokenizer.path = first;
    await assert.rejects(runTraining({ config: nowhere, outDir: tempDir(), backend: be, corpus }), /is not a model folder/);
    // Resuming needs only the run's own folder: its weights are in the checkpoint, its tokenizer in the folder.
    const moved = tempDir();
    cpSync(first, moved, { recursive: true });
    const relocated = tinyConfig('llama', 2);
    relocated.init = moved; relocated.tokenizer.path = moved;
    const third = tempDir();
    await runTraining({ config: relocated, outDir: third, backend: be, corpus });
    rmSync(moved, { recursive: true });
    const more = { ...relocated, training: { ...relocated.training, steps: 3 } };
    assert.equal((await runTraining({ config: more, outDir: third, backend: be, corpus, resume: true })).step, 3);
    // The tokenizer is compared by what it is: the same file spelt relative to the working folder, or a copy of it
    // elsewhere, is the run's; a tokenizer of other bytes is refused by name.
    const spelt = { ...more, init: relative(process.cwd(), first), tokenizer: { ...more.tokenizer, path: join(relative(process.cwd(), first), 'tokenizer.json') }, training: { ...more.training, steps: 4 } };
    assert.equal((await runTraining({ config: spelt, outDir: third, backend: be, corpus, resume: true })).step, 4);
    const edited = tempDir();
    writeFileSync(join(edited, 'tokenizer.json'), readFileSync(join(first, 'tokenizer.json'), 'utf8').replace(/\}\s*$/, ', "x": 1}'));
    const otherTok = { ...spelt, tokenizer: { ...spelt.tokenizer, path: edited }, training: { ...spelt.training, steps: 5 } };
    await assert.rejects(runTraining({ config: otherTok, outDir: third, backend: be, corpus, resume: true }), /\(tokenizer differs from the checkpoint's config\)/);
  });

  it('refuses to overwrite a run without --resume, and to resume with another model', async () => {
    const out = tempDir(), be = new JsBackend();
    await runTraining({ config: tinyConfig('llama', 2), outDir: out, backend: be, corpus });
    await assert.rejects(runTraining({ config: tinyConfig('llama', 2), outDir: out, backend: be, corpus }), /pass --resume/);
    const other = tinyConfig('llama', 4);
    other.model.nLayers = 3;
    await assert.rejects(runTraining({ config: other, outDir: out, backend: be, corpus, resume: true }), /different model/);
    await assert.rejects(runTraining({ config: tinyConfig('llama'), outDir: tempDir(), backend: be, corpus, resume: true }), /--resume: .* holds no training checkpoint/);
  });
  it('a second run on a folder that a live run holds is refused before it reads or writes anything there', async () => {
    const out = tempDir(), be = new JsBackend();
    // Another process holds the folder (as a `namm train` there would): every kind of run is refused at once.
    const holder = await holdLock(out, 'namm train');
    try {
      for (const resume of [false, true]) {
        await assert.rejects(runTraining({ config: tinyConfig('llama'), outDir: out, backend: be, corpus, resume }), (e: Error) => {
          assert.ok(e.message.includes(`${out} is in use by another run: process ${holder.pid} (namm train)`), e.message);
          assert.ok(e.message.includes(`kill ${holder.pid}`), e.message);
          return true;
        });
      }
      assert.deepEqual(readdirSync(out), [RUN_LOCK_FILE], 'nothing was written');
      assert.equal(readRunLock(out)?.pid, holder.pid);
    } finally {
      await holder.stop('SIGKILL');
    }
    // And a run of this process, while it goes: the lock is there, with this pid, and a second run is refused.
    const second: Promise<unknown>[] = []; // settled into their errors at once (no unhandled rejection meanwhile)
    const lockDuringRun: (number | undefined)[] = [];
    const fresh = tempDir();
    await runTraining({
      config: tinyConfig('llama', 2), outDir: fresh, backend: be, corpus,
      onStep: () => {
        lockDuringRun.push(readRunLock(fresh)?.pid);
        second.push(runTraining({ config: tinyConfig('llama', 2), outDir: fresh, backend: be, corpus, resume: true }).then(() => null, (e: unknown) => e));
      },
    });
    assert.deepEqual(lockDuringRun, [process.pid, process.pid]);
    assert.equal(second.length, 2);
    for (const p of second) assert.match(String(await p), /is in use by another run: this process holds its lock/);
    assert.equal(existsSync(join(fresh, RUN_LOCK_FILE)), false, 'the lock is gone after a normal end');
  });

  it('a stale lock (its process is gone) is taken over with a note; the lock is gone after a normal end and after an error', async () => {
    const out = tempDir(), be = new JsBackend(), pid = deadPid();
    writeFileSync(join(out, RUN_LOCK_FILE), JSON.stringify({ pid, hostname: hostname(), started: '2020-01-01T00:00:00.000Z', command: 'namm train' }) + '\n');
    const notes: string[] = [];
    const r = await runTraining({ config: tinyConfig('llama', 2), outDir: out, backend: be, corpus, onStatus: (m) => notes.push(m) });
    assert.equal(r.step, 2);
    assert.match(notes[0]!, new RegExp(`^note: taking over the stale run lock .*${RUN_LOCK_FILE} of process ${pid} \\(namm train\\), started 2020-01-01T00:00:00.000Z, which no longer runs$`));
    assert.equal(existsSync(join(out, RUN_LOCK_FILE)), false, 'gone after a normal end');
    const other = tinyConfig('llama', 4);
    other.model.nLayers = 3;
    await assert.rejects(runTraining({ config: other, outDir: out, backend: be, corpus, resume: true }), /different model/);
    assert.equal(existsSync(join(out, RUN_LOCK_FILE)), false, 'gone after an error');
    await assert.rejects(runTraining({ config: tinyConfig('llama', 4), outDir: out, backend: be, corpus, resume: true, onStep: () => { throw new Error('interrupted'); } }), /interrupted/);
    assert.equal(existsSync(join(out, RUN_LOCK_FILE)), false, 'gone after an error mid-run');
  });
});
