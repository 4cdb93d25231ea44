/**
 * The training loop: tokenizer (trained here or given), model from the config, the seeded data mix, AdamW with
 * warm-up + cosine, gradient accumulation up to `tokensPerStep`, global-norm clipping, a JSON-lines log,
 * validation loss, atomic checkpoints every N steps and exact resume, and the model saved in HF layout.
 *
 * Out folder: config.json, generation_config.json, tokenizer.json, tokenizer_config.json, model.safetensors (the
 * latest weights, rewritten at every checkpoint), checkpoint.bin, train-log.jsonl, loss.svg (redrawn at every
 * checkpoint), token-cache.bin, and run.lock while the run goes (see runTraining).
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, realpathSync } from 'node:fs';
import { totalmem } from 'node:os';
import { appendLineSync, checkWritable, makeFolders, MiB, readFileLimited, refuseNonRegularRunFiles } from '../util/files.js';
import { acquireRunLock, runFolderEntries } from '../util/run-lock.js';
import { join, resolve } from 'node:path';
import { checkpointFormatOf, EVOLUTION_CHECKPOINT_FORMAT, MAX_CHECKPOINT_BYTES, readCheckpointFile, writeCheckpointFile, writeFileAtomic } from '../evolve/checkpoint.js';
import { parseHfConfig, readJsonFile } from '../models/config.js';
import { loadModelFiles } from '../models/load.js';
import { gpt2Config, llamaConfig } from '../models/random.js';
import { loadHfTokenizer } from '../models/tokenizer.js';
import type { ModelConfig, Tokenizer } from '../models/types.js';
import { getBackend } from '../tensor/index.js';
import type { Backend } from '../tensor/backend.js';
import { Rng } from '../util/rng.js';
import { AdamW, clipGradNorm } from './adamw.js';
import { bpeTokenizerConfig, bpeTokenizerJson, trainBpe } from './bpe.js';
import { loadTrainCheckpoint, saveTrainCheckpoint, TRAIN_CHECKPOINT_FORMAT } from './checkpoint.js';
import type { TrainConfig } from './config.js';
import { corpusSplit, type Document } from './corpus.js';
import { DataMixer, tokenStream, type Sample } from './data.js';
import { writeModelConfigs, writeModelWeights } from './export.js';
import { createTrainableModel, trainableParamCount } from './family.js';
import { wirePreviousTokenHeads } from './gpt2-train.js';
import type { TrainableModel } from './model.js';
import { backendGemm } from './ops/gemm.js';
import { readTrainLog, renderLossSvg } from './plot.js';
import { learningRate } from './schedule.js';
import { argError, checkArg } from '../util/args.js';
import { checkOptionKeys } from '../util/show.js';

export interface StepInfo {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** Input tokens processed in this step / since the start of the run (all invocations). */
  stepTokens: number;
  tokensSeen: number;
  tokensPerS: number;
  elapsedS: number;
  sequences: number;
}

export interface TrainRunOptions {
  config: TrainConfig;
  outDir: string;
  resume?: boolean;
  backend?: Backend;
  /**
   * With `resume`: the config's data section (and tokens per step) may differ from the checkpoint's; training
   * continues from its weights and optimizer state on the new data mix, a new phase (a curriculum step).
   */
  newData?: boolean;
  /** Stop after this many steps in this invocation (for measurements and tests); the schedule still uses config steps. */
  maxSteps?: number;
  onStep?: (info: StepInfo) => void;
  onEval?: (step: number, loss: number) => void;
  /** Human-readable progress of the preparation phases. */
  onStatus?: (message: string) => void;
  /** Documents to use instead of the packaged corpus (tests use a small one). */
  corpus?: { train: Document[]; validation: Document[] };
}

export interface TrainRunResult {
  step: number;
  tokensSeen: number;
  lastLoss: number;
  validationLoss: number | null;
  tokensPerS: number;
  outDir: string;
}

const PAD = 0, BOS = 1, EOS = 2;
/** Consecutive steps with a non-finite gradient norm (each update skipped) after which a run counts as diverged. */
export const MAX_SKIPPED_STEPS = 10;

/** The ModelConfig a training config describes, for a tokenizer with `vocabSize` ids and the given BOS/EOS. */
export function modelConfigFor(t: TrainConfig, vocabSize: number, bos: number, eos: number): ModelConfig {
  if ((t as Partial<TrainConfig> | null)?.model === null || typeof (t as Partial<TrainConfig> | null)?.model !== 'object') throw argError('modelConfigFor', 't', 'a training config (parseTrainConfig)', t);
  for (const [name, v] of [['vocabSize', vocabSize], ['bos', bos], ['eos', eos]] as const) checkArg('modelConfigFor', name, v, 'count');
  const m = t.model;
  const common = {
    vocabSize, hiddenSize: m.hiddenSize, nLayers: m.nLayers, nHeads: m.nHeads, headDim: m.hiddenSize / m.nHeads,
    intermediateSize: m.intermediateSize, maxPositions: m.maxPositions, normEps: m.normEps, tieEmbeddings: m.tieEmbeddings,
    bosTokenId: bos, eosTokenIds: [eos],
  };
  return m.arch === 'gpt2'
    ? gpt2Config({ ...common, nKvHeads: m.nHeads, activation: m.activation })
    : llamaConfig({ ...common, nKvHeads: m.nKvHeads, ropeTheta: m.ropeTheta });
}

