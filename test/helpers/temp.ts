/**
 * Temporary folders for tests: each is made under the OS temp folder and removed, with what the test wrote in it,
 * when the test file's process exits (node:test runs every file in a process of its own), so that a run of the
 * suite leaves the temp folder as it found it. NAMM_KEEP_TEST_TMP=1 keeps them, for looking into a failure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/** A new empty folder named `prefix` + six random characters, removed at exit. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (made.length === 0 && process.env.NAMM_KEEP_TEST_TMP !== '1') {
    process.on('exit', () => {
      for (const d of made) {
        try { rmSync(d, { recursive: true, force: true }); } catch { /* best effort: a folder made read-only by its test */ }
      }
    });
  }
  made.push(dir);
  return dir;
}
