// Holds the run lock of a folder until killed, for the run-lock tests (see run-lock-holder.ts): prints
// "locked <pid>" once it holds it, or "refused: <message>" and exits with 3. Usage: run-lock-child.ts DIR [COMMAND]
import { acquireRunLock } from '../../src/util/run-lock.js';

try {
  acquireRunLock(process.argv[2]!, { command: process.argv[3] ?? 'run-lock-child' });
  process.stdout.write(`locked ${process.pid}\n`);
  setInterval(() => undefined, 1 << 30);
} catch (err) {
  process.stdout.write(`refused: ${(err as Error).message}\n`);
  process.exitCode = 3;
}
