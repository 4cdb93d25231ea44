#!/usr/bin/env node
/** The `namm` command: each subcommand lives in its own file and registers itself here. */
import { Command } from 'commander';
import { commands } from './commands.js';
import { stopAllProgress } from './progress.js';
import { refuseRepeatedOptions } from './util.js';
import { packageVersion } from '../util/package.js';

const program = new Command();
program
  .name('namm')
  .description('Neural Attention Memory Models: run transformers with a learned, evictable KV cache; evaluate and evolve memory policies.')
  .version(packageVersion())
  // Commander's own errors (an unknown option or command, a missing or invalid value) begin `error: `; they begin
  // `namm: ` as every other failure of the command does, so that one form tells a reader (or a script) what failed.
  // Subcommands inherit this, since each is registered after it.
  .configureOutput({ outputError: (str, write) => write(str.replace(/^error: /, 'namm: ')) })
  .showHelpAfterError();
for (const register of commands) register(program);
refuseRepeatedOptions(program);

// A reader that goes away (`namm tasks list | head -1`) ends the command as SIGPIPE ends a Unix tool, silently and
// with status 141 (128 + SIGPIPE), instead of an unhandled 'error' event's stack trace; files being written are
// written atomically, so one cut off leaves its old version. Any other failure to write the output is an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(141);
  process.stderr.write(`namm: cannot write the output: ${err.message}\n`);
  process.exit(1);
});

// Node prints a process warning (NAMM_PAST_CONTEXT, a NAMM run without normalisation statistics) as
// "(node:PID) [CODE] Warning: …" followed by a line about --trace-warnings: each is one line of the command's own
// form instead. Silenced as Node silences them (NODE_NO_WARNINGS=1, --no-warnings, also through NODE_OPTIONS): Node
// then installs no printer of its own.
const quiet = process.listenerCount('warning') === 0;
process.removeAllListeners('warning');
process.on('warning', (w: Error & { code?: string }) => {
  if (quiet) return;
  // namm's own codes (NAMM_PAST_CONTEXT, NAMM_NOT_UTF8, …) end the line, so that a log can be searched for one;
  // another source's warning keeps its class (and code), so that it does not read as namm's.
  const other = w.name && w.name !== 'Warning' ? w.name : '';
  const code = w.code?.startsWith('NAMM_') ? ` [${w.code}]` : w.code ? ` (${w.name}, ${w.code})` : other ? ` (${other})` : '';
  process.stderr.write(`namm: warning: ${w.message.replace(/^namm: /, '')}${code}\n`);
});

program.parseAsync(process.argv).catch((err: unknown) => {
  stopAllProgress();
  const e = err as Error;
  // A message that already begins "namm: " (the NAMM policy's own options) is not prefixed again ("namm: namm: …").
  const message = e?.message ?? String(err);
  process.stderr.write(`${message.startsWith('namm: ') ? '' : 'namm: '}${message}\n`);
  if (process.env.NAMM_DEBUG) process.stderr.write(`${e?.stack}\n`);
  process.exitCode = 1;
});