/** Room kept in a training checkpoint for its JSON header (the config and the data mixer's state). */
const CHECKPOINT_HEADER_ROOM = MiB;
/**
 * The most parameters a run can train: its checkpoint holds three float32 copies of them (weights and AdamW's two
 * moments), and a checkpoint larger than the reader takes could be written but never resumed.
 */
export const MAX_TRAIN_PARAMETERS = Math.floor((MAX_CHECKPOINT_BYTES - CHECKPOINT_HEADER_ROOM) / 12);

/**
 * Refuses a model too large to train here before anything is done for it (a tokenizer trained, files written): one
 * past the checkpoint's bound, or whose parameter state alone exceeds this machine's memory. A run holds 16 bytes per
 * parameter (float32 weights, gradients and AdamW's two moments) and 12 more while a checkpoint is written; its
 * activations come on top, so this is a lower bound, never a promise that a smaller model fits.
 */
export function checkTrainingSize(config: ModelConfig, memoryBytes = totalmem()): number {
  const n = trainableParamCount(config);
  const GiB = 1024 * MiB, gib = (b: number) => (b / GiB).toFixed(1);
  const shape = `${config.nLayers} layers of width ${config.hiddenSize} (MLP ${config.intermediateSize}), ${config.vocabSize} tokens`;
  if (n > MAX_TRAIN_PARAMETERS) {
    throw new Error(`the model has ${n.toLocaleString('en-US')} parameters (${shape}); namm train takes at most ${MAX_TRAIN_PARAMETERS.toLocaleString('en-US')}, whose checkpoint (weights and AdamW's two moments, ${gib(12 * n)} GiB here) must stay within ${gib(MAX_CHECKPOINT_BYTES)} GiB to be resumed`);
  }
  if (28 * n > memoryBytes) {
    throw new Error(`the model has ${n.toLocaleString('en-US')} parameters (${shape}): training holds 16 bytes per parameter (weights, gradients, AdamW's moments) and 12 more while a checkpoint is written, ${gib(28 * n)} GiB before any activation, more than this machine's ${gib(memoryBytes)} GiB of memory`);
  }
  return n;
}

/** The tokenizer.json a config's tokenizer.path (a file, or a folder holding one) names. */
const tokenizerSource = (path: string) => (path.endsWith('.json') ? path : join(path, 'tokenizer.json'));

/**
 * The tokenizer: the configured file, or a byte-level BPE trained on the training documents (deterministic). A resume
 * takes the one in the folder once checkRunTokenizer has found it to be the run's; one whose tokenizer.json is gone
 * makes it again, and writes it only once found to be the run's: written first, a refused one stayed in the folder.
 * `recorded`: the checkpoint's tokenizer digest, when it has one.
 */
async function prepareTokenizer(o: TrainRunOptions, train: Document[], recorded: string | undefined): Promise<void> {
  const path = join(o.outDir, 'tokenizer.json');
  if (o.resume && existsSync(path)) {
    await checkRunTokenizer(o, readFileLimited(path, 512 * MiB, 'tokenizer', true), recorded, false);
    return;
  }
  const t = o.config.tokenizer;
  let tokenizer: Buffer, config: Buffer | null;
  if (t.path) {
    const src = tokenizerSource(t.path);
    tokenizer = await fs.readFile(src);
    const cfg = join(src, '..', 'tokenizer_config.json');
    config = existsSync(cfg) ? await fs.readFile(cfg) : null;
  } else {
    o.onStatus?.(`training a ${t.vocabSize}-token byte-level BPE on ${train.length} documents`);
    const bpe = trainBpe(train.map((d) => d.text), { vocabSize: t.vocabSize });
    // The merges stop when no pair is seen twice: a small corpus gives fewer tokens than asked, and the model is
    // sized by the tokenizer it gets.
    if (bpe.vocab.length < t.vocabSize) o.onStatus?.(`note: the documents hold merges for ${bpe.vocab.length} tokens, fewer than tokenizer.vocabSize (${t.vocabSize}): the tokenizer and the model have ${bpe.vocab.length}`);
    tokenizer = Buffer.from(JSON.stringify(bpeTokenizerJson(bpe)));
    config = Buffer.from(JSON.stringify(bpeTokenizerConfig(bpe, o.config.model.maxPositions), null, 2) + '\n');
  }
  if (o.resume) await checkRunTokenizer(o, tokenizer, recorded, true);
  await writeFileAtomic(path, tokenizer);
  if (config) await writeFileAtomic(join(o.outDir, 'tokenizer_config.json'), config);
}

/**
 * Drops the log lines of steps after `step`: a run stopped between two checkpoints had logged steps that the resumed
 * run does again, and the log (and its loss curve) must hold each step once. A torn last line goes too, and so does
 * a phase line at `step`: a phase's first checkpoint comes after steps of it, so a phase that logged its start at
 * the checkpoint's step was stopped before any (a phase started again logs its line anew; one given up, the run
 * resumed on the old data, never happened, and the steps after the line were not of it).
 */
