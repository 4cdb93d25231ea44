/**
 * A loaded model: configuration, weights arranged for one architecture, and the tokenizer. Immutable and shared:
 * any number of Sessions (each with its own KV cache and memory policy) run on one Model.
 */
import { getBackend } from '../tensor/index.js';
import type { Backend } from '../tensor/backend.js';
import type { MemoryPolicy } from '../memory/policy.js';
import { Session, SESSION_OPTION_KEYS, type SessionOptions } from '../runtime/session.js';
import { checkOptionKeys } from '../util/show.js';
import { checkWeights, type DecoderArch } from './arch.js';
import { Gpt2Arch } from './gpt2.js';
import { LlamaArch } from './llama.js';
import { checkModelPath, loadModelFiles } from './load.js';
import type { WeightStorage } from './pack.js';
import { validateModelConfig } from './config.js';
import { modelFingerprint } from './fingerprint.js';
import type { ModelConfig, Tokenizer, WeightMap } from './types.js';
import { argError } from '../util/args.js';

export interface LoadModelOptions {
  backend?: Backend;
  /**
   * How weight matrices are held: 'auto' (default: F16, BF16 and quantised matrices such as Q4_K or Q8_0 stay as
   * the file stores them on the native backend; the TypeScript one widens them), 'f32' (everything widened),
   * 'packed' (every F16/BF16/quantised matrix stays as stored, on either backend) — all three with the same
   * results — or 'q8_0' | 'q4_0' | 'f16' | 'bf16' (float32 matrices converted too, lossy). See src/models/pack.ts.
   */
  weights?: WeightStorage;
}

export interface CreateSessionOptions extends Omit<SessionOptions, 'memory'> {
  /** A memory policy, or a spec string such as "h2o:ratio=0.5" or "namm:model.namm". */
  memory?: MemoryPolicy | string | null;
}

/**
 * The architecture `config` describes over `weights`, once the config is valid and every weight it reads is there
 * with its shape (and none past its layers): what a Model runs, and what `namm convert` checks before it writes.
 * `source` (a path) names the files in an error.
 */
export function buildArch(config: ModelConfig, weights: WeightMap, source = ''): DecoderArch {
  try {
    validateModelConfig(config);
    checkWeights(config, weights);
    return config.arch === 'gpt2' ? new Gpt2Arch(config, weights) : new LlamaArch(config, weights);
  } catch (err) {
    // A missing layer or a weight of the wrong shape, named with the file it came from (every other damage is).
    if (!source || !(err instanceof Error)) throw err;
    throw new (err.constructor as ErrorConstructor)(`${source}: ${err.message}`, { cause: err });
  }
}

/**
 * A tokenizer for `config`: one (encode and decode), whose BOS and end tokens are ids of the model's vocabulary (an
 * end token past it, from a generation_config.json, replaced the real one, and generation ran to its length limit).
 */
/** Tokens a tokenizer may have past the model's vocabulary with a warning (see checkTokenizer); more are refused. */
const MAX_TOKENS_PAST_VOCAB = 256;

function checkTokenizer(tokenizer: Tokenizer | null, config: ModelConfig, source: string): void {
  if (tokenizer === null) return;
  const where = source ? `${source}: ` : '';
  const t = tokenizer as Partial<Tokenizer> | undefined;
  if (typeof t !== 'object' || typeof t.encode !== 'function' || typeof t.decode !== 'function') {
    throw new TypeError(`${where}the tokenizer must be an object with encode and decode (or null), got ${t === undefined ? 'undefined' : typeof t}`);
  }
  const v = config.vocabSize;
  const ids = [...(t.bosTokenId !== null && t.bosTokenId !== undefined ? [t.bosTokenId] : []), ...(t.eosTokenIds ?? [])];
  const outside = ids.find((id) => !(Number.isSafeInteger(id) && id >= 0 && id < v));
  if (outside !== undefined) throw new RangeError(`${where}the tokenizer's BOS/EOS token ${String(outside)} is not a token id of the model (0..${v - 1})`);
  // A tokenizer larger than the model's embedding (the other way round is common: embeddings padded past it) gives
  // ids the model cannot read: a prompt holding one failed in the forward, naming neither file. A few tokens past it
  // (an added <pad> the embedding was never resized for, which transformers loads too) are said once; more is a
  // tokenizer that does not belong to the model, or a damaged one (an id of 16,777,215 in a 2,048-token model).
  if (typeof t.vocabSize === 'number' && t.vocabSize > v) {
    const what = `the tokenizer has ${t.vocabSize} tokens (ids up to ${t.vocabSize - 1}), more than the model's vocabulary of ${v}`;
    if (t.vocabSize - v > MAX_TOKENS_PAST_VOCAB) throw new RangeError(`${where}${what}: it does not belong to this model (or is damaged)`);
    process.emitWarning(`namm: ${where}${what}: a text holding a token past ${v - 1} cannot be read`, { code: 'NAMM_TOKENIZER_PAST_VOCAB' });
  }
}

