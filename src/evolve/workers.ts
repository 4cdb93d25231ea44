/**
 * Parallel evaluation of population members. One evaluation job runs one task record greedily, either under a NAMM
 * with one member's parameters or with the full cache (the reference score). Jobs are independent: each builds its
 * own policy and session, so a result never depends on which thread ran it or in what order, and the fitness is
 * the same bit for bit with any number of workers.
 *
 * With one worker the jobs run in the main thread on the model's backend with its default threads. With N > 1,
 * N worker_threads each build a Model over the *same* weight memory: every weight tensor is copied once into a
 * SharedArrayBuffer in the main thread (`loadSharedModel`) and the Float32Array views are posted to the workers,
 * which never copy them. Each worker has its own backend instance with threads = 1 (the kernels then run inline on
 * the worker's thread, so N workers use N cores without contending for the kernel thread pool) and re-loads the
 * tokenizer from the model path.
 */
import { Worker } from 'node:worker_threads';
import { dirname, join } from 'node:path';
import { checkModelPath, loadModelFiles, type ModelFileFormat } from '../models/load.js';
import { autoWeights, checkModel, Model } from '../models/model.js';
import type { ModelConfig, Tensor, WeightMap } from '../models/types.js';
import { packedTensor, tensorStorage, type WeightStorage } from '../models/pack.js';
import { PackedMatrix, type PackedFormat } from '../tensor/packed.js';
import type { Backend } from '../tensor/backend.js';
import { getBackend } from '../tensor/index.js';
import { createNammPolicy, type NammPolicy } from '../memory/namm/index.js';
import { warnPastContext } from '../runtime/session.js';
import type { NormStats } from '../memory/namm/normalize.js';
import type { TapPrecision } from '../memory/policy.js';
import type { NammScorerKind } from '../memory/namm/params.js';
import type { NammSelection } from '../memory/namm/selection.js';
import { recordPrompt, runRecord, type RunRecordOptions } from '../eval/runner.js';
import type { Session } from '../runtime/session.js';
import type { TaskRecord } from '../tasks/record.js';
import { argError, checkArg } from '../util/args.js';

/** How every member's NAMM is built and how every record is run. */
export interface NammRunSettings {
  scorer: NammScorerKind;
  updateEvery: number;
  selection: NammSelection;
  cacheSize: number | null;
  taps: TapPrecision;
  run: RunRecordOptions;
}

/** A batch: the records and parameter vectors it uses, and the (record, member) pairs to run. */
export interface EvaluationBatch {
  records: readonly TaskRecord[];
  params: readonly Float32Array[];
  normStats: NormStats | null;
  /** `member: null` runs the record with the full cache (no policy). */
  jobs: readonly { record: number; member: number | null }[];
}

export interface JobResult {
  score: number;
  prediction: string;
  /** Token-weighted mean fraction of the full KV cache held during the run. */
  meanFraction: number;
  promptTokens: number;
  seconds: number;
}

export interface Evaluator {
  readonly workers: number;
  /** Runs every job of the batch; results in job order. */
  run(batch: EvaluationBatch): Promise<JobResult[]>;
  close(): Promise<void>;
}

/** A model whose weights live in SharedArrayBuffers, with what a worker needs to rebuild it. */
export interface SharedModel {
  model: Model;
  weights: WeightMap;
  /** Where the tokenizer is re-loaded from in workers, and the vocabulary size llama2.c files need. */
  tokenizerPath: string;
  format: ModelFileFormat;
  /** modelFingerprint of config and weights (keys the reference scores). */
  fingerprint: string;
  /** Matrices the `weights` storage converted at load (0: the model holds its file's own values). */
  converted: number;
}

/**
 * Copies every weight tensor once into its own SharedArrayBuffer (a packed one's bytes, staying packed); tied
 * aliases keep sharing one copy.
 */
export function shareWeights(weights: WeightMap): WeightMap {
  checkArg('shareWeights', 'weights', weights, 'Map', 'a weight Map (name → tensor)');
  const copies = new Map<object, Tensor>();
  const out: WeightMap = new Map();
  for (const [name, t] of weights) {
    const storage = tensorStorage(t);
    let copy = copies.get(storage);
    if (!copy) {
      if (t.packed) {
        const bytes = new Uint8Array(new SharedArrayBuffer(t.packed.byteLength));
        bytes.set(t.packed.bytes);
        copy = packedTensor(name, new PackedMatrix(t.packed.format, t.packed.rows, t.packed.cols, bytes));
      } else {
        const data = new Float32Array(new SharedArrayBuffer(t.data.byteLength));
        data.set(t.data);
        copy = { shape: [...t.shape], data };
      }
      copies.set(storage, copy);
    }
    out.set(name, copy);
  }
  return out;
}

