/**
 * `namm demo`: the main job in one command. Generates a long retrieval prompt sized for the model, answers it with
 * the full KV cache and under memory policies, and shows each answer, whether it is right, the likelihood each run
 * gives the gold answer (teacher-forced; it shows what forgetting cost even where every answer is wrong) and the
 * memory it used. By default the policies are the shipped NAMM and H2O evicting at the same points down to the same
 * per-head sizes (`matched(h2o)` following the NAMM run's trace).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { parseLengths } from './tasks.js';
import { existsSync, rmSync } from 'node:fs';
import { makeTemporaryFolder } from '../util/files.js';
import { join, resolve } from 'node:path';
import { MemoryTraceRecorder, recordingPolicy, saveMemoryTrace } from '../memory/matched.js';
import type { MemoryPolicy } from '../memory/policy.js';
import { parsePolicySpec, specWithTrace } from '../memory/spec.js';
import { generateRecord } from '../tasks/registry.js';
import { recordPrompt, runRecord, type RecordResult, type RecordScore } from '../eval/runner.js';
import { collect, intOption, traceFollower, WEIGHTS_FLAGS, WEIGHTS_HELP, weightsOption, loadCliModel } from './util.js';
import type { WeightStorage } from '../models/pack.js';
import { contextLength } from '../models/rope.js';
import { packageRoot } from '../util/package.js';
import { readNammCheckpoint } from '../memory/namm/checkpoint.js';



export const DEFAULT_MODEL = 'models/namm-tiny-llama';
export const DEFAULT_NAMM = 'models/namm-tiny-llama.namm';

interface DemoOptions { model?: string; memory?: string[]; task: string; length?: number; seed: number; maxPromptTokens?: number; threads?: number; weights?: WeightStorage }

/** --length: one length, written as tasks generate reads it (2048 or 2k), of at least 64 tokens. */
function demoLength(value: string): number {
  const lengths = parseLengths(value);
  if (lengths.length !== 1) throw new InvalidArgumentError(`--length takes one length, got "${value}"`);
  if (lengths[0]! < 64) throw new InvalidArgumentError(`--length must be an integer ≥ 64 (tokens, e.g. 2048 or 2k), got "${value}"`);
  return lengths[0]!;
}

/** The demo's prompt length when --length is not given: 2,048 tokens, or the model's context when that is shorter. */
export const DEFAULT_DEMO_LENGTH = 2048;

