/** `namm train`: train a small Llama- or GPT-2-family model (and its BPE tokenizer) from a JSON config. */
import type { Command } from 'commander';
import { basename, join } from 'node:path';
import { getBackend } from '../tensor/index.js';
import { readTrainConfig } from '../train/config.js';
import { runTraining } from '../train/trainer.js';
import { createProgress, type Progress } from './progress.js';
import { intOption } from './util.js';

interface TrainCliOptions {
  config: string;
  out?: string;
  resume?: boolean;
  newData?: boolean;
  maxSteps?: number;
  threads?: number;
}

function fmt(x: number, digits = 3): string { return Number.isFinite(x) ? x.toFixed(digits) : String(x); }

export function register(program: Command): void {
  program
    .command('train')
    .description('train a model from a JSON config (see configs/); saves a Hugging Face folder with checkpoints and a JSON-lines log')
    .requiredOption('-c, --config <file>', 'training config (JSON)')
    .option('-o, --out <dir>', 'output folder (default: runs/<config name>)')
    .option('--resume', 'continue from <out>/checkpoint.bin')
    .option('--new-data', 'with --resume: continue the weights and optimizer on the config\'s (changed) data section, a new curriculum phase')
    .option('--max-steps <n>', 'stop after this many steps in this invocation (the schedule still spans the config\'s steps)', intOption('--max-steps', 1))
    .option('--threads <n>', 'kernel threads (default: all cores)', intOption('--threads', 1))
    .action(async (o: TrainCliOptions) => {
      const config = readTrainConfig(o.config);
      const runName = config.name || basename(o.config, '.json');
      // The default folder is runs/<name>: a name with a path in it ("..", "../../x") trained into the working folder
      // or outside it.
      if (o.out === undefined && (/[/\\]/.test(runName) || runName === '.' || runName === '..' || runName.trim() === '')) {
        throw new Error(`the config's name ${JSON.stringify(runName)} cannot name a folder under runs/ (it holds a path); pass --out DIR`);
      }
      const outDir = o.out ?? join('runs', runName);
      const backend = getBackend();
      if (o.threads) backend.threads = o.threads;
      process.stderr.write(`namm train: ${config.name} (${config.model.arch}) → ${outDir} · backend ${backend.name}/${backend.simd}, ${backend.threads} thread(s)\n`);
      let progress: Progress | null = null, first = 0;
      const result = await runTraining({
        config, outDir, resume: o.resume, newData: o.newData, backend, maxSteps: o.maxSteps,
        onStatus: (m) => process.stderr.write(`namm train: ${m}\n`),
        onStep: (s) => {
          if (!progress) {
            first = s.step - 1;
            const last = o.maxSteps ? Math.min(s.totalSteps, first + o.maxSteps) : s.totalSteps;
            // Made once the first step is done: it started that step's duration ago.
            progress = createProgress(last - first, 'train', Date.now() - (s.stepTokens / s.tokensPerS) * 1000);
          }
          progress.update(s.step - first, { step: `${s.step}/${s.totalSteps}`, loss: fmt(s.loss), lr: s.lr.toExponential(2), 'tok/s': Math.round(s.tokensPerS) });
        },
        onEval: (step, loss) => process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}namm train: step ${step} validation loss ${fmt(loss)}\n`),
      });
      (progress as Progress | null)?.stop();
      process.stdout.write(JSON.stringify({
        out: result.outDir, step: result.step, tokens_seen: result.tokensSeen, loss: result.lastLoss,
        validation_loss: result.validationLoss, tokens_per_s: Math.round(result.tokensPerS),
      }) + '\n');
    });
}
