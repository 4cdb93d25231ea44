/**
 * NAMM's cost: time per update spent on features (buffering, STFT, EMA, recency, normalisation), scoring (BAM),
 * selection and cache compaction, as a share of the forward time (with the garbage-collection pauses of the NAMM run
 * and the KV cache's bytes held and used at the end), at 2K, 4K and 8K tokens, for the test model and a
 * random ~100M-parameter Llama. The NAMM parameters are one draw of CMA-ES's first generation (N(0, 0.065²)), so
 * evictions happen as they do early in evolution. One JSON line per (model, context).
 *
 * Each repeat runs, back to back, the full cache, the full cache with a policy that only asks for the attention taps
 * (what computing and writing them costs the forward), and NAMM; figures are medians over the repeats, so that a
 * noisy machine moves them less (the spread of the NAMM share is reported too). Two shares:
 *   namm_share_of_forward: NAMM's time / the rest of the NAMM run (a forward over the evicted, so cheaper, cache);
 *   namm_share_of_full_forward: NAMM's time / the full-cache forward of the same tokens (the run it replaces).
 * Usage: npm run bench:namm [-- --quick] [-- --context=4096] [-- --model=llama] [-- --threads=1] [-- --repeat=3]
 * [-- --forward-tokens=1] [-- --chunk-size=512] (--threads sets the native backend's thread count, e.g. 1 on a machine
 * whose other cores are busy; --forward-tokens the sessions' forwardTokens, default theirs (512); 1 runs one chunk at a
 * time through the layers, as before session 17; --chunk-size the sessions' chunkSize, default theirs (128): 512 gives
 * NAMM one observation per window, with the same evictions).
 */
import { existsSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { Model } from '../src/models/model.js';
import { loadModelFiles } from '../src/models/load.js';
import { llamaConfig, randomWeights } from '../src/models/random.js';
import { getBackend } from '../src/tensor/index.js';
import { createNammPolicy, NAMM_PARAM_COUNT } from '../src/memory/namm/index.js';
import type { MemoryPolicy } from '../src/memory/policy.js';
import { Rng } from '../src/util/rng.js';

const quick = process.argv.includes('--quick');
const contextArg = process.argv.find((a) => a.startsWith('--context='));
const modelArg = process.argv.find((a) => a.startsWith('--model='))?.slice('--model='.length);
const contexts = contextArg ? contextArg.slice('--context='.length).split(',').map(Number) : quick ? [2048] : [2048, 4096, 8192];
const backend = getBackend();
const threadsArg = process.argv.find((a) => a.startsWith('--threads='));
if (threadsArg) backend.threads = Number(threadsArg.slice('--threads='.length));
const repeatArg = process.argv.find((a) => a.startsWith('--repeat='));
const repeats = repeatArg ? Number(repeatArg.slice('--repeat='.length)) : 1;
if (!Number.isInteger(repeats) || repeats < 1) {
  console.error(`bench:namm: --repeat must be a positive integer, got ${repeatArg}`);
  process.exit(2);
}
const forwardArg = process.argv.find((a) => a.startsWith('--forward-tokens='));
const forwardTokens = forwardArg ? Number(forwardArg.slice('--forward-tokens='.length)) : undefined;
if (forwardTokens !== undefined && !(Number.isSafeInteger(forwardTokens) && forwardTokens >= 1)) {
  console.error(`bench:namm: --forward-tokens must be a positive integer, got ${forwardArg}`);
  process.exit(2);
}
const chunkArg = process.argv.find((a) => a.startsWith('--chunk-size='));
const chunkSize = chunkArg ? Number(chunkArg.slice('--chunk-size='.length)) : undefined;
if (chunkSize !== undefined && !(Number.isSafeInteger(chunkSize) && chunkSize >= 1)) {
  console.error(`bench:namm: --chunk-size must be a positive integer, got ${chunkArg}`);
  process.exit(2);
}
const sessionOptions = { ...(forwardTokens !== undefined ? { forwardTokens } : {}), ...(chunkSize !== undefined ? { chunkSize } : {}) };
const rng = new Rng(2024);
const params = Float32Array.from({ length: NAMM_PARAM_COUNT }, () => 0.065 * rng.normal());

// Garbage-collection pauses, so that the NAMM run's share can be read next to the memory churn it causes.
const gcPauses: { start: number; ms: number }[] = [];
const gcObserver = new PerformanceObserver((list) => { for (const e of list.getEntries()) gcPauses.push({ start: e.startTime, ms: e.duration }); });
gcObserver.observe({ entryTypes: ['gc'] });
const gcMsBetween = (from: number, to: number) => gcPauses.reduce((a, g) => (g.start >= from && g.start < to ? a + g.ms : a), 0);

const models: { name: string; model: Model }[] = [];
const TEST_MODEL = '../shared/models/tinystories-656k';
if (existsSync(TEST_MODEL) && (!modelArg || 'tinystories-656k'.includes(modelArg))) {
  const f = await loadModelFiles(TEST_MODEL);
  models.push({ name: 'tinystories-656k', model: new Model(f.config, f.weights, f.tokenizer, backend) });
}
const big = llamaConfig({ vocabSize: 32000, hiddenSize: 768, nLayers: 12, nHeads: 12, nKvHeads: 4, intermediateSize: 2048, maxPositions: 8192 });
if (!modelArg || 'random-llama-100m'.includes(modelArg)) models.push({ name: 'random-llama-100m', model: new Model(big, randomWeights(big, 1), null, backend) });

/** Asks for NAMM's attention taps (bf16, packed) and never evicts: the forward's share of NAMM's cost. */
function tapsOnlyPolicy(): MemoryPolicy {
  return { name: 'taps-only', needsAttention: true, tapPrecision: 'bf16', packedTaps: true, layerwise: true, reset() {}, observe: () => null };
}

const median = (xs: number[]) => { const a = [...xs].sort((x, y) => x - y); const m = a.length >> 1; return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2; };
const r1 = (x: number) => +x.toFixed(1);

for (const { name, model } of models) {
  for (const ctx of contexts) {
    const ids = Array.from({ length: ctx }, (_, i) => 3 + ((i * 7919) % (model.config.vocabSize - 3)));
    const runs: Record<string, number>[] = [];
    let last: { s: ReturnType<Model['createSessionWith']>; policy: ReturnType<typeof createNammPolicy> } | null = null;
    // An untimed warm-up (JIT, thread pool, allocator), then each repeat runs the three sessions in a rotated order,
    // so that none of them always runs first (on this VM the first run of a series tends to be the slowest).
    model.createSessionWith(null).prefill(ids.slice(0, Math.min(ctx, 1024)));
    for (let rep = 0; rep < repeats; rep++) {
      const m: Record<string, number> = {};
      const runFull = () => {
        const full = model.createSessionWith(null, sessionOptions);
        const t = performance.now();
        full.prefill(ids);
        m.fullMs = performance.now() - t;
      };
      const runTaps = () => {
        const taps = model.createSessionWith(tapsOnlyPolicy(), sessionOptions);
        const t = performance.now();
        taps.prefill(ids);
        m.tapsMs = performance.now() - t;
      };
      // No onUpdate callback: it would make the policy copy every head's features for it. The work counters say
      // how much there was to do: the BAM attention's (query, key) pairs (64 multiply-adds each in the reference's
      // formulation, Q·K and P·V) and the STFT row-frames.
      const runNamm = async () => {
        const policy = createNammPolicy({ params });
        const s = model.createSessionWith(policy, sessionOptions);
        const t = performance.now();
        s.prefill(ids);
        const tEnd = performance.now();
        await new Promise<void>((r) => setTimeout(r, 50)); // let the observer deliver the run's GC entries
        const p = policy.timings;
        Object.assign(m, {
          totalMs: tEnd - t, nammMs: s.timings.policyMs + s.timings.compactionMs, features: p.featuresMs,
          scoring: p.scoringMs, selection: p.selectionMs, compaction: s.timings.compactionMs, gc: gcMsBetween(t, tEnd),
        });
        last = { s, policy };
      };
      const order = [runFull, runTaps, runNamm];
      for (let k = 0; k < order.length; k++) await order[(k + rep) % order.length]!();
      runs.push({ ...m, share: m.nammMs! / (m.totalMs! - m.nammMs!), shareFull: m.nammMs! / m.fullMs! });
    }
    const { s, policy } = last!;
    const med = (k: string) => median(runs.map((r) => r[k]!));
    const p = policy.timings;
    const { bamPairs, stftRowFrames: rowFrames } = policy.work;
    console.log(JSON.stringify({
      bench: 'namm', model: name, backend: `${backend.name}/${backend.simd}`, threads: backend.threads, context: ctx,
      forward_tokens: forwardTokens ?? 'default', chunk_size: chunkSize ?? 'default',
      repeats, updates: p.updates, full_forward_ms: r1(med('fullMs')), taps_only_forward_ms: r1(med('tapsMs')),
      namm_run_ms: r1(med('totalMs')), features_ms: r1(med('features')), scoring_ms: r1(med('scoring')),
      selection_ms: r1(med('selection')), compaction_ms: r1(med('compaction')), gc_ms: r1(med('gc')),
      per_update_ms: +(med('nammMs') / Math.max(1, p.updates)).toFixed(2),
      namm_share_of_forward: +med('share').toFixed(4),
      namm_share_range: [+Math.min(...runs.map((r) => r.share!)).toFixed(4), +Math.max(...runs.map((r) => r.share!)).toFixed(4)],
      namm_share_of_full_forward: +med('shareFull').toFixed(4),
      mean_kv_fraction: +s.memoryStats().meanFraction.toFixed(3),
      kv_held_mib: +(s.memoryStats().bytesHeld / 2 ** 20).toFixed(2), kv_used_mib: +(s.memoryStats().bytesUsed / 2 ** 20).toFixed(2),
      bam_gfma: +((bamPairs * 64) / 1e9).toFixed(2),
      bam_gfma_per_s: +((bamPairs * 64) / 1e6 / Math.max(med('scoring'), 1e-9)).toFixed(1),
      stft_row_frames_m: +(rowFrames / 1e6).toFixed(2),
    }));
  }
}
