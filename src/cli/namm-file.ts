/** `namm init`, `namm calibrate` and `namm inspect`: create, calibrate and read `.namm` checkpoint files. */
import type { Command } from 'commander';
import { checkOutputPath, checkWritable, samePath } from '../util/files.js';
import { readJsonl, loadLongBenchConfig } from '../tasks/longbench.js';
import { calibrateNamm } from '../eval/calibrate.js';
import { readNammCheckpoint, saveNammCheckpoint, zeroNammParams, NAMM_SELECTIONS, type NammSelection } from '../memory/namm/index.js';
import { TAP_PRECISIONS, type TapPrecision } from '../memory/policy.js';
import { validateUpdateEvery } from '../memory/namm/buffer.js';
import { createProgress } from './progress.js';
import { BOTH_BUDGETS, collect, intOption, WEIGHTS_FLAGS, WEIGHTS_HELP, weightsOption, loadCliModel } from './util.js';
import type { WeightStorage } from '../models/pack.js';

export function register(program: Command): void {
  program
    .command('init')
    .description('write a .namm file with all-zero parameters (evicts nothing; the start of evolution)')
    .requiredOption('-o, --out <file>', 'the .namm file to write')
    .option('--scorer <kind>', 'bam or mlp', 'bam')
    .option('--update <n>', 'update cadence in tokens (a multiple of 16 up to 65536)', intOption('--update', 16), 512)
    .option('--selection <mode>', `${NAMM_SELECTIONS.join(' or ')}`, 'min-over-heads')
    .option('--taps <precision>', 'attention probabilities read: bf16 (as the reference\'s bf16 model) or fp32', 'bf16')
    .option('--force', 'overwrite an existing file')
    .action((o: { out: string; scorer: string; update: number; selection: string; taps: string; force?: boolean }) => {
      if (o.scorer !== 'bam' && o.scorer !== 'mlp') throw new Error(`--scorer must be bam or mlp, got ${o.scorer}`);
      if (!(NAMM_SELECTIONS as readonly string[]).includes(o.selection)) throw new Error(`--selection must be one of ${NAMM_SELECTIONS.join(', ')}`);
      if (!(TAP_PRECISIONS as readonly string[]).includes(o.taps)) throw new Error(`--taps must be ${TAP_PRECISIONS.join(' or ')}, got ${o.taps}`);
      checkOutputPath(o.out, { force: o.force, file: true });
      saveNammCheckpoint(o.out, {
        scorer: o.scorer as 'bam' | 'mlp', params: zeroNammParams(o.scorer as 'bam' | 'mlp'), normStats: null, updateEvery: o.update,
        selection: o.selection as NammSelection, taps: o.taps as TapPrecision, provenance: { created: new Date().toISOString(), by: 'namm init' },
      });
      process.stdout.write(`wrote ${o.out}\n`);
    });

  program
    .command('calibrate')
    .description("collect a NAMM's feature-normalisation statistics on task records and store them in the .namm file")
    .requiredOption('-m, --model <path>', 'model folder, .gguf or llama2.c .bin')
    .requiredOption('--namm <file>', 'the .namm file whose parameters and cadence are used')
    .requiredOption('-d, --data <file>', 'task records, JSON lines (repeatable)', collect)
    .option('-o, --out <file>', 'where to write the calibrated .namm (default: update --namm in place)')
    .option('--update <n>', "collect them at this update cadence and write it into the file (default: the file's)", intOption('--update', 16))
    .option('--force', 'overwrite an existing --out file, or statistics --namm already holds')
    .option('--longbench-config <dir>', 'LongBench config folder for records without their own template')
    .option('--limit <n>', 'first n records of each file', intOption('--limit', 1))
    .option('--max-prompt-tokens <n>', "prompt budget (default: the model's context minus the answer)", intOption('--max-prompt-tokens', 2))
    .option('--context-window <n>', "context the budget is taken from: n less each record's new tokens (default: the model's context)", intOption('--context-window', 2))
    .option('--threads <n>', 'kernel threads (default: all cores)', intOption('--threads', 1))
    .option(WEIGHTS_FLAGS, WEIGHTS_HELP, weightsOption)
    .action(async (o: { model: string; namm: string; data: string[]; out?: string; update?: number; force?: boolean; longbenchConfig?: string; limit?: number; maxPromptTokens?: number; contextWindow?: number; threads?: number; weights?: WeightStorage }) => {
      if (o.maxPromptTokens !== undefined && o.contextWindow !== undefined) throw new Error(BOTH_BUDGETS);
      if (o.update !== undefined) {
        try { validateUpdateEvery(o.update); } catch (err) { throw new Error(`--update: ${(err as Error).message}`); }
      }
      // Checked before the (long) calibration pass: another file at --out is not overwritten unasked, nor an input.
      // --out naming the --namm file (by another spelling, a link) is the in-place update, with its check below.
      const inPlace = !o.out || samePath(o.out, o.namm);
      if (!inPlace) checkOutputPath(o.out!, { force: o.force, inputs: [o.model, ...o.data], file: true });
      const read = readNammCheckpoint(o.namm);
      // Statistics belong to the cadence they were collected at: the file takes the one they were collected with.
      const ckpt = { ...read, updateEvery: o.update ?? read.updateEvery };
      // In place, statistics already there (those the parameters were evolved against) would be replaced unasked,
      // as an --out file is not.
      if (inPlace && ckpt.normStats && !o.force) {
        throw new Error(`${o.namm} already holds normalisation statistics (over ${ckpt.normStats.count} rows); pass --force to replace them, or --out FILE to write the calibrated policy elsewhere`);
      }
      // A folder that takes no file (read-only) failed the write after the whole pass.
      checkWritable(o.out ?? o.namm);
      // The records and the LongBench config before the model loads: a bad one cost the load first.
      const records = o.data.flatMap((f) => readJsonl(f).slice(0, o.limit ?? Infinity));
      const longbenchConfig = o.longbenchConfig ? loadLongBenchConfig(o.longbenchConfig) : undefined;
      const model = await loadCliModel(o.model, o.weights);
      if (o.threads) model.backend.threads = o.threads;
      const bar = createProgress(records.length, 'calibrate');
      let reached = 0;
      const stats = await calibrateNamm(model, records, ckpt.params, {
        updateEvery: ckpt.updateEvery, scorer: ckpt.scorer, taps: ckpt.taps, maxPromptTokens: o.maxPromptTokens, contextWindow: o.contextWindow,
        longbenchConfig,
        onProgress: (d) => bar.update(d),
        onRecord: (_i, updated) => { if (updated) reached++; },
      });
      bar.stop();
      const out = o.out ?? o.namm;
      saveNammCheckpoint(out, { ...ckpt, normStats: stats, provenance: { ...ckpt.provenance, calibration: { model: model.source, ...(model.convertedWeights ? { weights: model.convertedWeights } : {}), records: records.length, rows: stats.count, data: o.data } } });
      process.stdout.write(`wrote ${out}: statistics over ${stats.count} cached rows of ${reached} records${reached < records.length ? ` (of ${records.length}: the other sequences stayed short of the ${ckpt.updateEvery}-token update cadence)` : ''}\n`);
    });

  program
    .command('inspect')
    .description('print what a .namm file holds (config, provenance, parameter and statistics summaries)')
    .argument('<file>', 'a .namm file')
    .action((file: string) => {
      const c = readNammCheckpoint(file);
      let sq = 0, max = 0;
      for (const v of c.params) { sq += v * v; max = Math.max(max, Math.abs(v)); }
      process.stdout.write(JSON.stringify({
        scorer: c.scorer, params: c.params.length, param_rms: Math.sqrt(sq / c.params.length), param_max_abs: max,
        update_every: c.updateEvery, selection: c.selection, cache_size: c.cacheSize ?? null, taps: c.taps,
        normalisation: c.normStats ? { rows: c.normStats.count, mean: Array.from(c.normStats.mean), variance: Array.from(c.normStats.variance) } : null,
        provenance: c.provenance ?? null,
      }, null, 2) + '\n');
    });
}

