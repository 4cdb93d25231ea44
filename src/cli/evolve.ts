/** `namm evolve`: evolve a NAMM on task scores with CMA-ES, stage by stage as a curriculum file says. */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { evolveNamm } from '../evolve/namm-evolution.js';
import { intOption, WEIGHTS_FLAGS, WEIGHTS_HELP, weightsOption } from './util.js';
import type { WeightStorage } from '../models/pack.js';

interface EvolveCliOptions {
  config: string;
  model: string;
  out: string;
  resume?: boolean;
  workers: number;
  seed?: number;
  mode?: 'reference' | 'fast';
  weights?: WeightStorage;
}

function modeOption(v: string): 'reference' | 'fast' {
  if (v !== 'reference' && v !== 'fast') throw new InvalidArgumentError(`--mode must be reference or fast, got "${v}"`);
  return v;
}

export function register(program: Command): void {
  program
    .command('evolve')
    .description('evolve a NAMM with CMA-ES on task scores (curriculum of stages; resumable; parallel workers)')
    .requiredOption('-c, --config <file>', 'curriculum JSON: CMA-ES settings and stages of tasks (see configs/evolve-*.json)')
    .requiredOption('-m, --model <path>', 'model folder, .gguf or llama2.c .bin')
    .requiredOption('-o, --out <dir>', 'run directory: checkpoint, log.jsonl, members.jsonl, validation.jsonl, reference scores, .namm files, fitness.svg')
    .option('--resume', 'continue the run in --out (bit-identical to an uninterrupted run)')
    .option('--workers <n>', 'evaluation threads sharing the weights (results do not depend on it)', intOption('--workers', 1), 1)
    .option('--seed <n>', "seed of CMA-ES and of the prompt sampling (default: the curriculum's)", intOption('--seed', 0))
    .option('--mode <mode>', "CMA-ES eigendecomposition: reference (every generation) or fast (lazy); default: the curriculum's (on --resume: the run's)", modeOption)
    .option(WEIGHTS_FLAGS, `${WEIGHTS_HELP}; a run resumes with the weights it started with`, weightsOption)
    .action(async (o: EvolveCliOptions) => {
      const result = await evolveNamm({
        curriculum: o.config, model: o.model, out: o.out, resume: o.resume, workers: o.workers,
        ...(o.seed !== undefined ? { seed: o.seed } : {}), ...(o.mode ? { mode: o.mode } : {}),
        ...(o.weights ? { weights: o.weights } : {}),
      });
      const last = result.history.at(-1);
      const chosen = result.stageBest.at(-1);
      process.stdout.write(`wrote ${result.nammPath} (CMA-ES mean ${chosen ? `at generation ${chosen.generation} of ${result.generation}, the last stage's best validation score ${chosen.score.toFixed(4)}` : `after ${result.generation} generations`}` +
        `${last ? `, last best fitness ${last.best.toFixed(4)}, mean ${last.mean.toFixed(4)}` : ''})\n`);
      // The starting mean is all zeros (the reference's initialiser): a policy that evicts nothing, whose validation
      // scores 1 − the cache penalty and can stay the best of a short run.
      if (result.mean.every((v) => v === 0)) {
        process.stderr.write(`note: its parameters are all zero, the starting policy, which evicts nothing (KV 100%): no later validation of the mean scored higher${chosen ? ` than generation ${chosen.generation}'s ${chosen.score.toFixed(4)}` : ''}; evolve for more generations, or validate less early\n`);
      }
    });
}
