/**
 * What generate's text costs per token: the whole output decoded again at every step (what generate did, O(n) per
 * token) against IncrementalDecoder's window, over n tokens of this README encoded by each shipped model's
 * tokenizer. Both give the same text at every step (test/runtime/detokenize.test.ts); one JSON line per tokenizer
 * and length with the microseconds per token and their ratio, measured in the same run.
 *
 * Usage: npm run bench:detokenize [-- --tokens=1000,4000]
 */
import { readFileSync } from 'node:fs';
import { loadTokenizer } from '../src/models/tokenizer.js';
import { IncrementalDecoder } from '../src/runtime/detokenize.js';

const raw = process.argv.find((a) => a.startsWith('--tokens='))?.slice(9) ?? '1000,4000';
const lengths = raw.split(',').map(Number);
if (!lengths.every((n) => Number.isInteger(n) && n >= 1)) { console.error(`bench:detokenize: --tokens must be integers ≥ 1, got ${raw}`); process.exit(2); }
const text = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

for (const model of ['namm-tiny-gpt2', 'namm-tiny-llama']) {
  const tok = await loadTokenizer(new URL(`../models/${model}`, import.meta.url).pathname);
  const all = tok.encode(text, { addBos: false });
  for (const n of lengths) {
    if (all.length < n) { console.error(`bench:detokenize: the README is ${all.length} tokens for ${model}, fewer than ${n}`); process.exit(2); }
    const ids = all.slice(0, n);
    // Alternated, three rounds each; the fastest round of each counts.
    let whole = Infinity, windowed = Infinity, a = '', b = '';
    for (let round = 0; round < 3; round++) {
      let t0 = performance.now();
      for (let i = 1; i <= n; i++) a = tok.decode(ids.slice(0, i));
      whole = Math.min(whole, performance.now() - t0);
      t0 = performance.now();
      const d = new IncrementalDecoder(tok);
      for (const id of ids) b = d.push(id);
      windowed = Math.min(windowed, performance.now() - t0);
    }
    if (a !== b) throw new Error(`${model}: the texts differ`);
    console.log(JSON.stringify({
      bench: 'detokenize', tokenizer: model, tokens: n,
      whole_us_per_token: +((whole / n) * 1000).toFixed(1), windowed_us_per_token: +((windowed / n) * 1000).toFixed(1),
      speedup: +(whole / windowed).toFixed(1),
    }));
  }
}
