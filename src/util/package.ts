/**
 * The installed package itself: its root folder, its version, and a fingerprint of the code that computes results
 * (Node only: these read the package's files).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * The package root: the nearest folder above this module with both package.json and binding.gyp (this module runs
 * from src/util under tsx and from dist/src/util after the build, and an installed package sits inside another
 * project, whose own package.json lies further up).
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  const here = dirname(fileURLToPath(import.meta.url));
  let dir = here;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return (root = dir);
    const up = dirname(dir);
    if (up === dir) return (root = join(here, '..', '..'));
    dir = up;
  }
}

/** The package's version (package.json), or '0.0.0' when it cannot be read. */
export function packageVersion(): string {
  try {
    const v = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Every file under `dir` whose name ends with one of `exts`, as sorted paths relative to it. */
function filesUnder(dir: string, exts: string[], prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...filesUnder(join(dir, e.name), exts, rel));
    else if (e.isFile() && exts.some((x) => e.name.endsWith(x))) out.push(rel);
  }
  return out.sort();
}

let identity: string | undefined;

/**
 * The code that computes results, as `VERSION+HASH`: the package version and the first 12 hex digits of a SHA-256 over
 * the TypeScript sources (src/, where the repository has them, else the built dist/src/) and the native kernels'
 * sources (native/src/), file names included. A run that records it can tell, when resumed, that the code changed
 * since (a new version, or an edit in a checkout). Computed once per process (~200 files).
 */
export function codeIdentity(): string {
  if (identity !== undefined) return identity;
  const base = packageRoot();
  const hash = createHash('sha256');
  const src = join(base, 'src');
  const [tsDir, exts] = existsSync(src) ? [src, ['.ts']] : [join(base, 'dist', 'src'), ['.js']];
  for (const [dir, kinds] of [[tsDir, exts], [join(base, 'native', 'src'), ['.cc', '.h', '.inc']]] as const) {
    for (const rel of filesUnder(dir, [...kinds])) {
      hash.update(`${rel}\0`);
      hash.update(readFileSync(join(dir, rel)));
      hash.update('\0');
    }
  }
  return (identity = `${packageVersion()}+${hash.digest('hex').slice(0, 12)}`);
}