export function register(program: Command): void {
  program
    .command('demo')
    .description('the main job: a long generated prompt answered with the full cache and with NAMM memory, showing answers and memory saved')
    .option('-m, --model <path>', `model (default: the shipped ${join(packageRoot(), DEFAULT_MODEL)})`)
    .option('--memory <spec>', `memory policy to compare with the full cache (repeatable; default: namm:${join(packageRoot(), DEFAULT_NAMM)} and matched(h2o), H2O at the NAMM run's per-head sizes; a matched(SPEC) without trace= follows the first other policy given)`, collect)
    .option('--task <name>', 'generated task (see `namm tasks list`)', 'passkey')
    .option('--length <tokens>', `prompt length in model tokens, e.g. 2048 or 2k (default ${DEFAULT_DEMO_LENGTH}, or the model's context if shorter)`, demoLength)
    .option('--seed <n>', 'task seed (seeds below 1,000,000 are never used in training)', intOption('--seed'), 7)
    .option('--max-prompt-tokens <n>', "prompt budget (default: the model's context)", intOption('--max-prompt-tokens', 2))
    .option('--threads <n>', 'kernel threads (default: all cores)', intOption('--threads', 1))
    .option(WEIGHTS_FLAGS, WEIGHTS_HELP, weightsOption)
    .action(async (o: DemoOptions) => {
      const root = packageRoot();
      const modelPath = o.model ?? join(root, DEFAULT_MODEL);
      // How to make the shipped model is the answer only when it is the one missing: a --model path that does not
      // exist was answered with it too, as if the demo had looked for the shipped model.
      if (o.model !== undefined && !existsSync(modelPath)) throw new Error(`--model ${o.model}: no such file or folder`);
      if (!existsSync(modelPath)) {
        throw new Error(`no model at ${modelPath}: the shipped model is made by \`namm train --config configs/namm-tiny-llama.json --out ${DEFAULT_MODEL}\`; or pass --model PATH`);
      }
      // Whether a spec is a `matched(SPEC)` without trace=, which follows the trace of another policy's run on the
      // demo's prompt; every spec given is checked in full here, before the model loads.
      const followsTrace = traceFollower();
      for (const spec of o.memory ?? []) followsTrace(spec);
      const model = await loadCliModel(modelPath, o.weights);
      if (o.threads) model.backend.threads = o.threads;
      if (!model.tokenizer) throw new Error(`${modelPath} has no tokenizer`);
      // The full cache always runs first, as the reference each policy is compared with: a `--memory full` (in any
      // spelling the parser takes) ran and printed it a second time, and a spec given twice ran twice.
      const isFull = (spec: string): boolean => !followsTrace(spec) && parsePolicySpec(spec).name === 'full';
      let specs = o.memory && [...new Set(o.memory)].filter((spec) => !isFull(spec));
      let matchTo: string | null = null;
      if (!specs) {
        const namm = join(root, DEFAULT_NAMM);
        if (!existsSync(namm)) throw new Error(`no evolved NAMM at ${namm} yet (see \`namm evolve\`); pass --memory SPEC`);
        matchTo = `namm:${namm}`;
        specs = [matchTo, 'matched(h2o)'];
        // The shipped NAMM was evolved on the shipped model (an earlier step of its training): on another model it
        // runs as it is (NAMMs can transfer), but its evictions were chosen for that one, which the output alone did
        // not say.
        const evolvedOn = (readNammCheckpoint(namm).provenance as { model?: { fingerprint?: unknown } } | undefined)?.model?.fingerprint;
        if (resolve(modelPath) !== join(root, DEFAULT_MODEL) && typeof evolvedOn === 'string' && evolvedOn !== model.fingerprint) {
          process.stderr.write(`note: ${namm} was evolved on another model (${DEFAULT_MODEL}); it runs here unchanged, as a NAMM can transfer, but its evictions were not chosen for ${modelPath}\n`);
        }
      } else if (specs.some(followsTrace)) {
        // As the default pair: a `matched(SPEC)` given without trace= follows the run of the first other policy given
        // (say, --memory namm:mine.namm --memory 'matched(h2o)'), which therefore runs first.
        matchTo = specs.find((s) => !followsTrace(s)) ?? null;
        if (!matchTo) throw new Error(`${specs.find(followsTrace)} has no trace=FILE and no other --memory policy to follow: give one (e.g. --memory namm:FILE), or trace=FILE`);
        specs = [matchTo, ...specs.filter((s) => s !== matchTo)];
      }
      // Policies are parsed before any work, so a bad spec fails at once.
      for (const spec of specs) if (!followsTrace(spec) || !matchTo) parsePolicySpec(spec);
      // The context it is meant to run to: a YaRN model's extended one (eval cuts its prompts to the same).
      const context = contextLength(model.config);
      // A prompt longer than the model's context would be cut in its middle (where a needle may sit) before any policy
      // saw it: refused unless a prompt budget is asked for (--max-prompt-tokens), when the cut is what was asked
      // and the task line says it was made. The message names both ways on.
      if (o.length !== undefined && o.length > context && o.maxPromptTokens === undefined) {
        throw new Error(`--length ${o.length} is longer than ${modelPath}'s context (${context} positions); pass --length ${context} or less, or --max-prompt-tokens N to cut the prompt in its middle to N tokens`);
      }
      const record = generateRecord({ task: o.task, length: o.length ?? Math.min(DEFAULT_DEMO_LENGTH, context), tokenizer: model.tokenizer, seed: o.seed });
      const fed = recordPrompt(model, record, { maxPromptTokens: o.maxPromptTokens });
      const fedTokens = fed.ctxIds.length + fed.qIds.length;
      const out = (s: string) => process.stdout.write(s + '\n');
      out(`model    ${resolve(modelPath)} (${model.config.arch}, ${model.config.nLayers} layers, ${(model.arch.weightBytes / 2 ** 20).toFixed(1)} MiB of weights, ${model.backend.name}/${model.backend.simd})`);
      out(`task     ${record.dataset}: ${fedTokens} prompt tokens${fed.truncated ? ` (cut in the middle from ${record.length} to the prompt budget)` : ''}; question: ${JSON.stringify(record.input.trim().slice(0, 120))}`);
      out(`expected ${JSON.stringify(record.answers.join(' | '))}`);
      out('');
      // One trace per kind of run: the likelihood run feeds the answer instead of generating, so its evictions differ.
      const traceDir = matchTo ? makeTemporaryFolder('namm-demo-') : null;
      const traceFile = (kind: RecordScore): string => join(traceDir!, `${kind}.json`);
      let fullNll: number | null = null;
      try {
        for (const spec of ['full', ...specs]) {
          const runs = {} as Record<RecordScore, RecordResult>;
          for (const kind of ['task', 'likelihood'] as const) {
            let policy: MemoryPolicy | null = null, recorder: MemoryTraceRecorder | null = null;
            if (followsTrace(spec) && matchTo) policy = parsePolicySpec(specWithTrace(spec, traceFile(kind)));
            else if (spec !== 'full') {
              policy = parsePolicySpec(spec);
              if (spec === matchTo) { recorder = new MemoryTraceRecorder(spec); policy = recordingPolicy(policy, recorder); }
            }
            runs[kind] = await runRecord(model, record, policy, { maxPromptTokens: o.maxPromptTokens, score: kind });
            if (recorder) saveMemoryTrace(traceFile(kind), recorder.toTrace());
          }
          const r = runs.task, nll = runs.likelihood.answerNll!, m = r.memory;
          if (spec === 'full') fullNll = nll;
          const saved = m.bytesFreed > 0 ? `, ${(m.bytesFreed / 2 ** 20).toFixed(2)} MiB freed` : '';
          out(!followsTrace(spec) || !matchTo ? spec
            : spec === 'matched(h2o)' && matchTo.startsWith('namm:') ? 'matched(h2o)  (H2O held to the NAMM run\'s per-head sizes)'
              : `${spec}  (held to the ${matchTo} run's per-head sizes)`);
          out(`  answer      ${JSON.stringify(r.prediction.trim().slice(0, 160))}  (${r.score >= 1 ? 'right' : r.score > 0 ? `partly right, ${r.score.toFixed(2)}` : 'wrong'})`);
          const delta = fullNll !== null && spec !== 'full' ? ` (${nll >= fullNll ? '+' : ''}${(nll - fullNll).toFixed(3)} vs full)` : '';
          out(`  likelihood  gold answer ${(100 * runs.likelihood.score).toFixed(2)}% per token, NLL ${nll.toFixed(3)} nats${delta}`);
          out(`  memory      mean ${(100 * m.meanFraction).toFixed(1)}% of the full KV cache, final ${(100 * m.finalFraction).toFixed(1)}%${saved}; ${r.seconds.toFixed(1)} s`);
        }
      } finally {
        if (traceDir) rmSync(traceDir, { recursive: true, force: true });
      }
    });
}
