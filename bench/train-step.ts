/**
 * A training step of the shipped model configs against the GEMM, in one process: `node --import tsx
 * bench/train-step.ts [--config configs/namm-tiny-llama.json] [--T 512] [--batch 8] [--threads 1,2] [--reps 5]`.
 *
 * For each thread count: the median time of one optimizer step (forward + backward over `batch` sequences of T
 * tokens, gradient clipping, AdamW) with the native row kernels (cross-entropy, SwiGLU/GELU, RMSNorm) and with
 * their TypeScript twins, the tokens per second, the model FLOPs it achieves (6 × matmul parameters per token +
 * causal attention: 2 products of T·headDim per query head, ×3 for forward and backward) and that as a share of the
 * native SGEMM's GFLOPS measured here at the benchmark's forward shape (matmulABt 2048×576×1536, as in
 * bench/kernels.ts) and at the model's own largest forward shape. Weights are random (the config's init); the time of
 * a step does not depend on what the weights are.
 */
import { NativeBackend } from '../src/tensor/native.js';
import { AdamW, clipGradNorm } from '../src/train/adamw.js';
import { readTrainConfig } from '../src/train/config.js';
import { createTrainableModel } from '../src/train/family.js';
import { modelConfigFor } from '../src/train/trainer.js';
import { backendGemm } from '../src/train/ops/gemm.js';
import type { Gemm } from '../src/train/ops/types.js';
import { Rng } from '../src/util/rng.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: string): string => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1]! : fallback; };
const configPath = option('--config', 'configs/namm-tiny-llama.json');
const T = Number(option('--T', '512')), batch = Number(option('--batch', '8')), reps = Number(option('--reps', '5'));
const threadCounts = option('--threads', '1,2').split(',').map(Number);

const train = readTrainConfig(configPath), m = train.model;
// The trainer's own mapping to a ModelConfig (PAD/BOS/EOS are ids 0/1/2 in the project's tokenizers).
const config = modelConfigFor(train, train.tokenizer.vocabSize, 1, 2);
const D = config.hiddenSize, hd = config.headDim, qDim = config.nHeads * hd, kvDim = config.nKvHeads * hd, I = config.intermediateSize, V = config.vocabSize;
const mlpMats = m.arch === 'gpt2' ? 2 : 3;
const matmulParams = config.nLayers * (D * qDim + 2 * D * kvDim + qDim * D + mlpMats * D * I) + D * V;
const attentionPerToken = config.nLayers * 2 * 2 * ((T + 1) / 2) * qDim; // QKᵀ and PV over the causal half
const flopsPerToken = 6 * matmulParams + 3 * attentionPerToken;

const rng = new Rng(3);
const seqs = Array.from({ length: batch }, () => ({
  ids: Int32Array.from({ length: T }, () => rng.int(V)), targets: Int32Array.from({ length: T }, () => rng.int(V)),
}));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function stepSeconds(gemm: Gemm): number {
  const model = createTrainableModel(config, gemm, 'f32');
  model.params.initialize(1);
  const opt = new AdamW(model.params, { weightDecay: 0.05 });
  const times: number[] = [];
  for (let r = 0; r < reps + 1; r++) {
    const t0 = performance.now();
    model.params.zeroGrad();
    for (const s of seqs) model.forwardBackward(s.ids, s.targets, 1 / (batch * T));
    clipGradNorm(model.params.grad, 1);
    opt.update(1e-4);
    if (r > 0) times.push((performance.now() - t0) / 1000);
  }
  return median(times);
}

function gemmGflops(be: NativeBackend, M: number, K: number, N: number): number {
  const a = new Float32Array(M * K).map(() => rng.float() - 0.5), b = new Float32Array(N * K).map(() => rng.float() - 0.5), c = new Float32Array(M * N);
  const times: number[] = [];
  for (let r = 0; r < 6; r++) { const t0 = performance.now(); be.matmulABt(a, b, c, M, K, N); if (r > 0) times.push((performance.now() - t0) / 1000); }
  return (2 * M * K * N) / median(times) / 1e9;
}

console.log(`${configPath}: ${m.arch}, ${config.nLayers}×${D}, vocab ${V}; ${batch} sequences × ${T} tokens per step; ${(flopsPerToken / 1e6).toFixed(1)} MFLOP per token`);
console.log('| threads | row kernels | step (s) | tokens/s | GFLOPS | vs SGEMM 2048×576×1536 | vs SGEMM at the model\'s shape |');
console.log('|---|---|---:|---:|---:|---:|---:|');
for (const threads of threadCounts) {
  const be = new NativeBackend({ threads });
  const bench = gemmGflops(be, 2048, 576, 1536);
  const own = gemmGflops(be, T * 4, D, Math.max(I, qDim));
  const native = backendGemm(be);
  const { rows: _rows, ...twins } = native;
  for (const [label, gemm] of [['native', native], ['TypeScript twins', twins]] as const) {
    const s = stepSeconds(gemm), tps = (batch * T) / s, gflops = (tps * flopsPerToken) / 1e9;
    console.log(`| ${threads} | ${label} | ${s.toFixed(3)} | ${tps.toFixed(0)} | ${gflops.toFixed(1)} | ${((100 * gflops) / bench).toFixed(0)}% of ${bench.toFixed(0)} | ${((100 * gflops) / own).toFixed(0)}% of ${own.toFixed(0)} |`);
  }
}
