/**
 * Imported first by the scripts run with `npx tsx scripts/…`: a failure (a bad argument, a missing model folder)
 * prints `script: message` and exits with status 1, as the `namm` command does, instead of a stack trace
 * (`NAMM_DEBUG=1` adds the stack).
 */
import { basename } from 'node:path';

const script = basename(process.argv[1] ?? 'script');
process.on('uncaughtException', (err: unknown) => {
  const e = err as Error;
  process.stderr.write(`${script}: ${e?.message ?? String(err)}\n`);
  if (process.env.NAMM_DEBUG) process.stderr.write(`${e?.stack}\n`);
  process.exit(1);
});
