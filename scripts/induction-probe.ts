/**
 * Has a model learnt to copy? Feeds BOS + a segment repeated three times and prints the mean negative
 * log-likelihood (nats) of each repeat. Without induction heads the repeats score like the first pass (random ids:
 * about ln(vocab size)); a model that retrieves drops far lower on the second and third. Retrieval tasks (pass keys,
 * needles) need this ability, so it is the quickest check on a training run.
 * Then, per layer and KV head, the two attention patterns of the copying circuit on the random segment (queries
 * in the repeats): the mean weight on the previous token (a previous-token head) and on the token after the same
 * token's earlier occurrence (an induction head).
 *   npx tsx scripts/induction-probe.ts MODEL_DIR [period ...]
 */
import './script-errors.js';
import { tokenNll } from '../src/eval/perplexity.js';
import type { LayerObservation } from '../src/memory/policy.js';
import { loadModel } from '../src/models/model.js';
import { corpusSplit } from '../src/train/corpus.js';
import { Rng } from '../src/util/rng.js';

const [dir, ...periodArgs] = process.argv.slice(2);
if (!dir) throw new Error('usage: induction-probe.ts MODEL_DIR [period ...]');
const periods = periodArgs.length ? periodArgs.map(Number) : [50, 200];
const model = await loadModel(dir);
const tokenizer = model.tokenizer;
if (!tokenizer) throw new Error(`${dir} has no tokenizer`);
const V = model.config.vocabSize, bos = model.config.bosTokenId ?? 1;
const rng = new Rng('induction-probe');
const text = tokenizer.encode(corpusSplit().validation.map((d) => d.text).join(' '), { addBos: false });

/** Mean NLL of each of the three repeats of `segment` after BOS. */
function repeats(segment: number[]): number[] {
  const ids = [bos, ...segment, ...segment, ...segment], P = segment.length;
  if (ids.length > model.config.maxPositions) throw new Error(`period ${P}: ${ids.length} tokens exceed the context ${model.config.maxPositions}`);
  const logits = model.createSessionWith(null).prefill(ids, { logits: 'all' });
  const per = [0, 0, 0];
  for (let t = 0; t + 1 < ids.length; t++) {
    per[Math.min(2, Math.floor(t / P))]! += tokenNll(logits.subarray(t * V, (t + 1) * V), ids[t + 1]!).nll / P;
  }
  return per;
}

for (const P of periods) {
  const random = Array.from({ length: P }, () => 3 + rng.int(V - 3));
  const start = rng.int(Math.max(1, text.length - P));
  const prose = text.slice(start, start + P);
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' / ');
  console.log(`period ${P}: random ids ${fmt(repeats(random))} · held-out text ${fmt(repeats(prose))} (nats per token, repeats 1 / 2 / 3; ln V = ${Math.log(V).toFixed(2)})`);
}

/** Per layer, per KV head: mean attention on the previous token / on the induction target, queries in repeats 2–3. */
function heads(segment: number[]): string[] {
  const ids = [bos, ...segment, ...segment, ...segment], P = segment.length, lines: string[] = [];
  const probe = {
    name: 'induction-probe', needsAttention: true, reset() {},
    observe(o: LayerObservation) {
      const cells: string[] = [];
      for (let h = 0; h < o.lens.length; h++) {
        const A = o.attention![h]!, len = o.lens[h]!, q0 = o.totalTokens - o.nQ;
        let prev = 0, ind = 0, n = 0;
        for (let i = 0; i < o.nQ; i++) {
          const p = q0 + i; // ids[p] is in repeat ⌊(p − 1)/P⌋; its earlier copy is at p − P, followed by p − P + 1
          if (p <= P) continue;
          prev += A[i * len + p - 1]!; ind += A[i * len + p - P + 1]!; n++;
        }
        cells.push(`${(prev / n).toFixed(2)}/${(ind / n).toFixed(2)}`);
      }
      lines.push(`  layer ${o.layer}: ${cells.join('  ')}`);
      return null;
    },
  };
  model.createSessionWith(probe, { chunkSize: model.config.maxPositions }).prefill(ids);
  return lines;
}

const P0 = periods[0]!;
console.log(`attention per KV head, previous token / induction target (random ids, period ${P0}; uniform ≈ ${(Math.log(3) / (2 * P0)).toFixed(3)}):`);
for (const line of heads(Array.from({ length: P0 }, () => 3 + rng.int(V - 3)))) console.log(line);