/** Loads a model (any format `loadModelFiles` reads) with its weights in shared memory; `weights` as loadModelFiles. */
export async function loadSharedModel(path: string, backend: Backend = getBackend(), storage: WeightStorage = 'auto'): Promise<SharedModel> {
  checkModelPath('loadSharedModel', path);
  if (backend === null || typeof backend !== 'object') throw argError('loadSharedModel', 'backend', 'a kernel backend (getBackend())', backend);
  const files = await loadModelFiles(path, { weights: autoWeights(storage, backend) });
  if (!files.tokenizer) throw new Error(`model ${files.source} has no tokenizer; evolution runs tasks and needs one`);
  const weights = shareWeights(files.weights);
  files.weights.clear();
  const model = new Model(files.config, weights, files.tokenizer, backend, files.source);
  const tokenizerPath = files.format === 'safetensors' ? files.source
    : files.format === 'gguf' ? files.source : join(dirname(files.source), 'tokenizer.bin');
  return { model, weights, tokenizerPath, format: files.format, fingerprint: model.fingerprint, converted: files.converted };
}

function nammPolicyFor(model: Model, params: Float32Array, normStats: NormStats | null, settings: NammRunSettings): NammPolicy {
  return createNammPolicy({
    params, normStats, scorer: settings.scorer, updateEvery: settings.updateEvery, selection: settings.selection, taps: settings.taps,
    ...(settings.cacheSize !== null ? { cacheSize: settings.cacheSize } : {}), backend: model.backend,
  });
}

/**
 * Tokens at the start of a prompt of `length` tokens that a NAMM reads before any update may happen: whole chunks
 * (chunks fall on multiples of `chunkSize`; a prefill that stopped inside one would split it, and the attention of
 * a split chunk rounds differently), up to the chunk in which its first window ends, leaving at least one token.
 */
export function tokensBeforeFirstUpdate(updateEvery: number, chunkSize: number, length: number): number {
  const limit = Math.min(Math.floor((updateEvery - 1) / chunkSize) * chunkSize, length - 1);
  return Math.max(0, Math.floor(limit / chunkSize) * chunkSize);
}

/**
 * The beginnings the members of a population share, per thread and batch: for each record, a session fed its
 * prompt up to the chunk of NAMM's first update (tokensBeforeFirstUpdate). Until that update a NAMM has not used
 * its parameters, so each member continues a fork of that session with its own (NammPolicy.setParams) and gets
 * exactly the result of a run from the start, while the batch prefills that part once per record instead of once
 * per member (384 tokens with the default 512-token windows and 128-token chunks: 19–38% of a 1K–2K-token prompt).
 */
export class PromptPrefixes {
  private readonly byRecord = new Map<TaskRecord, { session: Session; tokens: number } | null>();
  private normStats: NormStats | null = null;

  /** Forgets every prefix: the next batch has other records and statistics. */
  clear(): void {
    this.byRecord.clear();
  }

  /** A fork of the record's shared beginning under `params`, or null when the prompt has none. */
  fork(model: Model, record: TaskRecord, params: Float32Array, normStats: NormStats | null, settings: NammRunSettings): { session: Session; tokens: number } | null {
    if (this.byRecord.size > 0 && normStats !== this.normStats) this.byRecord.clear();
    this.normStats = normStats;
    let entry = this.byRecord.get(record);
    if (entry === undefined) {
      const { prefill, ctxIds, qIds } = recordPrompt(model, record, settings.run);
      const tokens = tokensBeforeFirstUpdate(settings.updateEvery, settings.run.chunkSize ?? 128, prefill.length);
      entry = null;
      if (tokens > 0) {
        const session = model.createSessionWith(nammPolicyFor(model, params, normStats, settings), { chunkSize: settings.run.chunkSize });
        // The run continues this prefill with the rest of `prefill`, as an unshared run's, which rotates every key
        // for the whole prompt's length (a dynamic-NTK model: one forward over the prompt, as transformers makes it).
        session.prefill(prefill.slice(0, tokens), { endOfPrefill: false, sequenceLength: ctxIds.length + qIds.length });
        entry = { session, tokens };
      }
      this.byRecord.set(record, entry);
    }
    if (!entry) return null;
    const session = entry.session.fork();
    (session.memoryPolicy as NammPolicy).setParams(params);
    return { session, tokens: entry.tokens };
  }
}

