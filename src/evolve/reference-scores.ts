/**
 * Full-cache reference scores for fitness normalisation, computed once per prompt and kept on disk in the run
 * directory (the reference ships them precomputed: `lb_reference_scores/per_request/*.json`). An entry is keyed by
 * the model's identity, the record (id and content) and the generation settings, so a changed model, prompt or
 * budget never reuses a stale score. The file is rewritten atomically, so a kill leaves the old or the new one.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { likelihoodAnswers, type RunRecordOptions } from '../eval/runner.js';
import { recordContent, type TaskRecord } from '../tasks/record.js';
import { writeFileAtomic } from './checkpoint.js';
import { stableJson } from './curriculum.js';
import { checkArg } from '../util/args.js';

export { modelFingerprint } from '../models/fingerprint.js';

export const REFERENCE_SCORES_FILE = 'reference-scores.json';

export interface ReferenceEntry {
  id: string;
  dataset: string;
  score: number;
  prediction: string;
  meanFraction: number;
}

interface ReferenceFile {
  format: 'namm-reference-scores';
  version: 1;
  model: string;
  entries: Record<string, ReferenceEntry>;
}


/** The generation settings that change a score (everything else in RunRecordOptions is the same for all runs). */
export function referenceSettings(o: RunRecordOptions): Record<string, unknown> {
  checkArg('referenceSettings', 'o', o, 'object', 'run options (RunRecordOptions)');
  return {
    maxPromptTokens: o.maxPromptTokens ?? null, maxNewTokens: o.maxNewTokens ?? null, queryAware: o.queryAware ?? false,
    chunkSize: o.chunkSize ?? null, metricOptions: o.metricOptions ?? {}, longbenchConfig: o.longbenchConfig ?? null,
    // Only when not the default, so the keys of task-score runs stay what they were.
    ...(o.score && o.score !== 'task' ? { score: o.score } : {}),
    ...(o.contextWindow !== undefined ? { contextWindow: o.contextWindow } : {}),
    ...(o.chatTemplate ? { chatTemplate: true } : {}),
  };
}

/** The cache key of one record's full-cache score. */
export function referenceKey(model: string, record: TaskRecord, settings: Record<string, unknown>): string {
  checkArg('referenceKey', 'model', model, 'string', 'a model fingerprint (a string)');
  checkArg('referenceKey', 'record', record, 'object', 'a task record');
  checkArg('referenceKey', 'settings', settings, 'object', 'settings (referenceSettings(options))');
  // A record with alternative answers is scored by likelihood as the best of them since they stopped being joined
  // into one target (likelihoodAnswers): its cached score from before is another quantity. Other keys are unchanged.
  const each = settings.score === 'likelihood' && likelihoodAnswers(record).length > 1 ? { likelihoodOf: 'each answer' } : {};
  return createHash('sha256').update(stableJson({ model, record: recordContent(record), settings, ...each })).digest('hex').slice(0, 40);
}

export class ReferenceScoreCache {
  private dirty = false;

  private constructor(readonly path: string, readonly model: string, private readonly entries: Map<string, ReferenceEntry>) {
    checkArg('ReferenceScoreCache', 'path', path, 'path');
  }

  /** Opens (or starts) the cache file; entries of another model in an existing file are an error. */
  static async open(path: string, model: string): Promise<ReferenceScoreCache> {
    let text: string | null = null;
    try {
      text = await fs.readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read reference scores ${path}: ${(err as Error).message}`);
    }
    if (text === null) return new ReferenceScoreCache(path, model, new Map());
    let file: ReferenceFile;
    try {
      file = JSON.parse(text) as ReferenceFile;
    } catch (err) {
      throw new Error(`${path}: not valid JSON (${(err as Error).message}); delete it to recompute the reference scores`);
    }
    if (file?.format !== 'namm-reference-scores' || file.version !== 1 || typeof file.entries !== 'object' || file.entries === null) {
      throw new Error(`${path}: not a namm reference-score file`);
    }
    if (file.model !== model) {
      throw new Error(`${path}: reference scores of another model (${file.model}, this one is ${model}); use a new run directory`);
    }
    for (const [key, e] of Object.entries(file.entries)) {
      if (!(typeof e?.score === 'number' && e.score >= 0 && e.score <= 1)) throw new Error(`${path}: entry ${key} has no valid score`);
    }
    return new ReferenceScoreCache(path, model, new Map(Object.entries(file.entries)));
  }

  get size(): number { return this.entries.size; }

  get(key: string): ReferenceEntry | undefined { return this.entries.get(key); }

  set(key: string, entry: ReferenceEntry): void {
    this.entries.set(key, entry);
    this.dirty = true;
  }

  /** Writes the file atomically if anything changed since the last flush. */
  async flush(): Promise<void> {
    if (!this.dirty) return;
    const file: ReferenceFile = { format: 'namm-reference-scores', version: 1, model: this.model, entries: Object.fromEntries(this.entries) };
    await writeFileAtomic(this.path, JSON.stringify(file));
    this.dirty = false;
  }
}
