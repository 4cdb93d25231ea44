/**
 * The numbers of a model card: full-cache scores on held-out generated tasks, perplexity on the held-out corpus
 * documents, and the loss curve of its training log.
 *
 *   npx tsx scripts/model-card.ts --model models/namm-tiny-llama --lengths 2048,4096 --n 100 --out card.json
 *
 * Held out: task records use seed 7 (evaluation seeds are below 1,000,000; training draws from 1,000,000 up, see
 * src/train/data.ts), and the perplexity text is the corpus's validation split, which training never reads.
 * With --likelihood each record also gets the gold answer's teacher-forced likelihood (`namm eval --score
 * likelihood`: exp(−mean NLL) of the answer tokens), which still measures a model that does not answer right yet.
 * Writes the JSON to --out, `loss.svg` next to the model when the model folder (or --log) has a train-log.jsonl
 * (unless --no-plot: a card run meant only to score leaves the model folder as it was), and prints a Markdown table.
 */
import './script-errors.js';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createProgress } from '../src/cli/progress.js';
import { parseLengths } from '../src/cli/tasks.js';
import { intOption } from '../src/cli/util.js';
import { runRecord } from '../src/eval/runner.js';
import { perplexity } from '../src/eval/perplexity.js';
import { loadModel } from '../src/models/model.js';
import { generateRecords, getTask } from '../src/tasks/registry.js';
import { corpusSplit } from '../src/train/corpus.js';
import { readTrainLog, renderLossSvg } from '../src/train/plot.js';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' },
    tasks: { type: 'string', default: 'niah_single_1,niah_single_2,niah_multikey_1,passkey,kv_retrieval,vt' },
    lengths: { type: 'string', default: '2048' },
    n: { type: 'string', default: '100' },
    seed: { type: 'string', default: '7' },
    'ppl-tokens': { type: 'string', default: '16384' },
    log: { type: 'string' },
    out: { type: 'string' },
    threads: { type: 'string' },
    likelihood: { type: 'boolean', default: false },
    'no-plot': { type: 'boolean', default: false },
  },
});
if (!a.model) throw new Error('--model DIR is required');
const seed = intOption('--seed')(a.seed!), n = intOption('--n', 1)(a.n!);
if (seed >= 1_000_000) throw new Error(`--seed must be an evaluation seed: an integer within 0..999999, got ${seed}`);
// Every argument is checked before the model is read: a misspelt task or length printed an empty table before.
const tasks = a.tasks!.split(',').map((t) => t.trim());
for (const [i, task] of tasks.entries()) {
  getTask(task);
  if (tasks.indexOf(task) < i) throw new Error(`--tasks lists ${task} twice`);
}
const lengths = parseLengths(a.lengths!, '--lengths');
const pplTokens = intOption('--ppl-tokens')(a['ppl-tokens']!);
const threads = a.threads === undefined ? undefined : intOption('--threads', 1)(a.threads);
const model = await loadModel(a.model);
if (threads) model.backend.threads = threads;
const tokenizer = model.tokenizer;
if (!tokenizer) throw new Error(`${a.model} has no tokenizer`);

const scores: { task: string; length: number; samples: number; score: number; likelihood?: number; answerNll?: number; seconds: number }[] = [];
const progress = createProgress(tasks.length * lengths.length * n, 'card');
let done = 0;
for (const length of lengths) {
  for (const task of tasks) {
    const t0 = performance.now();
    let sum = 0, lik = 0, nll = 0;
    let records;
    try {
      records = generateRecords({ task, lengths: [length], n, tokenizer, seed });
    } catch (err) {
      // Some tasks cannot be sized to short lengths (a kv_retrieval pair is ~90 tokens): say so and go on.
      progress.update((done += n), { task, length });
      console.error(`\n${task} at ${length} tokens: not scored (${(err as Error).message})`);
      continue;
    }
    for (const record of records) {
      sum += (await runRecord(model, record, null)).score;
      if (a.likelihood) {
        const r = await runRecord(model, record, null, { score: 'likelihood' });
        lik += r.score; nll += r.answerNll!;
      }
      progress.update(++done, { task, length });
    }
    scores.push({
      task, length, samples: n, score: (100 * sum) / n,
      ...(a.likelihood ? { likelihood: (100 * lik) / n, answerNll: nll / n } : {}),
      seconds: (performance.now() - t0) / 1000,
    });
    // The scores so far, after every task: a long run that is stopped keeps what it measured.
    if (a.out) writeFileSync(a.out, JSON.stringify({ model: a.model, seed, scores, perplexity: null }, null, 2) + '\n');
  }
}
progress.stop();

// Perplexity: the held-out documents as one stream, scored in windows of the model's context.
const ids: number[] = [];
for (const d of corpusSplit().validation) {
  if (ids.length >= pplTokens) break;
  ids.push(...tokenizer.encode(d.text, { addBos: true }));
}
ids.length = Math.min(ids.length, pplTokens);
const window = Math.min(model.config.maxPositions, 2048);
// Each window's first token is only context, so the tokens read are `count` plus one per window, not plus one.
let nll = 0, count = 0, read = 0;
for (let s = 0; s + 1 < ids.length; s += window) {
  const piece = ids.slice(s, s + window);
  if (piece.length < 2) break;
  const r = perplexity(model, piece, null);
  nll += r.nll * r.predicted; count += r.predicted; read += piece.length;
}
const heldOutPerplexity = count > 0 ? Math.exp(nll / count) : null; // --ppl-tokens 0: not measured

const log = a.log ?? join(a.model, 'train-log.jsonl');
if (!a['no-plot'] && existsSync(log)) writeFileSync(join(a.model, 'loss.svg'), renderLossSvg(readTrainLog(log), `${a.model.split('/').pop()} training loss`));

const result = { model: a.model, seed, scores, perplexity: heldOutPerplexity === null ? null : { tokens: read, predicted: count, window, value: heldOutPerplexity } };
if (a.out) writeFileSync(a.out, JSON.stringify(result, null, 2) + '\n');
const cell = (task: string, l: number): string => {
  const x = scores.find((y) => y.task === task && y.length === l);
  if (!x) return '–';
  return x.likelihood === undefined ? x.score.toFixed(1) : `${x.score.toFixed(1)} (${x.answerNll!.toFixed(2)})`;
};
console.log('| task | ' + lengths.map((l) => `${l} tokens`).join(' | ') + ' |');
console.log('|---|' + lengths.map(() => '---:|').join(''));
for (const task of tasks) console.log(`| ${task} | ` + lengths.map((l) => cell(task, l)).join(' | ') + ' |');
if (a.likelihood) console.log('\n(in brackets: the gold answer\'s mean negative log-likelihood, nats per token, teacher-forced)');
if (heldOutPerplexity !== null) console.log(`\nheld-out perplexity: ${heldOutPerplexity.toFixed(2)} over ${read} tokens (${count} predicted; windows of ${window})`);
