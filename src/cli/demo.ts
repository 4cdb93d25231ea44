/**
 * `namm demo`: the main job in one command. Generates a long retrieval prompt sized for the model, answers it with
 * the full KV cache and under memory policies, and shows each answer, whether it is right, and the memory it used.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../models/model.js';
import { parsePolicySpec } from '../memory/spec.js';
import { generateRecord } from '../tasks/registry.js';
import { runRecord } from '../eval/runner.js';
import { collect, intOption } from './util.js';

/** The package root (works from src/ through tsx and from dist/src/ after the build). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export const DEFAULT_MODEL = 'models/namm-tiny-llama';
export const DEFAULT_NAMM = 'models/namm-tiny-llama.namm';

interface DemoOptions { model?: string; memory?: string[]; task: string; length: number; seed: number; maxPromptTokens?: number }

export function register(program: Command): void {
  program
    .command('demo')
    .description('the main job: a long generated prompt answered with the full cache and with NAMM memory, showing answers and memory saved')
    .option('-m, --model <path>', `model (default: the shipped ${DEFAULT_MODEL})`)
    .option('--memory <spec>', `memory policy to compare with the full cache (repeatable; default: namm:${DEFAULT_NAMM} and h2o at the same memory)`, collect)
    .option('--task <name>', 'generated task (see `namm tasks list`)', 'passkey')
    .option('--length <tokens>', 'prompt length in model tokens', intOption('--length', 64), 2048)
    .option('--seed <n>', 'task seed (seeds below 1,000,000 are never used in training)', intOption('--seed'), 7)
    .option('--max-prompt-tokens <n>', "prompt budget (default: the model's context)", intOption('--max-prompt-tokens', 2))
    .action(async (o: DemoOptions) => {
      const root = packageRoot();
      const modelPath = o.model ?? join(root, DEFAULT_MODEL);
      if (!existsSync(modelPath)) {
        throw new Error(`no model at ${modelPath}: the shipped model is made by \`namm train --config configs/namm-tiny-llama.json --out ${DEFAULT_MODEL}\`; or pass --model PATH`);
      }
      const model = await loadModel(modelPath);
      if (!model.tokenizer) throw new Error(`${modelPath} has no tokenizer`);
      let specs = o.memory;
      if (!specs) {
        const namm = join(root, DEFAULT_NAMM);
        if (!existsSync(namm)) throw new Error(`no evolved NAMM at ${namm} yet (see \`namm evolve\`); pass --memory SPEC`);
        specs = [`namm:${namm}`];
      }
      const record = generateRecord({ task: o.task, length: o.length, tokenizer: model.tokenizer, seed: o.seed });
      const out = (s: string) => process.stdout.write(s + '\n');
      out(`model    ${resolve(modelPath)} (${model.config.arch}, ${model.config.nLayers} layers, ${(model.arch.weightBytes / 2 ** 20).toFixed(1)} MiB of weights, ${model.backend.name}/${model.backend.simd})`);
      out(`task     ${record.dataset}: ${record.length} prompt tokens; question: ${JSON.stringify(record.input.trim().slice(0, 120))}`);
      out(`expected ${JSON.stringify(record.answers.join(' | '))}`);
      out('');
      for (const spec of ['full', ...specs]) {
        const r = await runRecord(model, record, spec === 'full' ? null : parsePolicySpec(spec), { maxPromptTokens: o.maxPromptTokens });
        const m = r.memory;
        const saved = m.bytesFreed > 0 ? `, ${(m.bytesFreed / 2 ** 20).toFixed(2)} MiB freed` : '';
        out(`${spec}`);
        out(`  answer  ${JSON.stringify(r.prediction.trim().slice(0, 160))}  (${r.score >= 1 ? 'right' : r.score > 0 ? `partly right, ${r.score.toFixed(2)}` : 'wrong'})`);
        out(`  memory  mean ${(100 * m.meanFraction).toFixed(1)}% of the full KV cache, final ${(100 * m.finalFraction).toFixed(1)}%${saved}; ${r.seconds.toFixed(1)} s`);
      }
    });
}
