// Manual benchmark (not a test): wall time of one evolution generation's evaluations with 1 worker (the main
// thread) and with N worker threads over shared weights, on the same jobs; prints the speed-ups and checks that
// every result is identical. The 1-worker run is measured twice: with single-threaded kernels (one evaluation
// thread on one core, as each of the N workers runs) and with the backend's default threads (what `namm evolve
// --workers 1` does); speed-ups are given against both.
// Usage: node --import tsx bench/evolve-workers.ts [model=../shared/models/tinystories-656k] [workers=2] [population=8] [prompts=4] [length=1000]
import { availableParallelism } from 'node:os';
import { calibrateNamm } from '../src/eval/calibrate.js';
import { createEvaluator, loadSharedModel, type EvaluationBatch, type JobResult, type NammRunSettings } from '../src/evolve/workers.js';
import { NAMM_PARAM_COUNT, zeroNammParams } from '../src/memory/namm/index.js';
import { generateRecords } from '../src/tasks/registry.js';
import { Rng } from '../src/util/rng.js';

const [modelPath = '../shared/models/tinystories-656k', maxWorkersArg = '2', popArg = '8', promptsArg = '4', lengthArg = '1000'] = process.argv.slice(2);
const maxWorkers = Number(maxWorkersArg), population = Number(popArg), prompts = Number(promptsArg), length = Number(lengthArg);

const shared = await loadSharedModel(modelPath);
const tokenizer = shared.model.tokenizer!;
const records = generateRecords({ task: 'passkey', lengths: [length], n: prompts + 1, tokenizer, seed: 1_000_000 });
const warmRecord = records.pop()!;
const settings: NammRunSettings = {
  scorer: 'bam', updateEvery: 512, selection: 'min-over-heads', cacheSize: null, taps: 'bf16', run: { maxPromptTokens: length + 64 },
};
const normStats = await calibrateNamm(shared.model, records, zeroNammParams('bam'), { maxPromptTokens: length + 64 });
const rng = new Rng(5);
// σ = 0.5 around zero: members evict at different rates, as mid-evolution.
const params = Array.from({ length: population }, () => Float32Array.from({ length: NAMM_PARAM_COUNT }, () => rng.normal() * 0.5));
const jobs: { record: number; member: number | null }[] = [];
for (let m = 0; m < population; m++) for (let r = 0; r < records.length; r++) jobs.push({ record: r, member: m });
const batch: EvaluationBatch = { records, params, normStats, jobs };
// A warm-up batch per evaluator (JIT and scratch buffers of every thread), one job per worker at least.
const warm: EvaluationBatch = { records: [warmRecord], params, normStats, jobs: params.map((_, m) => ({ record: 0, member: m })) };

console.log(`model ${shared.model.source} (${shared.model.backend.name} backend, default threads ${shared.model.backend.threads}), ` +
  `${availableParallelism()} CPUs; ${population} members × ${records.length} passkey prompts of ~${length} tokens = ${jobs.length} jobs`);
const key = (rs: JobResult[]): string => JSON.stringify(rs.map((r) => [r.score, r.meanFraction, r.prediction]));
let baseline = 0, baselineKey = '', baselineOneThread = 0;
const defaultThreads = shared.model.backend.threads;
for (const [workers, kernelThreads] of [[1, 1], [1, defaultThreads], ...Array.from({ length: Math.floor(Math.log2(maxWorkers)) }, (_, i) => [2 ** (i + 1), 1])] as [number, number][]) {
  shared.model.backend.threads = workers === 1 ? kernelThreads : defaultThreads;
  const evaluator = await createEvaluator(shared, settings, workers);
  await evaluator.run(warm);
  const t0 = performance.now(), cpu0 = process.cpuUsage();
  const results = await evaluator.run(batch);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const jobSeconds = results.reduce((s, r) => s + r.seconds, 0) / results.length;
  await evaluator.close();
  if (workers === 1 && kernelThreads === 1) { baselineOneThread = seconds; baselineKey = key(results); }
  if (workers === 1 && kernelThreads === defaultThreads) baseline = seconds;
  const same = key(results) === baselineKey;
  const kv = results.reduce((s, r) => s + r.meanFraction, 0) / results.length;
  const label = workers === 1 ? `1 worker, kernels on ${kernelThreads} thread(s)` : `workers ${workers}`;
  const speedups = workers === 1 && kernelThreads === 1 ? '' : `speed-up ×${(baselineOneThread / seconds).toFixed(2)} vs 1 worker on 1 thread` +
    (workers > 1 ? `, ×${(baseline / seconds).toFixed(2)} vs 1 worker on ${defaultThreads}` : '') + ', ';
  console.log(`${label}: ${seconds.toFixed(2)} s (${(jobs.length / seconds).toFixed(2)} jobs/s), ${speedups}` +
    `${jobSeconds.toFixed(3)} s per job, ${(cpuSeconds / seconds).toFixed(2)} cores busy, mean KV fraction ${kv.toFixed(3)}, ` +
    `results ${same ? 'identical' : 'DIFFERENT'} to 1 worker`);
  if (!same) process.exitCode = 1;
}
