/** `namm perplexity`: perplexity of a text file under a memory policy. */
import type { Command } from 'commander';
import { parsePolicySpec } from '../memory/spec.js';
import { perplexity } from '../eval/perplexity.js';
import { sequenceLimit } from '../models/rope.js';
import { createProgress } from './progress.js';
import { intOption, unreachedTraceNote, WEIGHTS_FLAGS, WEIGHTS_HELP, weightsOption, loadCliModel, weightsApplied } from './util.js';
import type { WeightStorage } from '../models/pack.js';
import { readTextInput } from '../util/files.js';

export function register(program: Command): void {
  program
    .command('perplexity')
    .description('perplexity of a text file, each token predicted from the cache as the memory policy left it')
    .requiredOption('-m, --model <path>', 'model folder, .gguf or llama2.c .bin')
    .requiredOption('--text <file>', 'a UTF-8 text file')
    .option('--memory <spec>', 'memory policy', 'full')
    .option('--max-tokens <n>', 'use only the first n tokens', intOption('--max-tokens', 2))
    .option('--chunk-size <n>', 'tokens per forward chunk (a policy acts between chunks)', intOption('--chunk-size', 1), 128)
    .option('--threads <n>', 'kernel threads (default: all cores)', intOption('--threads', 1))
    .option(WEIGHTS_FLAGS, WEIGHTS_HELP, weightsOption)
    .option('--json', 'print one JSON object')
    .action(async (o: { model: string; text: string; memory: string; maxTokens?: number; chunkSize: number; json?: boolean; threads?: number; weights?: WeightStorage }) => {
      // The policy before the model loads: a misspelt spec cost the whole load.
      const policy = o.memory === 'full' ? null : parsePolicySpec(o.memory);
      const model = await loadCliModel(o.model, o.weights);
      if (o.threads) model.backend.threads = o.threads;
      if (!model.tokenizer) throw new Error(`${o.model} has no tokenizer`);
      const text = readTextInput(o.text, 'text file');
      if (text.length === 0) throw new Error(`${o.text} is empty: there is no text to score`);
      let ids = model.tokenizer.encode(text, { addBos: true });
      if (o.maxTokens) ids = ids.slice(0, o.maxTokens);
      // A text longer than a GPT-2 model's positions was cut to them without a word, and its perplexity reported
      // as the whole text's: it is refused instead, naming the limit and the option that scores a beginning.
      const limit = sequenceLimit(model.config);
      if (limit && ids.length > limit.tokens) {
        throw new Error(`${o.maxTokens ? `--max-tokens ${o.maxTokens} is` : `${o.text} is ${ids.length} tokens,`} past ${limit.what}; pass --max-tokens ${limit.tokens} (or less) to score the text's first ${limit.tokens} tokens`);
      }
      const bar = createProgress(ids.length, 'perplexity');
      const r = perplexity(model, ids, policy, { chunkSize: o.chunkSize, onProgress: (d) => bar.update(d) });
      bar.stop();
      const out = {
        model: model.source, weights: weightsApplied(model, o.weights), weight_bytes: model.arch.weightBytes, policy: o.memory, tokens: r.tokens,
        predicted: r.predicted, nll: r.nll, perplexity: r.perplexity, mean_kv_fraction: r.memory.meanFraction, evicted_while_scoring: r.evictedWhileScoring, memory: r.memory,
      };
      // The memory figures describe the cache at the end; say when no prediction saw an evicted cache.
      const unreached = unreachedTraceNote(policy, r.tokens);
      if (unreached) process.stderr.write(unreached);
      else if (policy && !r.evictedWhileScoring) {
        process.stderr.write(r.memory.evictionEvents > 0
          ? `note: ${o.memory} evicted only while the text's last piece was read, after which nothing is predicted (it compresses once a prompt has been read), so this is the full cache's perplexity; a token cadence (every=N) scores under compression\n`
          : `note: ${o.memory} evicted nothing on this text (its budget holds it), so this is the full cache's perplexity\n`);
      }
      process.stdout.write(o.json ? JSON.stringify(out) + '\n' : `perplexity ${r.perplexity.toFixed(3)} over ${r.tokens} tokens (${r.predicted} predicted; mean KV ${(100 * r.memory.meanFraction).toFixed(1)}% of full)\n`);
    });
}