async function truncateLog(path: string, step: number): Promise<void> {
  if (!existsSync(path)) return;
  const lines = readFileLimited(path, 1024 * MiB, 'log', true).toString('utf8').split('\n').filter((l) => l.trim() !== '');
  const keep = lines.filter((line, i) => {
    let v: unknown;
    try { v = JSON.parse(line); } catch { return i < lines.length - 1; }
    const at = (v as { step?: unknown } | null)?.step;
    if (at === step && (v as { phase?: unknown }).phase !== undefined) return false;
    return typeof at !== 'number' || at <= step;
  });
  if (keep.length !== lines.length) await writeFileAtomic(path, keep.map((l) => l + '\n').join(''));
}

/**
 * Starts a run from a saved model's weights (config `init`): the folder's architecture must be the config's,
 * field by field, so that a mistaken folder fails here with what differs rather than in a weight's shape.
 */
async function loadInitialWeights(model: TrainableModel, dir: string): Promise<void> {
  if (!existsSync(join(dir, 'config.json'))) throw new Error(`init: ${dir} is not a model folder (no config.json)`);
  const files = await loadModelFiles(dir);
  checkInitFields(files.config, model.config, dir, true);
  model.loadHfWeights(files.weights);
}

function checkInitFields(have: ModelConfig, want: ModelConfig, dir: string, withVocab: boolean): void {
  // First: no training config can say per-head q/k norms, so no field below would make a Qwen3 folder fit.
  if (have.gemma) throw new Error(`init: ${dir} is a Gemma 3 model, which namm train does not train`);
  if (have.qkNorm) throw new Error(`init: ${dir} is a ${have.modelType} model with per-head q/k norms (Qwen3's q_norm / k_norm), which namm train does not train`);
  // Training attends to every earlier token and writes a model without a window: a windowed model would come back
  // as another one past its window.
  if (have.slidingWindow !== undefined) throw new Error(`init: ${dir} is a ${have.modelType} model with a ${have.slidingWindow}-token sliding window, which namm train does not train (its attention sees every earlier token)`);
  // Biases, the norm's epsilon and the rotary scheme too: a Qwen2 folder (q/k/v biases, eps 1e-6) loaded without a
  // word, its biases dropped and its eps changed, and trained on as another model (logits off by up to 8.7).
  const fields = ['arch', 'vocabSize', 'hiddenSize', 'nLayers', 'nHeads', 'nKvHeads', 'headDim', 'intermediateSize', 'maxPositions', 'tieEmbeddings', 'activation',
    'normEps', 'attnQkvBias', 'attnOutBias', 'mlpBias', 'partialRotaryFactor'] as const;
  for (const k of fields) {
    if (k === 'vocabSize' && !withVocab) continue;
    if (have[k] !== want[k]) throw new Error(`init: ${dir} has ${k} ${String(have[k])}, the config's model ${String(want[k])}`);
  }
  if (want.arch === 'llama') {
    if (have.ropeTheta !== want.ropeTheta) throw new Error(`init: ${dir} has ropeTheta ${have.ropeTheta}, the config's model ${want.ropeTheta}`);
    if (have.ropeScaling.type !== want.ropeScaling.type) throw new Error(`init: ${dir} has RoPE scaling ${have.ropeScaling.type}, the config's model ${want.ropeScaling.type}`);
  }
}

/**
 * The init folder's architecture against the config's, from its config.json alone, before anything is written: the
 * full check (loadInitialWeights) comes after the tokenizer and the corpus's tokenization, ~20–30 s in, with the
 * run's first files already in --out. The vocabulary size waits for the tokenizer.
 */
async function checkInitArchitecture(cfg: TrainConfig): Promise<void> {
  const dir = cfg.init!;
  const have = parseHfConfig(await readJsonFile(join(dir, 'config.json')), join(dir, 'config.json'));
  checkInitFields(have, modelConfigFor(cfg, have.vocabSize, 0, 0), dir, false);
}

/**
 * What token-cache.bin begins with: a digest of the tokenizer.json bytes and the run's seed (a resume's evidence of
 * the tokenizer for a checkpoint that records none). The documents' digest (corpusDigest) ends the file: the token
 * streams are the documents', and a run given other ones (through the API's `corpus`, or a new version of the
 * corpus packages) trained on the old ones' tokens. Kept apart so that other documents do not read as another
 * tokenizer.
 */
function tokenCacheKey(o: TrainRunOptions, tokenizer: Buffer): Buffer {
  return createHash('sha256').update(tokenizer).update(`|${o.config.training.seed}`).digest();
}

/** SHA-256 of a split's documents, names and texts, in order. */
function corpusDigest(split: { train: Document[]; validation: Document[] }): Buffer {
  const h = createHash('sha256');
  for (const [part, docs] of [['train', split.train], ['validation', split.validation]] as const) {
    h.update(`${part}:${docs.length}\0`);
    for (const d of docs) h.update(`${d.name.length}:${d.name}${d.text.length}:`).update(d.text);
  }
  return h.digest();
}

