/**
 * Can a model look a key up? Scores held-out recall samples (src/train/data.ts, recallSample: records "key ·
 * filler · value · separator", then every record again as a query) and prints, per gap (filler tokens between key
 * and value), how often the model's most likely next token is the right one at the queries' first value token
 * (where the key must be found; chance is ~1/(vocabulary)), and its mean log-loss there. Gap 0 needs only plain
 * induction; a gap of 1 or more needs the key carried to the value, the lookup that multi-key needles need. With
 * --query-gap m the queries put m shared tokens between key and filler, so the key must be found by what surrounds it.
 *   npx tsx scripts/recall-probe.ts MODEL_DIR [--length 256] [--samples 20] [--gaps 0,1,2,3] [--query-gap 0]
 */
import './script-errors.js';
import { parseArgs } from 'node:util';
import { tokenNll } from '../src/eval/perplexity.js';
import { loadModel } from '../src/models/model.js';
import { recallSample } from '../src/train/data.js';
import { IGNORE } from '../src/train/ops/cross-entropy.js';
import { Rng } from '../src/util/rng.js';

const { values: a, positionals } = parseArgs({
  allowPositionals: true,
  options: { length: { type: 'string', default: '256' }, samples: { type: 'string', default: '20' }, gaps: { type: 'string', default: '0,1,2,3' }, 'query-gap': { type: 'string', default: '0' } },
});
const dir = positionals[0];
const length = Number(a.length), samples = Number(a.samples), gaps = a.gaps.split(',').map(Number), queryGap = Number(a['query-gap']);
const badGap = (g: number) => !Number.isInteger(g) || g < 0 || g > 16;
if (!dir || !Number.isInteger(length) || length < 32 || !Number.isInteger(samples) || samples < 1 || gaps.some(badGap) || badGap(queryGap)) {
  console.error('usage: recall-probe.ts MODEL_DIR [--length N ≥ 32] [--samples N ≥ 1] [--gaps g,g,… within 0..16] [--query-gap m within 0..16]');
  process.exit(2);
}
const model = await loadModel(dir);
const V = model.config.vocabSize, bos = model.config.bosTokenId ?? 1;
if (length > model.config.maxPositions) throw new Error(`--length ${length} exceeds the model's context ${model.config.maxPositions}`);
// A seed of its own: the trainer's mixer draws from 'namm-train-mixer|…' streams.
const rng = new Rng('recall-probe');
for (const gap of gaps) {
  let hits = 0, total = 0, nll = 0;
  for (let s = 0; s < samples; s++) {
    const { ids, targets } = recallSample(rng, V, bos, length, gap, queryGap);
    const logits = model.createSessionWith(null).prefill(Array.from(ids), { logits: 'all' });
    for (let t = 0; t < ids.length; t++) {
      // The first value token of a query: a target whose row's own token is not a value token.
      if (targets[t] === IGNORE || (t > 0 && targets[t - 1] !== IGNORE)) continue;
      const row = logits.subarray(t * V, (t + 1) * V);
      let best = 0;
      for (let v = 1; v < V; v++) if (row[v]! > row[best]!) best = v;
      hits += +(best === targets[t]);
      nll += tokenNll(row, targets[t]!).nll;
      total++;
    }
  }
  console.log(`gap ${gap}${queryGap ? `, query gap ${queryGap}` : ''}: first value token right ${(100 * hits / total).toFixed(1)}% of ${total} queries, ${(nll / total).toFixed(2)} nats (ln V = ${Math.log(V).toFixed(2)})`);
}