/**
 * Runs one job on a model (the same code in the main thread and in workers). With `prefixes` (kept by the caller
 * across a batch's jobs) a NAMM job continues its record's shared beginning instead of prefilling it again.
 */
export async function runEvaluationJob(
  model: Model, record: TaskRecord, params: Float32Array | null, normStats: NormStats | null, settings: NammRunSettings,
  prefixes?: PromptPrefixes,
): Promise<JobResult> {
  checkModel('runEvaluationJob', model);
  checkArg('runEvaluationJob', 'record', record, 'object', 'a task record');
  checkArg('runEvaluationJob', 'settings', settings, 'object', 'NAMM run settings');
  const prefix = params !== null && prefixes ? prefixes.fork(model, record, params, normStats, settings) : null;
  const policy = prefix ? prefix.session.memoryPolicy : params === null ? null : nammPolicyFor(model, params, normStats, settings);
  const r = await runRecord(model, record, policy, prefix ? { ...settings.run, prefix } : settings.run);
  return { score: r.score, prediction: r.prediction, meanFraction: r.memory.meanFraction, promptTokens: r.promptTokens, seconds: r.seconds };
}

/** The job a failure happened in, for its message (the same with one worker and with several). */
function describeJob(batch: EvaluationBatch, job: EvaluationBatch['jobs'][number]): string {
  return ` (record ${batch.records[job.record]!._id}, ${job.member === null ? 'full cache' : `member ${job.member}`})`;
}

function checkBatch(batch: EvaluationBatch): void {
  for (const [i, j] of batch.jobs.entries()) {
    if (!(j.record >= 0 && j.record < batch.records.length)) throw new RangeError(`job ${i}: record ${j.record} is not in the batch`);
    if (j.member !== null && !(j.member >= 0 && j.member < batch.params.length)) throw new RangeError(`job ${i}: member ${j.member} is not in the batch`);
  }
}

/** Evaluates in the calling thread, one job after the other. */
class InlineEvaluator implements Evaluator {
  readonly workers = 1;
  private readonly prefixes = new PromptPrefixes();
  constructor(private readonly model: Model, private readonly settings: NammRunSettings) {}

  async run(batch: EvaluationBatch): Promise<JobResult[]> {
    checkBatch(batch);
    const out: JobResult[] = [];
    try {
      for (const job of batch.jobs) {
        const params = job.member === null ? null : batch.params[job.member]!;
        try {
          out.push(await runEvaluationJob(this.model, batch.records[job.record]!, params, batch.normStats, this.settings, this.prefixes));
        } catch (err) {
          // Named as a worker's failure is, so that a failing record is found with any number of workers.
          throw new Error(`evaluation failed${describeJob(batch, job)}: ${(err as Error).message}`, { cause: err });
        }
      }
    } finally {
      this.prefixes.clear();
    }
    return out;
  }

  async close(): Promise<void> { /* nothing to release */ }
}

/** A packed matrix as posted to a worker: its fields, the bytes a view over a SharedArrayBuffer. */
export interface SharedPackedMatrix { format: PackedFormat; rows: number; cols: number; bytes: Uint8Array }

/**
 * The weights a worker receives, rebuilt into a map (packed ones as packed tensors again). Tied aliases arrive as one
 * array (postMessage keeps identity within a message) and stay one tensor.
 */
export function workerWeights(entries: WorkerInit['weights']): WeightMap {
  const seen = new Map<object, Tensor>();
  return new Map(entries.map(([name, shape, data]): [string, Tensor] => {
    const key = data instanceof Float32Array ? data : data.bytes;
    let t = seen.get(key);
    if (!t) {
      t = data instanceof Float32Array ? { shape, data } : packedTensor(name, new PackedMatrix(data.format, data.rows, data.cols, data.bytes));
      seen.set(key, t);
    }
    return [name, t];
  }));
}