/** SHA-256 (hex) of a tokenizer.json's bytes, as a training checkpoint records it. */
const tokenizerDigest = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * On a resume: whether `tokenizer` (the folder's tokenizer.json, or with `remade` one made again because it was
 * missing: trained again, or read again from tokenizer.path; not written yet) is the tokenizer the weights were
 * trained with, by the checkpoint's digest, or for a checkpoint without one by the key of the token cache the run
 * made. One that differs (another run's tokenizer copied over it, a tokenizer.path file edited since) is refused: the
 * weights would go on training on ids that now mean other tokens, and the token cache, taken for a damaged one, was
 * tokenized again over the only evidence. Without either there is nothing to check it by.
 */
async function checkRunTokenizer(o: TrainRunOptions, tokenizer: Buffer, recorded: string | undefined, remade: boolean): Promise<void> {
  const file = join(o.outDir, 'tokenizer.json');
  const which = remade ? `${file} was missing, and the one made again` : file;
  if (recorded !== undefined) {
    if (tokenizerDigest(tokenizer) !== recorded) {
      throw new Error(`${which} differs from the tokenizer this run was trained with (its checkpoint.bin records SHA-256 ${recorded.slice(0, 16)}…); put the run's tokenizer.json back`);
    }
    return;
  }
  const cachePath = join(o.outDir, 'token-cache.bin');
  let cached: Uint8Array | null = null;
  try { if (existsSync(cachePath)) cached = (await readCheckpointFile(cachePath)).subarray(0, 32); } catch { /* damaged: no evidence */ }
  if (!cached) {
    if (remade) o.onStatus?.(`warning: ${file} was missing and has been made again; nothing in the run shows whether it is the tokenizer its weights were trained with`);
    return;
  }
  if (!Buffer.from(cached).equals(tokenCacheKey(o, tokenizer))) {
    throw new Error(`${which} differs from the tokenizer this run was trained with (its token-cache.bin was made with another); put the run's tokenizer.json back`);
  }
}

/** Token streams of the (seed-shuffled) training and the validation documents, cached per tokenizer, seed and documents. */
async function prepareStreams(o: TrainRunOptions, tokenizer: Tokenizer, tokenizerBytes: Buffer, split: { train: Document[]; validation: Document[] }, bos: number, eos: number) {
  // Layout: the tokenizer key (32 bytes), the two streams' lengths, the streams (int32), the documents' digest.
  const tokHash = tokenCacheKey(o, tokenizerBytes), docs = corpusDigest(split);
  const cachePath = join(o.outDir, 'token-cache.bin');
  if (existsSync(cachePath)) {
    try {
      const p = await readCheckpointFile(cachePath);
      const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
      const nTrain = view.getUint32(32, true), nVal = view.getUint32(36, true), end = 40 + 4 * (nTrain + nVal);
      // A cache written before the documents' digest ends at `end`, and is made again.
      if (p.length === end + 32 && Buffer.from(p.subarray(0, 32)).equals(tokHash) && Buffer.from(p.subarray(end)).equals(docs)) {
        const ints = new Int32Array(new Uint8Array(p.subarray(40, end)).buffer);
        return { train: ints.slice(0, nTrain), validation: ints.slice(nTrain, nTrain + nVal) };
      }
    } catch { /* a damaged cache is rebuilt */ }
  }
  o.onStatus?.(`tokenizing ${split.train.length + split.validation.length} documents`);
  const order = new Rng(`namm-train-docs|${o.config.training.seed}`).shuffle([...split.train]);
  const train = tokenStream(order, tokenizer, bos, eos), validation = tokenStream(split.validation, tokenizer, bos, eos);
  const end = 40 + 4 * (train.length + validation.length);
  const payload = new Uint8Array(end + 32);
  payload.set(tokHash, 0);
  const view = new DataView(payload.buffer);
  view.setUint32(32, train.length, true); view.setUint32(36, validation.length, true);
  new Int32Array(payload.buffer, 40).set(train); new Int32Array(payload.buffer, 40 + 4 * train.length).set(validation);
  payload.set(docs, end);
  await writeCheckpointFile(cachePath, payload);
  return { train, validation };
}

/**
 * What of a run's setup differs between a checkpoint's config `a` and the config `b` it is resumed with, as field
 * names ("model.layers", "tokenizer", "data", "training.seed", "training.tokensPerStep"); with `newData` the data
 * section and tokensPerStep may change. `sameTokenizer` decides for two given tokenizers named by different paths.
 */
function setupDifferences(a: TrainConfig, b: TrainConfig, newData: boolean, sameTokenizer: (x: string, y: string) => boolean): string[] {
  // Checkpoints written before model.positionInit existed hold no such field: they used the default.
  const modelOf = (c: TrainConfig): Record<string, unknown> => ({
    ...c.model, positionInit: c.model.positionInit ?? 'normal', positionStd: c.model.positionStd ?? c.model.initStd / 2,
    previousTokenHeads: c.model.previousTokenHeads ?? 0,
  });
  const out: string[] = [];
  const ma = modelOf(a), mb = modelOf(b);
  for (const k of [...new Set([...Object.keys(ma), ...Object.keys(mb)])]) {
    if (JSON.stringify(ma[k]) !== JSON.stringify(mb[k])) out.push(`model.${k}`);
  }
  // The tokenizer by what it is: a given one by the file it names (its size is the file's; the config's vocabSize,
  // once ignored there, may have been dropped or corrected since), a trained one by its size.
  const ta = a.tokenizer.path, tb = b.tokenizer.path;
  if ((ta === null) !== (tb === null) || (ta === null && a.tokenizer.vocabSize !== b.tokenizer.vocabSize)) out.push('tokenizer');
  else if (ta !== null && tb !== null && ta !== tb && !sameTokenizer(ta, tb)) out.push('tokenizer');
  if (!newData && JSON.stringify(a.data) !== JSON.stringify(b.data)) out.push('data');
  if (a.training.seed !== b.training.seed) out.push('training.seed');
  if (!newData && a.training.tokensPerStep !== b.training.tokensPerStep) out.push('training.tokensPerStep');
  return out;
}

/**
 * Whether two given tokenizers, named by paths spelt differently (relative and absolute, a folder and its
 * tokenizer.json, a moved copy), are the same: the same file once resolved, or the same bytes as `copy`, the
 * tokenizer a run copied into its folder (what a resumed run uses).
 */
function sameGivenTokenizer(x: string, y: string, copy: string): boolean {
  const file = (p: string) => { const f = resolve(tokenizerSource(p)); try { return realpathSync(f); } catch { return f; } };
  const fx = file(x), fy = file(y);
  if (fx === fy) return true;
  try {
    return readFileLimited(copy, 512 * MiB, 'tokenizer').equals(readFileLimited(fy, 512 * MiB, 'tokenizer'));
  } catch {
    return false;
  }
}

function validationLoss(model: TrainableModel, samples: Sample[]): number {
  let sum = 0, count = 0;
  for (const s of samples) { const l = model.loss(s.ids, s.targets); sum += l.sum; count += l.count; }
  return count ? sum / count : Number.NaN;
}

/** What a run (or any Hugging Face model folder) writes; their presence marks a folder a fresh run must not take. */
const MODEL_FOLDER_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'train-log.jsonl'];
/**
 * Written by a fresh run into --out before anything else and removed with its first checkpoint: model files beside it
 * are that run's own, stopped before they could be resumed (a failure, a kill), so a new run may start over there.
 */
