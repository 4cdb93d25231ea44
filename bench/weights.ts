/**
 * Packed weights (src/models/pack.ts): memory, prefill and decode speed of the ~100M-parameter random Llama with
 * its matrices held as float32, f16, bf16, Q8_0 and Q4_0, and as random Q4_K, Q6_K, Q2_K, Q3_K, IQ4_XS and IQ4_NL
 * blocks, on the native backend. Every storage runs in each repeat,
 * in an order that rotates from repeat to repeat; figures are medians. The logits' largest difference from the
 * float32 run says how lossy each conversion is (a packed file loaded with weights: 'packed' gives exactly its
 * float32 widening's logits; see test/models/packed-weights.test.ts).
 * Prints one JSON line per storage. Usage: npm run bench:weights [-- --threads=2] [-- --repeat=3] [-- --context=512]
 */
import { Model } from '../src/models/model.js';
import { llamaConfig, randomWeights } from '../src/models/random.js';
import { convertWeights, isPackableTensor, packedTensor, type WeightStorage } from '../src/models/pack.js';
import type { Tensor, WeightMap } from '../src/models/types.js';
import { PackedMatrix } from '../src/tensor/packed.js';
import { Rng } from '../src/util/rng.js';
import { getBackend } from '../src/tensor/index.js';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const backend = getBackend();
if (arg('threads')) backend.threads = Number(arg('threads'));
const repeats = Number(arg('repeat') ?? 3);
const context = Number(arg('context') ?? 512);
const DECODE_STEPS = 32;
if (!Number.isInteger(repeats) || repeats < 1 || !Number.isInteger(context) || context < 1) {
  console.error('bench:weights: --repeat and --context must be positive integers');
  process.exit(2);
}

const config = llamaConfig({ vocabSize: 32000, hiddenSize: 768, nLayers: 12, nHeads: 12, nKvHeads: 4, intermediateSize: 2048 });
const base = randomWeights(config, 1);
const storages: WeightStorage[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0'];
const models = new Map<string, Model>();
for (const s of storages) {
  const w: WeightMap = new Map(base);
  convertWeights(config, w, s);
  models.set(s, new Model(config, w, null, backend));
}

/** Formats filled with random blocks: bytes per block, offsets of the float16 factors, values per block. */
const RANDOM_BLOCKS = {
  q4_k: [144, [0, 2], 256], q6_k: [210, [208], 256], q2_k: [84, [80, 82], 256], q3_k: [110, [108], 256],
  iq4_xs: [136, [0], 256], iq4_nl: [18, [0], 32],
} as const;
type RandomBlocks = keyof typeof RANDOM_BLOCKS;

/**
 * The same model with every matrix in random blocks of a format namm reads but does not write (k-quants, IQ4):
 * other weights than the float32 model's, so only their speed and memory compare. The float16 factors are small
 * (2^-10 .. 2^-7), which keeps the logits finite.
 */
function randomKQuant(format: RandomBlocks): WeightMap {
  const [size, factors, per] = RANDOM_BLOCKS[format];
  const rng = new Rng(`bench:weights ${format}`);
  const w: WeightMap = new Map(), done = new Map<Tensor, Tensor>();
  for (const [name, t] of base) {
    let k = done.get(t);
    if (!k) {
      k = t;
      if (isPackableTensor(config, name, t.shape) && t.shape[1]! % per === 0) {
        const blocks = (t.shape[0]! * t.shape[1]!) / per;
        const bytes = new Uint8Array(blocks * size).map(() => rng.int(256));
        for (let b = 0; b < blocks; b++) {
          for (const o of factors) {
            const h = (rng.int(2) << 15) | ((5 + rng.int(4)) << 10) | rng.int(1024);
            bytes[b * size + o] = h & 0xff, bytes[b * size + o + 1] = h >> 8;
          }
        }
        k = packedTensor(name, new PackedMatrix(format, t.shape[0]!, t.shape[1]!, bytes));
      }
      done.set(t, k);
    }
    w.set(name, k);
  }
  return w;
}
for (const f of Object.keys(RANDOM_BLOCKS) as RandomBlocks[]) models.set(f, new Model(config, randomKQuant(f), null, backend));
const ids = Array.from({ length: context }, (_, i) => 3 + ((i * 7919) % (config.vocabSize - 3)));
const median = (xs: number[]) => { const a = [...xs].sort((x, y) => x - y); const m = a.length >> 1; return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2; };
const names = [...models.keys()];
const runs = new Map<string, { prefill: number[]; decode: number[]; logits?: Float32Array }>(names.map((n) => [n, { prefill: [], decode: [] }]));
// Warm-up: one short prefill per storage.
for (const m of models.values()) m.createSessionWith(null).prefill(ids.slice(0, 64));
for (let rep = 0; rep < repeats; rep++) {
  for (let k = 0; k < names.length; k++) {
    const name = names[(k + rep) % names.length]!;
    const s = models.get(name)!.createSessionWith(null);
    const t0 = performance.now();
    let logits = s.prefill(ids);
    const t1 = performance.now();
    const r = runs.get(name)!;
    if (!r.logits) r.logits = logits.slice();
    for (let i = 0; i < DECODE_STEPS; i++) logits = s.decode(3 + ((i * 31) % 1000));
    const t2 = performance.now();
    r.prefill.push(context / ((t1 - t0) / 1000));
    r.decode.push(DECODE_STEPS / ((t2 - t1) / 1000));
  }
}
const ref = runs.get('f32')!;
for (const name of names) {
  const r = runs.get(name)!;
  let maxDiff = 0;
  for (let i = 0; i < r.logits!.length; i++) maxDiff = Math.max(maxDiff, Math.abs(r.logits![i]! - ref.logits![i]!));
  const randomBlocks = Object.hasOwn(RANDOM_BLOCKS, name);
  console.log(JSON.stringify({
    bench: 'weights', model: 'random-llama-100m', backend: `${backend.name}/${backend.simd}`, threads: backend.threads, storage: name,
    context, repeats, weight_mib: +(models.get(name)!.arch.weightBytes / 2 ** 20).toFixed(1),
    prefill_tok_s: +median(r.prefill).toFixed(1), decode_tok_s: +median(r.decode).toFixed(2),
    decode_vs_f32: +(median(r.decode) / median(ref.decode)).toFixed(2), prefill_vs_f32: +(median(r.prefill) / median(ref.prefill)).toFixed(2),
    last_logits_max_abs_diff_vs_f32: randomBlocks ? null : +maxDiff.toExponential(2), ...(randomBlocks ? { weights: 'random blocks' } : {}),
  }));
}
