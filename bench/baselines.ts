/**
 * What the memory policies cost the runtime: for each policy, a prompt's prefill and then single-token decoding steps
 * at a fixed budget, against the full cache in the same run, on the random ~100M-parameter Llama (or the test model).
 * Each repeat runs every policy once, in an order that rotates from repeat to repeat, after an untimed warm-up;
 * figures are medians over the repeats. Per policy: prefill and decode-step wall time (and their ratio to the full
 * cache's), and the time inside the policy (observe) and in cache compaction (retain and the end-of-prefill release).
 * One JSON line per (model, policy).
 *
 * Usage: npm run bench:baselines [-- --context=2048] [-- --budget=1536] [-- --steps=20] [-- --repeat=3]
 *   [-- --threads=2] [-- --model=llama|tinystories] [-- --policies='h2o:tokens=1536;l2:tokens=1536']
 * (policies are separated by ';' since a spec's options use ','; the default list uses --budget.)
 */
import { existsSync } from 'node:fs';
import { Model } from '../src/models/model.js';
import { loadModelFiles } from '../src/models/load.js';
import { llamaConfig, randomWeights } from '../src/models/random.js';
import { getBackend } from '../src/tensor/index.js';
import { parsePolicySpec } from '../src/memory/spec.js';

function arg(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

function intArg(name: string, fallback: number): number {
  const raw = arg(name);
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) {
    console.error(`bench:baselines: --${name} must be a positive integer, got ${raw}`);
    process.exit(2);
  }
  return v;
}

const context = intArg('context', 2048);
const budget = intArg('budget', 1536);
const steps = intArg('steps', 20);
const repeats = intArg('repeat', 3);
const backend = getBackend();
if (arg('threads') !== undefined) backend.threads = intArg('threads', backend.threads);
const modelArg = arg('model');
const NAMM_FILE = 'models/namm-tiny-llama.namm';
const specs = (arg('policies') ?? [
  // TOVA at every token (its default acts only at the end of the prompt): the cost of a policy that acts on every
  // prefill chunk, as the others here do.
  `h2o:tokens=${budget}`, `tova:tokens=${budget},every=1`, `l2:tokens=${budget}`, `streaming:sinks=4,window=${budget - 4}`,
  `snapkv:tokens=${budget}`, ...(existsSync(NAMM_FILE) ? [`namm:${NAMM_FILE}`] : []),
].join(';')).split(';').map((s) => s.trim()).filter((s) => s !== '');
for (const spec of specs) {
  try {
    parsePolicySpec(spec); // a bad spec fails here, before any model loads
  } catch (err) {
    console.error(`bench:baselines: ${(err as Error).message}`);
    process.exit(2);
  }
}

const models: { name: string; model: Model }[] = [];
const TEST_MODEL = '../shared/models/tinystories-656k';
if (modelArg === 'tinystories') {
  if (!existsSync(TEST_MODEL)) {
    console.error(`bench:baselines: the test model is not at ${TEST_MODEL}`);
    process.exit(2);
  }
  const f = await loadModelFiles(TEST_MODEL);
  models.push({ name: 'tinystories-656k', model: new Model(f.config, f.weights, f.tokenizer, backend) });
} else if (modelArg === undefined || modelArg === 'llama') {
  const big = llamaConfig({ vocabSize: 32000, hiddenSize: 768, nLayers: 12, nHeads: 12, nKvHeads: 4, intermediateSize: 2048, maxPositions: 8192 });
  models.push({ name: 'random-llama-100m', model: new Model(big, randomWeights(big, 1), null, backend) });
} else {
  console.error(`bench:baselines: --model must be llama or tinystories, got ${modelArg}`);
  process.exit(2);
}

const median = (xs: number[]) => { const a = [...xs].sort((x, y) => x - y); const m = a.length >> 1; return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2; };
const r1 = (x: number) => +x.toFixed(1);
const r2 = (x: number) => +x.toFixed(2);

interface Run { prefillMs: number; decodeMs: number; prefillPolicyMs: number; prefillCompactionMs: number; decodePolicyMs: number; decodeCompactionMs: number; meanFraction: number }

for (const { name, model } of models) {
  const maxPos = model.config.maxPositions;
  if (context + steps > maxPos) {
    console.error(`bench:baselines: ${name} has ${maxPos} positions; --context plus --steps is ${context + steps}`);
    process.exit(2);
  }
  const vocab = model.config.vocabSize;
  const ids = Array.from({ length: context }, (_, i) => 3 + ((i * 7919) % (vocab - 3)));
  const all = ['full', ...specs];
  const runOne = (spec: string): Run => {
    const s = model.createSessionWith(spec === 'full' ? null : parsePolicySpec(spec));
    let t = performance.now();
    s.prefill(ids);
    const prefillMs = performance.now() - t;
    const p0 = s.timings.policyMs, c0 = s.timings.compactionMs;
    t = performance.now();
    for (let i = 0; i < steps; i++) s.decode(3 + ((i * 31) % (vocab - 3)));
    const decodeMs = (performance.now() - t) / steps;
    return {
      prefillMs, decodeMs, prefillPolicyMs: p0, prefillCompactionMs: c0,
      decodePolicyMs: (s.timings.policyMs - p0) / steps, decodeCompactionMs: (s.timings.compactionMs - c0) / steps,
      meanFraction: s.memoryStats().meanFraction,
    };
  };
  runOne('full'); // warm-up: JIT, thread pool, allocator
  const runs = new Map<string, Run[]>(all.map((s) => [s, []]));
  for (let rep = 0; rep < repeats; rep++) {
    for (let k = 0; k < all.length; k++) {
      const spec = all[(k + rep) % all.length]!;
      runs.get(spec)!.push(runOne(spec));
    }
  }
  const med = (spec: string, key: keyof Run) => median(runs.get(spec)!.map((r) => r[key]));
  const fullPrefill = med('full', 'prefillMs'), fullDecode = med('full', 'decodeMs');
  for (const spec of all) {
    console.log(JSON.stringify({
      bench: 'baselines', model: name, backend: `${backend.name}/${backend.simd}`, threads: backend.threads, context, steps, repeats,
      policy: spec, prefill_ms: r1(med(spec, 'prefillMs')), prefill_vs_full: r2(med(spec, 'prefillMs') / fullPrefill),
      prefill_policy_ms: r1(med(spec, 'prefillPolicyMs')), prefill_compaction_ms: r1(med(spec, 'prefillCompactionMs')),
      decode_step_ms: r2(med(spec, 'decodeMs')), decode_vs_full: r2(med(spec, 'decodeMs') / fullDecode),
      decode_policy_ms: r2(med(spec, 'decodePolicyMs')), decode_compaction_ms: r2(med(spec, 'decodeCompactionMs')),
      mean_kv_fraction: +med(spec, 'meanFraction').toFixed(3),
    }));
  }
}
