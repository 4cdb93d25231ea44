/** `namm tasks list | generate`: generated long-context tasks (RULER, InfiniteBench, needle sweeps) as JSONL. */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { closeSync, openSync, writeSync } from 'node:fs';
import { loadTokenizer } from '../models/tokenizer.js';
import type { Tokenizer } from '../models/types.js';
import { getTask, iterateRecords, listTasks } from '../tasks/registry.js';
import { intOption } from './util.js';
import { checkOutputPath, writeFileVia } from '../util/files.js';

interface GenerateTasksCliOptions {
  task: string;
  length: number[];
  tokenizer: string;
  n: number;
  seed: number;
  out: string;
  force?: boolean;
  haystack?: string;
  depth?: number[];
  quiet?: boolean;
}

/**
 * Refuses a sweep that names one value twice (`1k,1024`): the second gives the same records again, with the same
 * `_id`s, which evaluation then counts once (--n is how to have more records of one setting).
 */
function refuseRepeats(option: string, parts: string[], values: number[], unit: string): number[] {
  values.forEach((v, i) => {
    const first = values.indexOf(v);
    if (first < i) {
      throw new InvalidArgumentError(`${option} lists ${v}${unit} twice ("${parts[first]!.trim()}" and "${parts[i]!.trim()}"), which would write the same records twice, with the same ids; give each once (--n sets how many records each gets)`);
    }
  });
  return values;
}

/** "1024,4096" or "4k,16K" → [1024, 4096]. */
export function parseLengths(value: string, option = '--length'): number[] {
  const parts = value.split(',');
  return refuseRepeats(option, parts, parts.map((part) => {
    const m = /^\s*(\d+)\s*([kK]?)\s*$/.exec(part);
    const n = m ? Number(m[1]) * (m[2] ? 1024 : 1) : NaN;
    if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`${option} must be positive token counts like 4096 or 4k, got "${part}"`);
    return n;
  }), ' tokens');
}

/** "0,50,100" → [0, 50, 100] percent. */
export function parseDepths(value: string): number[] {
  const parts = value.split(',');
  return refuseRepeats('--depth', parts, parts.map((part) => {
    // Decimal numbers only: Number() read 0x32 as 50 and 1e1 as 10.
    const n = /^\s*\d+(\.\d+)?\s*$/.test(part) ? Number(part.trim()) : NaN;
    if (!Number.isFinite(n) || n < 0 || n > 100) throw new InvalidArgumentError(`--depth must be percentages within 0..100, got "${part}"`);
    return n;
  }), '%');
}

/** Writes every record as one JSON line; returns how many. */
export function writeTaskFile(path: string, options: Omit<GenerateTasksCliOptions, 'tokenizer' | 'out' | 'quiet'> & { tokenizer: Tokenizer },
  onRecord?: (done: number) => void): number {
  const records = iterateRecords({
    task: options.task, lengths: options.length, tokenizer: options.tokenizer, n: options.n, seed: options.seed,
    haystack: options.haystack, depths: options.depth,
  });
  const first = records.next(); // every option is checked before the first record, so bad ones leave no file
  let done = 0;
  // Whole or not at all: records go to a file beside `path`, renamed over it at the end, so a length that cannot
  // be sized (found only when its turn comes) or an interruption leaves an earlier file at `path` as it was.
  writeFileVia(path, (tmp) => {
    const fd = openSync(tmp, 'w');
    try {
      for (let r = first; !r.done; r = records.next()) {
        writeSync(fd, `${JSON.stringify(r.value)}\n`);
        done++;
        onRecord?.(done);
      }
    } finally {
      closeSync(fd);
    }
  });
  return done;
}

export function register(program: Command): void {
  const tasks = program.command('tasks').description('generated long-context tasks sized in a model\'s own tokens');

  tasks
    .command('list')
    .description('list the task names with their metric, new tokens and haystack')
    .option('--json', 'print the list as JSON')
    .action((opts: { json?: boolean }) => {
      const rows = listTasks().map((t) => ({
        name: t.name, family: t.family, language: t.language, metric: t.metric, max_new_tokens: t.maxNewTokens,
        haystack: t.haystack ?? 'own', depth: t.depth, description: t.description,
      }));
      if (opts.json) { process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`); return; }
      const width = Math.max(...rows.map((r) => r.name.length));
      for (const r of rows) {
        process.stdout.write(`${r.name.padEnd(width)}  ${r.metric.padEnd(16)}  new ${String(r.max_new_tokens).padStart(3)}  ` +
          `${r.language}  haystack ${r.haystack.padEnd(5)}  ${r.description}\n`);
      }
    });

  tasks
    .command('generate')
    .description('write N records of a task per length (and per depth) as LongBench-format JSONL')
    .requiredOption('--task <name>', 'task name (see `namm tasks list`)')
    .requiredOption('--length <tokens>', 'target prompt + new tokens, comma-separated for a sweep (e.g. 4096 or 1k,4k,16k)', (v) => parseLengths(v))
    .requiredOption('--tokenizer <path>', 'the model\'s tokenizer: a model folder, tokenizer.json, .gguf or llama2.c tokenizer.bin')
    .requiredOption('--out <file>', 'output .jsonl file')
    .option('-n, --n <n>', 'records per length (and depth)', intOption('--n', 1), 1)
    .option('-s, --seed <n>', 'seed: the same seed gives the same file (evaluation sets: below 1,000,000; 1,000,000 and up are training\'s and evolution\'s)', intOption('--seed'), 0)
    .option('--haystack <kind>', 'noise | essay | brown | a directory of .txt files (default: the task\'s own)')
    .option('--depth <percent>', 'needle depth(s) in percent, comma-separated for a sweep (default: random per record)', parseDepths)
    .option('-q, --quiet', 'no progress on stderr')
    .option('--force', 'replace an existing --out file')
    .action(async (opts: GenerateTasksCliOptions) => {
      const task = getTask(opts.task);
      if (opts.depth && !task.depth) throw new Error(`task ${task.name} has no needle depth to set`);
      // The tokenizer first: a folder without one, given as --tokenizer, was reported as the folder --out lay in.
      const tokenizer = await loadTokenizer(opts.tokenizer);
      checkOutputPath(opts.out, { force: !!opts.force, inputs: [opts.tokenizer, ...(opts.haystack ? [opts.haystack] : [])], file: true });
      if (opts.seed >= 1_000_000) {
        process.stderr.write(`note: seed ${opts.seed} is in the range of training (1,000,000–1,999,999: namm train's samples) or evolution (2,000,000 and up); evaluation sets use seeds below 1,000,000\n`);
      }
      const total = opts.length.length * (opts.depth?.length ?? 1) * opts.n;
      const started = Date.now();
      const written = writeTaskFile(opts.out, { ...opts, tokenizer }, (done) => {
        if (!opts.quiet && process.stderr.isTTY) process.stderr.write(`\r${task.name}: ${done}/${total} records`);
      });
      if (!opts.quiet) process.stderr.write(`${process.stderr.isTTY ? '\r' : ''}${task.name}: ${written} records → ${opts.out} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    });
}