/** What a worker receives at start (see worker-entry.ts). */
export interface WorkerInit {
  config: ModelConfig;
  /**
   * [name, shape, data]: data views over SharedArrayBuffers (never copied by postMessage); a packed tensor's data is
   * its format, shape and bytes (the class itself does not survive postMessage).
   */
  weights: [string, number[], Float32Array | SharedPackedMatrix][];
  source: string;
  tokenizerPath: string;
  backend: { kind: 'native'; simd: string } | { kind: 'js' };
  settings: NammRunSettings;
}

export type WorkerRequest =
  | { type: 'batch'; records: readonly TaskRecord[]; params: readonly Float32Array[]; normStats: NormStats | null }
  | { type: 'job'; id: number; record: number; member: number | null };

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: JobResult }
  | { type: 'error'; id: number | null; message: string }
  /** A process warning in the worker (NAMM_PAST_CONTEXT), given again by the main thread once per code. */
  | { type: 'warning'; code: string | null; name: string; message: string };

/**
 * Gives a worker's warning on the main thread, once: NAMM_PAST_CONTEXT once per model, as the main thread's own
 * sessions give it (`model`: the main thread's config), any other once per pool (`seen`), not once per worker.
 */
function forwardWarning(m: Extract<WorkerReply, { type: 'warning' }>, model: ModelConfig, seen: Set<string>): void {
  if (m.code === 'NAMM_PAST_CONTEXT') { warnPastContext(model, m.message); return; }
  const key = m.code ?? `${m.name}: ${m.message}`;
  if (seen.has(key)) return;
  seen.add(key);
  process.emitWarning(m.message, { type: m.name, ...(m.code ? { code: m.code } : {}) });
}

/**
 * The worker's entry module. Compiled, it is worker-entry.js. Under tsx (tests, benches) it is a .ts file, and on
 * Node 20 the `--import tsx` hooks do not reach worker threads, so a tiny ESM bootstrap registers tsx in the
 * worker first and then imports the .ts entry.
 */