export class Model {
  readonly arch: DecoderArch;
  /**
   * The storage its matrices were converted to at load (`weights: 'q8_0'` and the like, when it converted any), or
   * null when the model holds exactly its file's values (float32 or packed): what sets the model's outputs apart
   * from the file's, for records of a run.
   */
  convertedWeights: WeightStorage | null = null;
  /**
   * The model's identity by content (modelFingerprint: its config and a sample of every weight tensor), taken at
   * construction: results kept on disk (eval --out, an evolution's reference scores) are reused only for the same one.
   */
  readonly fingerprint: string;

  constructor(
    readonly config: ModelConfig,
    weights: WeightMap,
    readonly tokenizer: Tokenizer | null,
    readonly backend: Backend = getBackend(),
    /** Where the model came from (path), for reports. */
    readonly source = '',
  ) {
    checkBackend(backend);
    this.arch = buildArch(config, weights, source);
    checkTokenizer(tokenizer, config, source);
    this.fingerprint = modelFingerprint(config, weights);
  }

  /** Loads a Hugging Face folder (safetensors), a GGUF file or a llama2.c checkpoint. */
  static async fromPretrained(path: string, options: LoadModelOptions = {}): Promise<Model> {
    if (options === null || typeof options !== 'object') throw new TypeError(`loadModel: options must be an object, got ${options === null ? 'null' : typeof options}`);
    // `{ weigths: 'q8_0' }` loaded the default storage without a word.
    checkOptionKeys(options, ['backend', 'weights'], 'loadModel');
    checkModelPath('loadModel', path);
    if (options.backend !== undefined) checkBackend(options.backend);
    const backend = options.backend ?? getBackend();
    const files = await loadModelFiles(path, { weights: autoWeights(options.weights ?? 'auto', backend) });
    const model = new Model(files.config, files.weights, files.tokenizer, backend, files.source);
    if (files.converted > 0) model.convertedWeights = options.weights!;
    return model;
  }

  /** A new sequence with its own KV cache and memory-policy state. */
  async createSession(options: CreateSessionOptions = {}): Promise<Session> {
    checkOptionsObject(options, 'createSession');
    let memory: MemoryPolicy | null = null;
    if (typeof options.memory === 'string') {
      const { parsePolicySpec } = await import('../memory/spec.js');
      memory = parsePolicySpec(options.memory);
    } else memory = options.memory ?? null;
    return new Session(this.arch, this.backend, this.tokenizer, { ...options, memory });
  }

  /** Synchronous variant for an already-built policy object. */
  createSessionWith(memory: MemoryPolicy | null, options: Omit<SessionOptions, 'memory'> = {}): Session {
    checkOptionsObject(options, 'createSessionWith', false);
    return new Session(this.arch, this.backend, this.tokenizer, { ...options, memory });
  }
}

/**
 * 'auto' on the TypeScript backend is 'f32': its GEMM widens a packed matrix anew on every call, which costs it
 * several times the product (the native kernels widen as they pack, at a few percent).
 */
export function autoWeights(storage: WeightStorage, backend: Backend): WeightStorage {
  return storage === 'auto' && backend.name === 'js' ? 'f32' : storage;
}

/** Refuses argument `model` of `fn` unless it is a loaded Model. */
export function checkModel(fn: string, model: unknown): asserts model is Model {
  if (!(model instanceof Model)) throw argError(fn, 'model', 'a loaded Model (loadModel(path))', model);
}

/** transformers.js-style entry point: `const model = await loadModel(path)`. */
export function loadModel(path: string, options: LoadModelOptions = {}): Promise<Model> {
  return Model.fromPretrained(path, options);
}

/** The kernels every forward calls: a backend without them failed at the first generate ("be.rmsNorm is not a function"). */
const REQUIRED_KERNELS = ['matmulABt', 'matmulAB', 'rmsNorm', 'layerNorm', 'rope', 'siluMul', 'gelu', 'softmax', 'add', 'addBias', 'attention'] as const;

function checkBackend(backend: Backend): void {
  const b = backend as unknown as Record<string, unknown> | null;
  const missing = b === null || typeof b !== 'object' ? ['all'] : REQUIRED_KERNELS.filter((k) => typeof b[k] !== 'function');
  if (missing.length > 0) {
    throw new TypeError(`backend must be a Backend (getBackend(), new NativeBackend(), new JsBackend()); this one lacks ${missing.join(', ')}`);
  }
}

function checkOptionsObject(options: unknown, where: string, memory = true): void {
  if (options === null || typeof options !== 'object') throw new TypeError(`${where}: session options must be an object, got ${options === null ? 'null' : typeof options}`);
  // `{ memroy: 'h2o:…' }` ran the full cache without a word.
  checkOptionKeys(options, memory ? SESSION_OPTION_KEYS : SESSION_OPTION_KEYS.filter((k) => k !== 'memory'), where);
}
