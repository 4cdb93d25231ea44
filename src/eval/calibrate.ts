/**
 * NAMM calibration: the reference freezes its feature-normalisation statistics after evaluating the all-zero
 * (evict-nothing) policy once on the first stage's prompts. This runs a calibrating NAMM (which scores nothing and
 * keeps every token) over task records and returns the pooled per-bin statistics.
 */
import { checkModel, type Model } from '../models/model.js';
import { createNammPolicy } from '../memory/namm/index.js';
import type { NormStats } from '../memory/namm/index.js';
import type { NammScorerKind } from '../memory/namm/params.js';
import type { TapPrecision } from '../memory/policy.js';
import type { TaskRecord } from '../tasks/record.js';
import { feedRecord, recordPrompt, RUN_RECORD_OPTION_KEYS, type RunRecordOptions } from './runner.js';
import { argError, checkArg, checkArgOptions } from '../util/args.js';

export interface CalibrateOptions extends RunRecordOptions {
  updateEvery?: number;
  scorer?: NammScorerKind;
  /** The attention probabilities to calibrate on (NammPolicyOptions.taps; default 'bf16'). */
  taps?: TapPrecision;
  onProgress?: (done: number, total: number) => void;
  /** After each record: whether its sequence reached an update (a shorter one adds nothing to the statistics). */
  onRecord?: (index: number, updated: boolean) => void;
}

export async function calibrateNamm(model: Model, records: readonly TaskRecord[], params: Float32Array, options: CalibrateOptions = {}): Promise<NormStats> {
  checkModel('calibrateNamm', model);
  checkArg('calibrateNamm', 'records', records, 'array', 'an array of task records');
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw argError('calibrateNamm', 'options', 'an object', options);
  // Its own keys and runRecord's (an unknown one was reported as runRecord's, with runRecord's list).
  checkArgOptions('calibrateNamm', options, [...RUN_RECORD_OPTION_KEYS, 'updateEvery', 'scorer', 'taps', 'onProgress', 'onRecord']);
  for (const cb of ['onProgress', 'onRecord'] as const) {
    if (options[cb] !== undefined && typeof options[cb] !== 'function') throw argError('calibrateNamm', cb, 'a function', options[cb]);
  }
  if (records.length === 0) throw new Error('calibration needs at least one record');
  // The run options alone go on to feedRecord (runRecord without the score, which refuses keys it does not know).
  const { updateEvery: _updateEvery, scorer: _scorer, taps: _taps, onProgress: _onProgress, onRecord: _onRecord, ...run } = options;
  const policy = createNammPolicy({ params, calibrate: true, updateEvery: options.updateEvery, scorer: options.scorer, taps: options.taps });
  // Before any forward: when no record's sequence can reach the cadence, no update can happen, and the whole pass ran
  // for nothing before saying so. A sequence is its prompt (as cut to the budget) and the new tokens but the last,
  // which is sampled and never fed. The first record long enough ends the look (usually the first: records are not
  // tokenized twice over).
  const every = options.updateEvery ?? 512;
  const budget = 'a larger prompt budget (calibrate\'s --max-prompt-tokens / --context-window, a curriculum\'s run.maxPromptTokens / run.contextWindow; a RoPE model may run past its context)';
  let longest = 0, longestPrompt = 0;
  for (const record of records) {
    const p = recordPrompt(model, record, run);
    const prompt = p.ctxIds.length + p.qIds.length;
    longestPrompt = Math.max(longestPrompt, prompt);
    longest = Math.max(longest, prompt + Math.max(0, p.maxNew - 1));
    if (longest >= every) break;
  }
  if (longest < every) {
    throw new Error(`no NAMM update can happen: the longest record runs to ${longest} tokens fed (its prompt, cut to its budget, and the new tokens but the last, which is never fed), short of the update cadence (${every} tokens); calibrate on longer records, or give ${budget}`);
  }
  let done = 0, updates = 0;
  for (const record of records) {
    await feedRecord(model, record, policy, run);
    const now = policy.timings.updates;
    options.onRecord?.(done, now > updates);
    updates = now;
    options.onProgress?.(++done, records.length);
  }
  const stats = policy.calibrationStats();
  if (!stats) {
    // Only generation could have reached the cadence, and every answer stopped (at its end-of-sequence token) before.
    throw new Error(`no NAMM update happened: no record's sequence reached the update cadence (${every} tokens); the longest prompt, cut to its budget, has ${longestPrompt} tokens and the answers ended before the rest; calibrate on longer records, or give ${budget}`);
  }
  return stats;
}
