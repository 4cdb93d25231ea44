/**
 * What choosing a token costs at a real vocabulary size (128,256: Llama 3's): the Sampler (one linear pass, a
 * quickselect for top-k, a sort of the candidates only) against sorting the whole vocabulary by logit first, the
 * plain way to write top-k/top-p (and what namm did before), for plain temperature, top-k, top-p and both. Both draw
 * from the same distribution; one JSON line per mode with the median milliseconds per token and their ratio.
 *
 * Usage: npm run bench:sampling [-- --vocab=128256] [-- --tokens=30]
 */
import { Sampler, type SamplingOptions } from '../src/runtime/sampling.js';
import { Rng } from '../src/util/rng.js';

const arg = (name: string, fallback: number): number => {
  const raw = process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const v = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(v) || v < 2) { console.error(`bench:sampling: --${name} must be an integer ≥ 2, got ${raw}`); process.exit(2); }
  return v;
};
const vocab = arg('vocab', 128_256), tokens = arg('tokens', 30);

/** The whole vocabulary sorted by logit, then top-k, top-p and a draw over what is left. */
function sortAllSample(logits: Float32Array, o: SamplingOptions, rng: Rng): number {
  const order = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  const k = o.topK ? Math.min(o.topK, order.length) : order.length;
  const probs = order.slice(0, k).map((i) => Math.exp((logits[i]! - logits[order[0]!]!) / o.temperature!));
  let sum = probs.reduce((a, b) => a + b, 0), keep = k;
  if ((o.topP ?? 1) < 1) {
    let acc = 0;
    for (let i = 0; i < k; i++) { acc += probs[i]! / sum; if (acc >= o.topP!) { keep = i + 1; break; } }
    sum = probs.slice(0, keep).reduce((a, b) => a + b, 0);
  }
  let u = rng.float() * sum;
  for (let i = 0; i < keep; i++) { u -= probs[i]!; if (u < 0) return order[i]!; }
  return order[keep - 1]!;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const rng = new Rng('bench-sampling');
// Logits spread like a small model's (a few dominant tokens over a long tail).
const logits = Float32Array.from({ length: vocab }, () => rng.normal() * 3);
for (const mode of [{}, { topK: 50 }, { topP: 0.9 }, { topK: 50, topP: 0.9 }] as SamplingOptions[]) {
  const o = { temperature: 0.8, seed: 1, ...mode };
  const sampler = new Sampler(o), ref = new Rng(1);
  const ours: number[] = [], sortAll: number[] = [];
  for (let i = 0; i < tokens + 3; i++) {
    // Alternated, after three untimed warm-up rounds.
    let t0 = performance.now();
    sampler.next(logits);
    const a = performance.now() - t0;
    t0 = performance.now();
    sortAllSample(logits, o, ref);
    const b = performance.now() - t0;
    if (i >= 3) { ours.push(a); sortAll.push(b); }
  }
  const m = { ours: median(ours), sortAll: median(sortAll) };
  console.log(JSON.stringify({
    bench: 'sampling', vocab, mode: Object.keys(mode).length ? mode : 'temperature', tokens,
    sampler_ms: +m.ours.toFixed(3), sort_all_ms: +m.sortAll.toFixed(3), speedup: +(m.sortAll / m.ours).toFixed(1),
  }));
}
