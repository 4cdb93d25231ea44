/** `namm generate`: run a model on a prompt, streaming the text, optionally under a memory policy. */
import type { Command } from 'commander';
import type { Model } from '../models/model.js';
import type { GenerateOptions, Session } from '../runtime/session.js';
import { parsePolicySpec } from '../memory/spec.js';
import { collect, floatOption, intOption, unreachedTraceNote, WEIGHTS_FLAGS, WEIGHTS_HELP, weightsOption, loadCliModel } from './util.js';
import type { WeightStorage } from '../models/pack.js';
import { readTextInput } from '../util/files.js';
import { sequenceLimit } from '../models/rope.js';

interface GenerateCliOptions {
  model: string;
  prompt?: string;
  promptFile?: string;
  maxNewTokens: number;
  greedy?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed: number;
  memory?: string;
  stop?: string[];
  chunkSize: number;
  json?: boolean;
  threads?: number;
  weights?: WeightStorage;
  question?: string[];
}

export function register(program: Command): void {
  program
    .command('generate')
    .description('generate text from a prompt (streams to stdout; --json prints one result object)')
    .requiredOption('-m, --model <path>', 'model folder (config.json + safetensors), .gguf file or llama2.c .bin')
    .option('-p, --prompt <text>', 'the prompt')
    .option('-f, --prompt-file <file>', 'read the prompt from a file')
    .option('-n, --max-new-tokens <n>', 'tokens to generate at most', intOption('--max-new-tokens'), 128)
    .option('--greedy', 'always take the most likely token (the default unless --temperature is given)')
    .option('-t, --temperature <t>', 'sampling temperature (> 0 samples)', floatOption('--temperature', 0))
    .option('--top-k <k>', 'sample from the k most likely tokens', intOption('--top-k'))
    .option('--top-p <p>', 'nucleus sampling threshold', floatOption('--top-p', 0, 1, true))
    .option('-s, --seed <n>', 'random seed for sampling', intOption('--seed'), 0)
    .option('--memory <spec>', 'memory policy, e.g. full, namm:FILE.namm, h2o:ratio=0.5, streaming:sinks=4,window=512')
    .option('--stop <text>', 'stop when this text appears (repeatable)', collect)
    .option('--chunk-size <n>', 'prefill chunk size in tokens', intOption('--chunk-size', 1), 128)
    .option('--threads <n>', 'kernel threads (default: all cores)', intOption('--threads', 1))
    .option(WEIGHTS_FLAGS, WEIGHTS_HELP, weightsOption)
    .option('-q, --question <text>', 'read the prompt (say, a long document) once, then answer this in a copy of the session (repeatable: one copy per question)', collect)
    .option('--json', 'print one JSON object instead of streaming text')
    .action(async (o: GenerateCliOptions) => {
      if ((o.prompt === undefined) === (o.promptFile === undefined)) throw new Error('give exactly one of --prompt and --prompt-file');
      if (o.question?.some((q) => q === '')) throw new Error('--question must not be empty');
      // An empty --stop matched nothing (it was dropped) and --greedy overrode a sampling option: both ran silently.
      if (o.stop?.some((t) => t === '')) throw new Error('--stop must not be empty');
      if (o.greedy && ((o.temperature ?? 0) > 0 || (o.topK ?? 0) > 0 || (o.topP ?? 1) < 1)) {
        throw new Error('--greedy always takes the most likely token, so --temperature, --top-k and --top-p would be ignored; drop --greedy to sample, or them to decode greedily');
      }
      // Before the model loads: greedy decoding (no --temperature) would ignore them.
      if (!o.greedy && !o.temperature && ((o.topK ?? 0) > 0 || (o.topP ?? 1) < 1)) {
        throw new Error('--top-k and --top-p shape sampling: give --temperature > 0 with them (without it, decoding is greedy)');
      }
      const prompt = o.prompt ?? readTextInput(o.promptFile!, 'prompt file');
      // An empty file (a wrong redirect, a file not yet written) generated from the start token alone, as if asked.
      if (o.promptFile !== undefined && prompt === '') {
        throw new Error(`prompt file ${o.promptFile === '-' ? '- (standard input)' : o.promptFile} is empty; to generate from the start token alone, give --prompt ''`);
      }
      // The policy before the model loads: a misspelt spec cost the whole load.
      const memory = o.memory !== undefined ? parsePolicySpec(o.memory) : null;
      const model = await loadCliModel(o.model, o.weights);
      if (!model.tokenizer) throw new Error(`${o.model} has no tokenizer (no tokenizer.json, embedded vocabulary or tokenizer.bin): generate needs one to read the prompt`);
      if (o.threads) model.backend.threads = o.threads;
      const session = await model.createSession({ memory, chunkSize: o.chunkSize });
      const sampling = o.greedy ? { greedy: true } : { temperature: o.temperature, topK: o.topK, topP: o.topP, seed: o.seed };
      if (o.question?.length) {
        await answerQuestions(model, session, prompt, o.question, { ...sampling, maxNewTokens: o.maxNewTokens, stopStrings: o.stop }, !!o.json);
        return;
      }
      const result = await session.generate(prompt, {
        ...sampling,
        maxNewTokens: o.maxNewTokens,
        stopStrings: o.stop,
        onToken: o.json ? undefined : (text) => process.stdout.write(text),
      });
      const unreached = unreachedTraceNote(session.memoryPolicy, session.totalTokens);
      if (o.json) {
        if (unreached) process.stderr.write(unreached);
        process.stdout.write(JSON.stringify({
          model: model.source,
          backend: `${model.backend.name}/${model.backend.simd}`,
          memory_policy: session.memoryPolicy?.name ?? 'full',
          prompt_tokens: result.promptTokens,
          prompt_token_count: result.promptTokens.length,
          output_tokens: result.outputTokens,
          text: result.text,
          stopped_by: result.stoppedBy,
          prefill_tokens_per_s: round(result.prefillTokensPerS),
          decode_tokens_per_s: round(result.decodeTokensPerS),
          kv_cache_bytes: result.kvCacheBytes,
          memory: result.memory,
        }) + '\n');
      } else {
        process.stdout.write('\n');
        const m = result.memory;
        process.stderr.write(
          `[${result.promptTokens.length} prompt + ${result.outputTokens.length} new tokens · prefill ${round(result.prefillTokensPerS)} tok/s · decode ${round(result.decodeTokensPerS)} tok/s · ` +
          `KV cache ${(result.kvCacheBytes / 1024).toFixed(1)} KiB, mean ${(100 * m.meanFraction).toFixed(1)}% of full${policyNote(m.policyBytes)}]\n`);
        if (unreached) process.stderr.write(unreached);
      }
    });
}