function workerEntryUrl(): URL {
  if (!import.meta.url.endsWith('.ts')) return new URL('./worker-entry.js', import.meta.url);
  const entry = new URL('./worker-entry.ts', import.meta.url);
  let api: string;
  try {
    api = import.meta.resolve('tsx/esm/api');
  } catch {
    return entry;
  }
  const code = `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(entry.href)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

/** N worker_threads over shared weights; jobs go to whichever worker is free. */
class WorkerPoolEvaluator implements Evaluator {
  private failure: Error | null = null;
  private busy = false;
  private closed = false;
  private readonly threads: Worker[] = [];
  /** The batch in flight: where the workers' replies and failures go (null between batches). */
  private batch: { reply: (worker: number, m: WorkerReply) => void; fail: (err: Error) => void } | null = null;

  /** The warnings (other than NAMM_PAST_CONTEXT) the workers have reported, each given once (forwardWarning). */
  private readonly warned = new Set<string>();

  private constructor(readonly workers: number, private readonly model: ModelConfig) {}

  static async start(shared: SharedModel, settings: NammRunSettings, count: number): Promise<WorkerPoolEvaluator> {
    const be = shared.model.backend as Backend & { simd?: string };
    const init: WorkerInit = {
      config: shared.model.config,
      weights: [...shared.weights].map(([name, t]) => [name, t.shape, t.packed
        ? { format: t.packed.format, rows: t.packed.rows, cols: t.packed.cols, bytes: t.packed.bytes }
        : t.data]),
      source: shared.model.source,
      tokenizerPath: shared.tokenizerPath,
      backend: be.name === 'native' ? { kind: 'native', simd: String(be.simd) } : { kind: 'js' },
      settings,
    };
    const pool = new WorkerPoolEvaluator(count, shared.model.config);
    try {
      for (let i = 0; i < count; i++) pool.add(new Worker(workerEntryUrl(), { workerData: init }));
      await Promise.all(pool.threads.map((w, i) => new Promise<void>((resolve, reject) => {
        const onMessage = (m: WorkerReply): void => {
          if (m.type === 'warning') forwardWarning(m, pool.model, pool.warned);
          else if (m.type === 'ready') { cleanup(); resolve(); }
          else if (m.type === 'error') { cleanup(); reject(new Error(`evaluation worker ${i} could not start: ${m.message}`)); }
        };
        const onError = (err: Error): void => { cleanup(); reject(new Error(`evaluation worker ${i} could not start: ${err.message}`)); };
        const onExit = (code: number): void => { cleanup(); reject(new Error(`evaluation worker ${i} exited with code ${code} while starting`)); };
        const cleanup = (): void => { w.off('message', onMessage); w.off('error', onError); w.off('exit', onExit); };
        w.on('message', onMessage); w.on('error', onError); w.on('exit', onExit);
      })));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  /**
   * Listens to a worker for the pool's life. A worker can fail between batches too (an error thrown outside a job, a
   * message that cannot be read, its exit): an 'error' event without a listener crashed the process, and a worker
   * gone unnoticed left the next batch waiting for it forever. Such a failure now fails the batch in flight, or the
   * next one, with its reason.
   */
  private add(w: Worker): void {
    const i = this.threads.length;
    this.threads.push(w);
    w.on('message', (m: WorkerReply) => {
      if (m.type === 'warning') forwardWarning(m, this.model, this.warned);
      else if (this.batch) this.batch.reply(i, m);
      else if (m.type === 'error') this.fail(new Error(`evaluation worker ${i} failed between batches: ${m.message}`));
    });
    w.on('error', (err: Error) => this.fail(new Error(`evaluation worker ${i} crashed: ${err.message}`)));
    w.on('messageerror', (err: Error) => this.fail(new Error(`evaluation worker ${i} sent a message that could not be read: ${err.message}`)));
    w.on('exit', (code: number) => this.fail(new Error(`evaluation worker ${i} exited unexpectedly (code ${code})`)));
  }

  /** The pool's first failure stays its own: the batch in flight ends with it, and every later one is refused. */
  private fail(err: Error): void {
    if (this.closed) return;
    this.failure ??= err;
    this.batch?.fail(this.failure);
  }

  async run(batch: EvaluationBatch): Promise<JobResult[]> {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error('evaluator: closed');
    if (this.busy) throw new Error('evaluator: one batch at a time');
    checkBatch(batch);
    this.busy = true;
    try {
      return await this.dispatch(batch);
    } finally {
      this.busy = false;
    }
  }

  private dispatch(batch: EvaluationBatch): Promise<JobResult[]> {
    const results = new Array<JobResult | undefined>(batch.jobs.length);
    let next = 0, done = 0;
    return new Promise<JobResult[]>((resolve, reject) => {
      const finish = (err: Error | null): void => {
        if (this.batch !== current) return;
        this.batch = null;
        if (err) { this.failure ??= err; void this.close(); reject(err); } else resolve(results as JobResult[]);
      };
      const feed = (w: Worker): void => {
        if (next < batch.jobs.length) {
          const id = next++;
          const { record, member } = batch.jobs[id]!;
          w.postMessage({ type: 'job', id, record, member } satisfies WorkerRequest);
        }
      };
      const current = {
        reply: (i: number, m: WorkerReply): void => {
          if (m.type === 'result') {
            results[m.id] = m.result;
            if (++done === batch.jobs.length) finish(null); else feed(this.threads[i]!);
          } else if (m.type === 'error') {
            finish(new Error(`evaluation worker ${i} failed${m.id === null ? '' : describeJob(batch, batch.jobs[m.id]!)}: ${m.message}`));
          }
        },
        fail: (err: Error): void => finish(err),
      };
      this.batch = current;
      for (const w of this.threads) {
        w.postMessage({ type: 'batch', records: batch.records, params: batch.params, normStats: batch.normStats } satisfies WorkerRequest);
      }
      if (batch.jobs.length === 0) { finish(null); return; }
      for (const w of this.threads) feed(w);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const threads = this.threads.splice(0);
    await Promise.all(threads.map((w) => w.terminate()));
  }
}

/** An evaluator with `workers` threads (1: the calling thread). */
export async function createEvaluator(shared: SharedModel, settings: NammRunSettings, workers: number): Promise<Evaluator> {
  checkArg('createEvaluator', 'shared', shared, 'object', 'a shared model (loadSharedModel)');
  checkArg('createEvaluator', 'settings', settings, 'object', 'NAMM run settings');
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`workers must be an integer ≥ 1, got ${workers}`);
  if (workers === 1) return new InlineEvaluator(shared.model, settings);
  return WorkerPoolEvaluator.start(shared, settings, workers);
}
