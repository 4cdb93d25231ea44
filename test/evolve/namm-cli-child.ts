// `namm evolve` as the CLI runs it (the command registered on a commander program, errors to stderr with exit
// code 1, as src/cli/main.ts does), for the kill-and-resume test. Usage: node --import tsx namm-cli-child.ts ARGS…
import { Command } from 'commander';
import { register } from '../../src/cli/evolve.js';

const program = new Command().name('namm').exitOverride();
register(program);
program.parseAsync(['node', 'namm', 'evolve', ...process.argv.slice(2)]).catch((err: unknown) => {
  process.stderr.write(`namm: ${(err as Error)?.message ?? String(err)}\n`);
  process.exitCode = 1;
});