/**
 * --question: the prompt is prefilled (and compressed by the memory policy) once; each question then continues its
 * own fork of that session, so the answers do not see each other.
 */
async function answerQuestions(
  model: Model, session: Session, prompt: string, questions: string[], options: GenerateOptions, json: boolean,
): Promise<void> {
  // The longest answer's sequence against the model's limit, before the document is read (the
  // refusal came after its whole prefill, with "Q: … A:" already printed).
  const tok = model.tokenizer!;
  const docTokens = tok.encode(prompt).length, maxNew = options.maxNewTokens ?? 128;
  const longest = Math.max(...questions.map((q) => tok.encode(q, { addBos: false }).length));
  const need = docTokens + longest + Math.max(0, maxNew - 1);
  const limit = sequenceLimit(model.config);
  if (limit && need > limit.tokens) {
    throw new Error(`the document (${docTokens} tokens), its longest question (${longest}) and -n ${maxNew} would reach ${need} tokens, past ${limit.what}`);
  }
  const doc = await session.generate(prompt, { ...options, maxNewTokens: 0 });
  // prompt_tokens: the ids, as in the single-prompt mode (it was their count here), and their count beside them.
  const docReport = {
    prompt_tokens: doc.promptTokens,
    prompt_token_count: doc.promptTokens.length,
    prefill_tokens_per_s: round(doc.prefillTokensPerS),
    kv_cache_bytes: doc.kvCacheBytes,
    memory: doc.memory,
  };
  if (!json) {
    process.stderr.write(`[document: ${doc.promptTokens.length} tokens · prefill ${round(doc.prefillTokensPerS)} tok/s · ` +
      `KV cache ${(doc.kvCacheBytes / 1024).toFixed(1)} KiB, ${(100 * doc.memory.finalFraction).toFixed(1)}% of full${policyNote(doc.memory.policyBytes)}]\n`);
  }
  const answers = [];
  let unreached: string | null = null;
  for (const question of questions) {
    if (!json) process.stdout.write(`Q: ${question}\nA:`);
    // One space after "A:", the answer's own when it begins with one (its text keeps its leading space: "A:  an").
    let first = true;
    const show = (text: string) => { process.stdout.write(first && !/^\s/.test(text) ? ` ${text}` : text); first = false; };
    const fork = session.fork();
    const r = await fork.generate(question, { ...options, onToken: json ? undefined : show });
    if (!json) process.stdout.write('\n');
    unreached ??= unreachedTraceNote(fork.memoryPolicy, fork.totalTokens);
    answers.push({
      question, output_tokens: r.outputTokens, text: r.text, stopped_by: r.stoppedBy,
      decode_tokens_per_s: round(r.decodeTokensPerS), kv_cache_bytes: r.kvCacheBytes, memory: r.memory,
    });
  }
  if (unreached) process.stderr.write(unreached);
  if (json) {
    process.stdout.write(JSON.stringify({
      model: model.source,
      backend: `${model.backend.name}/${model.backend.simd}`,
      memory_policy: session.memoryPolicy?.name ?? 'full',
      document: docReport,
      answers,
    }) + '\n');
  }
}

function round(x: number): number { return Math.round(x * 10) / 10; }

/** The memory policy's own state, beside the cache, when it has any (NAMM's windows on a small model outweigh it). */
function policyNote(bytes: number): string {
  return bytes > 0 ? ` · policy state ${(bytes / 1024).toFixed(1)} KiB` : '';
}