export const UNFINISHED_RUN_MARKER = 'train-unfinished.json';

/**
 * Trains as `o` says. The run holds the lock of --out (src/util/run-lock.ts) from its first moment to its end: a
 * second run on the folder meanwhile is refused before it looks at or writes anything there.
 */
const TRAIN_RUN_OPTION_KEYS = ['config', 'outDir', 'resume', 'backend', 'newData', 'maxSteps', 'onStep', 'onEval', 'onStatus', 'corpus'];

export async function runTraining(o: TrainRunOptions): Promise<TrainRunResult> {
  checkArg('runTraining', 'o', o, 'object', 'an object { config, outDir, … }');
  // A misspelt option (`resum: true`) started a fresh run where a resume was meant.
  checkOptionKeys(o, TRAIN_RUN_OPTION_KEYS, 'runTraining');
  for (const cb of ['onStep', 'onEval', 'onStatus'] as const) {
    if (o[cb] !== undefined && typeof o[cb] !== 'function') throw argError('runTraining', cb, 'a function', o[cb]);
  }
  checkArg('runTraining', 'o.outDir', o.outDir, 'path');
  // 1.5 ran two steps and saved nothing (a save comes at exactly the last step); 0, −2 and NaN trained nothing.
  if (o.maxSteps !== undefined) checkArg('runTraining', 'o.maxSteps', o.maxSteps, 'positive');
  if ((o.config as Partial<TrainConfig> | null)?.model === null || typeof (o.config as Partial<TrainConfig> | null)?.model !== 'object') throw argError('runTraining', 'o.config', 'a parsed training config (parseTrainConfig / readTrainConfig)', o.config);
  // A config built by hand is not parsed: the cadences a run's saves depend on are checked here (checkpointEvery 0
  // never saved).
  const training = (o.config as Partial<TrainConfig>).training as Partial<TrainConfig['training']> | undefined;
  checkArg('runTraining', 'o.config.training', training, 'object');
  checkArg('runTraining', 'o.config.training.steps', training.steps, 'positive');
  checkArg('runTraining', 'o.config.training.checkpointEvery', training.checkpointEvery, 'positive');
  checkArg('runTraining', 'o.config.training.evalEvery', training.evalEvery, 'count');
  const lock = acquireRunLock(o.outDir, {
    command: 'namm train',
    onNote: (line) => { if (o.onStatus) o.onStatus(line); else process.stderr.write(`${line}\n`); },
  });
  try {
    return await trainInLockedFolder(o);
  } finally {
    lock.release();
  }
}

