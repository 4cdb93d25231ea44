/**
 * An evaluation worker (see workers.ts): builds a Model over the weights the main thread shares (no copy), with
 * its own single-threaded backend and its own tokenizer, then runs the jobs it is sent, one at a time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Model } from '../models/model.js';
import { loadTokenizer } from '../models/tokenizer.js';
import type { WeightMap } from '../models/types.js';
import type { Backend } from '../tensor/backend.js';
import { JsBackend } from '../tensor/js.js';
import type { NormStats } from '../memory/namm/normalize.js';
import type { TaskRecord } from '../tasks/record.js';
import { PromptPrefixes, runEvaluationJob, workerWeights, type WorkerInit, type WorkerReply, type WorkerRequest } from './workers.js';

async function createBackend(spec: WorkerInit['backend']): Promise<Backend> {
  if (spec.kind === 'js') return new JsBackend();
  const { NativeBackend } = await import('../tensor/native.js');
  // The same SIMD path as the main thread (bit-identical kernels); threads = 1 runs every kernel on this thread.
  return new NativeBackend({ threads: 1, simd: spec.simd as 'scalar' | 'avx2' | 'avx512' });
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('worker-entry.ts must run as a worker thread');
  const reply = (m: WorkerReply): void => port.postMessage(m);
  // Warnings go to the main thread, which gives each once: every worker warned for itself (the same line N times).
  process.removeAllListeners('warning');
  process.on('warning', (w: Error & { code?: string }) => reply({ type: 'warning', code: w.code ?? null, name: w.name, message: w.message }));
  const init = workerData as WorkerInit;
  let model: Model;
  try {
    const weights: WeightMap = workerWeights(init.weights);
    const tokenizer = await loadTokenizer(init.tokenizerPath, { vocabSize: init.config.vocabSize });
    model = new Model(init.config, weights, tokenizer, await createBackend(init.backend), init.source);
  } catch (err) {
    reply({ type: 'error', id: null, message: (err as Error).message });
    return;
  }

  let records: readonly TaskRecord[] = [];
  let params: readonly Float32Array[] = [];
  let normStats: NormStats | null = null;
  // The members' shared prompt beginnings, for the current batch's records.
  const prefixes = new PromptPrefixes();
  // Jobs run strictly one after another: the main thread sends the next only after this one's result.
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (m: WorkerRequest) => {
    if (m.type === 'batch') {
      queue = queue.then(() => { records = m.records; params = m.params; normStats = m.normStats; prefixes.clear(); });
      return;
    }
    queue = queue.then(async () => {
      try {
        const result = await runEvaluationJob(model, records[m.record]!, m.member === null ? null : params[m.member]!, normStats, init.settings, prefixes);
        reply({ type: 'result', id: m.id, result });
      } catch (err) {
        reply({ type: 'error', id: m.id, message: (err as Error).message });
      }
    });
  });
  reply({ type: 'ready' });
}

void main().catch((err: unknown) => {
  parentPort?.postMessage({ type: 'error', id: null, message: (err as Error)?.message ?? String(err) } satisfies WorkerReply);
});