async function trainInLockedFolder(o: TrainRunOptions): Promise<TrainRunResult> {
  const cfg = o.config, be = o.backend ?? getBackend();
  const backendLabel = `${be.name}/${be.simd}`;
  const ckptPath = join(o.outDir, 'checkpoint.bin'), logPath = join(o.outDir, 'train-log.jsonl');
  refuseNonRegularRunFiles(o.outDir, ['checkpoint.bin', 'token-cache.bin', 'train-log.jsonl', 'tokenizer.json', 'tokenizer_config.json', 'config.json', 'generation_config.json', 'model.safetensors', UNFINISHED_RUN_MARKER]);
  if (!o.resume && !existsSync(ckptPath)) {
    // A fresh run writes config.json, the tokenizer and the weights into the folder from its first moments: a
    // folder that already holds a model (a shipped one, a finished run) would be overwritten piece by piece.
    // So would any other file there (generation_config.json, loss.svg, someone's notes), as evolve refuses.
    const entries = runFolderEntries(o.outDir);
    const held = MODEL_FOLDER_FILES.filter((f) => entries.includes(f));
    if (entries.includes(UNFINISHED_RUN_MARKER)) {
      if (held.length > 0) o.onStatus?.(`${o.outDir} holds a run that stopped before its first checkpoint (${held.join(', ')}); starting over in it`);
    } else if (held.length > 0) {
      throw new Error(`${o.outDir} already holds a model (${held.join(', ')}) and no training checkpoint; a new run needs an empty or new --out (remove the folder to start over in it)`);
    } else if (entries.length > 0) {
      const shown = entries.slice(0, 4).join(', ') + (entries.length > 4 ? `, … (${entries.length} entries)` : '');
      throw new Error(`${o.outDir} already holds files (${shown}) and no training checkpoint; a new run needs an empty or new --out`);
    }
  }
  // A resumed run has its weights in the checkpoint and its tokenizer in --out: the init folder may be gone.
  if (cfg.init && !o.resume && !existsSync(join(cfg.init, 'config.json'))) throw new Error(`init: ${cfg.init} is not a model folder (no config.json)`);
  if (cfg.init && !o.resume) await checkInitArchitecture(cfg);
  if (o.resume && !existsSync(ckptPath)) throw new Error(`--resume: ${o.outDir} holds no training checkpoint (checkpoint.bin); a new run drops --resume`);
  // The tokenizer is copied in once the folder is taken (a resumed run has it there already): a missing one is
  // refused now, before anything is written, not as a failed copy after.
  const tokenizerFrom = cfg.tokenizer.path && !(o.resume && existsSync(join(o.outDir, 'tokenizer.json'))) ? tokenizerSource(cfg.tokenizer.path) : null;
  const givenBy = cfg.init !== null && cfg.tokenizer.path === cfg.init ? 'init' : 'tokenizer.path';
  if (tokenizerFrom && !existsSync(tokenizerFrom)) throw new Error(`${givenBy}: ${tokenizerFrom} does not exist (no tokenizer to train with)`);
  // The vocabulary: the config's for a tokenizer the run trains, else the given tokenizer's (read now, so that a model
  // too large and a vocabSize that contradicts it are refused before anything is written).
  let vocabSize = cfg.tokenizer.vocabSize;
  if (cfg.tokenizer.path) {
    vocabSize = (await loadHfTokenizer(tokenizerFrom ?? join(o.outDir, 'tokenizer.json'))).vocabSize;
    if (cfg.tokenizer.vocabSizeGiven && vocabSize !== cfg.tokenizer.vocabSize) {
      throw new Error(`tokenizer.vocabSize is ${cfg.tokenizer.vocabSize}, but the tokenizer that ${givenBy} names (${tokenizerFrom ?? join(o.outDir, 'tokenizer.json')}) has ${vocabSize} tokens; drop vocabSize or make it ${vocabSize}`);
    }
  }
  checkTrainingSize(modelConfigFor(cfg, vocabSize, 0, 0));
  makeFolders(o.outDir, 'output folder');
  const checkpoint = o.resume ? await loadTrainCheckpoint(ckptPath) : null;
  if (!o.resume && existsSync(ckptPath)) {
    // An evolution run's folder has a checkpoint.bin too, which --resume would not read.
    if (checkpointFormatOf(ckptPath) === EVOLUTION_CHECKPOINT_FORMAT) throw new Error(`${o.outDir} holds a namm evolve run (its checkpoint.bin is an evolution checkpoint); choose another --out`);
    throw new Error(`${o.outDir} already holds a training checkpoint; pass --resume to continue it or choose another --out`);
  }
  if (o.newData && !o.resume) throw new Error('a new data phase continues a run: pass --resume with it');
  const markerPath = join(o.outDir, UNFINISHED_RUN_MARKER);
  if (!o.resume) await fs.writeFile(markerPath, JSON.stringify({ run: cfg.name, started: new Date().toISOString() }) + '\n');
  const copiedTokenizer = join(o.outDir, 'tokenizer.json');
  const changed = checkpoint ? setupDifferences(checkpoint.header.config, cfg, !!o.newData, (x, y) => sameGivenTokenizer(x, y, copiedTokenizer)) : [];
  if (changed.length > 0) {
    const named = `${changed.join(', ')} ${changed.length === 1 ? 'differs' : 'differ'} from the checkpoint's config`;
    throw new Error(o.newData
      ? `${ckptPath} was made with a different model, tokenizer or seed (${named}); a new data phase may change only the data section, tokensPerStep, the schedule and the optimizer`
      : `${ckptPath} was made with a different model, tokenizer, data or seed configuration (${named}); only training.steps, checkpointEvery, evalEvery and the optimizer may change on resume (--new-data starts a new data phase)`);
  }
  const phaseStarts = !!checkpoint && !!o.newData && setupDifferences(checkpoint.header.config, cfg, false, (x, y) => sameGivenTokenizer(x, y, copiedTokenizer)).length > 0;

  const split = o.corpus ?? corpusSplit();
  await prepareTokenizer(o, split.train, checkpoint?.header.tokenizerSha256);
  const tokenizerBytes = readFileLimited(join(o.outDir, 'tokenizer.json'), 512 * MiB, 'tokenizer', true);
  const tokenizerSha256 = tokenizerDigest(tokenizerBytes);
  // config.json must exist before the tokenizer is loaded: it names the BOS/EOS ids.
  const probe = await loadHfTokenizer(join(o.outDir, 'tokenizer.json'));
  const bos = cfg.tokenizer.path ? probe.bosTokenId : BOS, eos = cfg.tokenizer.path ? probe.eosTokenIds[0] ?? null : EOS;
  if (bos === null || eos === null) throw new Error('the tokenizer must define BOS and EOS tokens');
  const config = modelConfigFor(cfg, probe.vocabSize, bos, eos);
  await writeModelConfigs(o.outDir, config, cfg.tokenizer.path ? null : PAD);
  const tokenizer = await loadHfTokenizer(join(o.outDir, 'tokenizer.json'));
  const streams = await prepareStreams(o, tokenizer, tokenizerBytes, split, bos, eos);

  const mixer = new DataMixer({ ...cfg.data, seed: cfg.training.seed }, streams.train, tokenizer, bos, eos, config.maxPositions);
  const validation = cfg.data.validationSamples > 0 ? DataMixer.validationSamples(mixer, streams.validation, cfg.data.validationSamples) : [];
  const model = createTrainableModel(config, backendGemm(be), 'f32', { std: cfg.model.initStd, positions: cfg.model.positionInit, positionStd: cfg.model.positionStd });
  const opt = new AdamW(model.params, { beta1: cfg.optimizer.beta1, beta2: cfg.optimizer.beta2, eps: cfg.optimizer.eps, weightDecay: cfg.optimizer.weightDecay });
  let step = 0, tokensSeen = 0, elapsedBefore = 0;
  if (checkpoint) {
    if (checkpoint.header.paramCount !== model.params.count) throw new Error(`${ckptPath}: ${checkpoint.header.paramCount} parameters, the model has ${model.params.count}`);
    model.params.data.set(checkpoint.params);
    opt.setState({ step: checkpoint.header.adamStep, m: checkpoint.m, v: checkpoint.v });
    if (phaseStarts) mixer.startPhase(checkpoint.header.step, checkpoint.header.mixer);
    else mixer.setState(checkpoint.header.mixer);
    step = checkpoint.header.step; tokensSeen = checkpoint.header.tokensSeen; elapsedBefore = checkpoint.header.elapsedS;
    // Say so when the kernels changed (a native addon that failed to load falls back to TypeScript with a mere
    // warning): the run goes on, but no longer bit-identically to one that was never stopped.
    if (checkpoint.header.backend !== undefined && checkpoint.header.backend !== backendLabel) {
      o.onStatus?.(`warning: ${ckptPath} was written on ${checkpoint.header.backend}, this run uses ${backendLabel}: it continues with other roundings, so it is not bit-identical to an uninterrupted run`);
    }
    o.onStatus?.(`resumed at step ${step} (${tokensSeen} tokens seen)${phaseStarts ? ', new data phase' : ''}`);
    // The checkpoint holds no history to rebuild it from: a log gone since starts again here, and says so.
    if (!existsSync(logPath)) o.onStatus?.(`warning: ${logPath} is missing: the log (and loss.svg) of steps 1–${step} is gone, and it goes on from step ${step + 1}`);
    await truncateLog(logPath, step);
    // The log is read again at every checkpoint (for loss.svg): a damaged line fails now, not after a checkpoint's work.
    if (existsSync(logPath)) readTrainLog(logPath);
    if (phaseStarts) appendLineSync(logPath, JSON.stringify({ step, phase: 'new data', data: cfg.data, tokens_per_step: cfg.training.tokensPerStep }));
  } else if (cfg.init) {
    await loadInitialWeights(model, cfg.init);
    o.onStatus?.(`weights from ${cfg.init}`);
    await fs.writeFile(logPath, JSON.stringify({ step: 0, init: cfg.init }) + '\n');
  } else {
    model.params.initialize(cfg.training.seed);
    if (cfg.model.previousTokenHeads > 0) wirePreviousTokenHeads(model.params, config, cfg.model.previousTokenHeads, { std: cfg.model.initStd, positionStd: cfg.model.positionStd });
    await fs.writeFile(logPath, '');
  }

  // A run's warm-up is set when it starts: a resume whose config leaves warmupSteps to the default keeps it (raising
  // training.steps to continue a short run took its derived warm-up from a tenth of the old steps to 100, and the
  // rate fell ~10× and climbed again from step 7 of 12).
  const startedWarmup = (checkpoint?.header.config as TrainConfig | undefined)?.optimizer?.warmupSteps;
  const warmupSteps = checkpoint && !cfg.optimizer.warmupGiven && typeof startedWarmup === 'number' ? startedWarmup : cfg.optimizer.warmupSteps;
  if (warmupSteps !== cfg.optimizer.warmupSteps) o.onStatus?.(`warm-up stays ${warmupSteps} steps, as the run started (the config sets no optimizer.warmupSteps)`);
  const schedule = { peak: cfg.optimizer.lr, min: cfg.optimizer.minLr, warmupSteps, totalSteps: cfg.training.steps };
  const stopAt = Math.min(cfg.training.steps, o.maxSteps !== undefined ? step + o.maxSteps : Infinity);
  // A resume of a run at or past its steps trains nothing: say so (it printed a result line with a null loss and no word).
  if (checkpoint && step >= cfg.training.steps) {
    o.onStatus?.(`the run in ${o.outDir} is at step ${step}, ${step > cfg.training.steps ? 'past' : 'at'} the config's training.steps (${cfg.training.steps}): nothing to train; raise training.steps to continue it`);
  }
  const log = async (entry: Record<string, unknown>) => appendLineSync(logPath, JSON.stringify(entry));
  const save = async () => {
    // Never write non-finite weights over the run's last good model and checkpoint (a step skips a non-finite
    // gradient, and a checkpoint is checked when read, so this should not happen; if it does, the files stay).
    const params = model.params.data as Float32Array;
    for (let i = 0; i < params.length; i++) {
      if (!Number.isFinite(params[i]!)) throw new Error(`step ${step}: parameter ${i} of ${params.length} is ${params[i]}; nothing was saved, and ${o.outDir} keeps the model and checkpoint of the last save`);
    }
    await writeModelWeights(o.outDir, model, { step: String(step) });
    await writeFileAtomic(join(o.outDir, 'loss.svg'), renderLossSvg(readTrainLog(logPath), `${cfg.name}: training loss`));
    await saveTrainCheckpoint(ckptPath, {
      header: {
        format: TRAIN_CHECKPOINT_FORMAT, step, tokensSeen, elapsedS: elapsedBefore + (performance.now() - t0) / 1000,
        adamStep: opt.step, paramCount: model.params.count, mixer: mixer.getState(), backend: backendLabel, tokenizerSha256,
        // With the warm-up the run uses, which a config without warmupSteps leaves as the run started it: saved as
        // the config's own, the next resume would read the new config's default as the run's.
        config: { ...cfg, optimizer: { ...cfg.optimizer, warmupSteps } },
      },
      params: model.params.data as Float32Array, m: opt.m as Float32Array, v: opt.v as Float32Array,
    });
    // From the first checkpoint on the run resumes: its files are no longer an unfinished start.
    await fs.rm(markerPath, { force: true });
  };

  // What save() writes, checked before the first step: a folder or a read-only file where model.safetensors, loss.svg
  // or checkpoint.bin goes failed only at the first save, checkpointEvery steps of work later.
  if (step < stopAt) for (const f of ['model.safetensors', 'loss.svg', 'checkpoint.bin']) checkWritable(join(o.outDir, f));
  const t0 = performance.now();
  let runTokens = 0, lastLoss = Number.NaN, valLoss: number | null = null;
  let skippedInARow = 0;
  while (step < stopAt) {
    const stepStart = performance.now();
    // Draw the whole step first: the gradient is the mean over the step's target tokens, so the scale must be known.
    const batch: Sample[] = [];
    let stepTokens = 0, targets = 0;
    while (stepTokens < cfg.training.tokensPerStep) {
      const s = mixer.next();
      batch.push(s); stepTokens += s.ids.length;
      for (const y of s.targets) if (y >= 0) targets++;
    }
    model.params.zeroGrad();
    let lossSum = 0;
    for (const s of batch) lossSum += model.forwardBackward(s.ids, s.targets, 1 / Math.max(1, targets)).sum;
    const gradNorm = clipGradNorm(model.params.grad, cfg.optimizer.gradClip);
    const lr = learningRate(schedule, step);
    if (Number.isFinite(gradNorm)) {
      opt.update(lr);
      skippedInARow = 0;
    } else {
      o.onStatus?.(`step ${step + 1}: non-finite gradient norm, update skipped`);
      // One bad batch is skipped; a run whose every step is non-finite has diverged, and stepping on would only
      // checkpoint it and export a model whose forward is non-finite.
      if (++skippedInARow >= MAX_SKIPPED_STEPS) {
        throw new Error(`training diverged: the gradient norm was non-finite at ${MAX_SKIPPED_STEPS} steps in a row (steps ${step - MAX_SKIPPED_STEPS + 2}–${step + 1}), so the run stops; its last checkpoint (written every ${cfg.training.checkpointEvery} steps) may already hold the diverged weights. Try a lower optimizer.lr or gradClip`);
      }
    }
    step++; tokensSeen += stepTokens; runTokens += stepTokens;
    lastLoss = lossSum / Math.max(1, targets);
    const now = performance.now(), elapsedS = (now - t0) / 1000;
    const info: StepInfo = {
      step, totalSteps: cfg.training.steps, loss: lastLoss, lr, gradNorm, stepTokens, tokensSeen,
      tokensPerS: stepTokens / ((now - stepStart) / 1000), elapsedS: elapsedBefore + elapsedS, sequences: batch.length,
    };
    await log({ step, loss: lastLoss, lr, grad_norm: gradNorm, tokens: stepTokens, tokens_seen: tokensSeen, sequences: batch.length, tokens_per_s: info.tokensPerS, elapsed_s: info.elapsedS });
    o.onStep?.(info);
    if (cfg.training.evalEvery > 0 && validation.length && (step % cfg.training.evalEvery === 0 || step === cfg.training.steps)) {
      valLoss = validationLoss(model, validation);
      await log({ step, validation_loss: valLoss });
      o.onEval?.(step, valLoss);
    }
    if (step % cfg.training.checkpointEvery === 0 || step === stopAt) await save();
  }
  const runS = (performance.now() - t0) / 1000;
  return { step, tokensSeen, lastLoss, validationLoss: valLoss, tokensPerS: runS > 0 ? runTokens / runS : 0, outDir: o.outDir };
}
