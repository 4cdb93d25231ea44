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
import { recordPrompt, runRecord, type RunRecordOptions } from './runner.js';
import { argError, checkArg } from '../util/args.js';

export interface CalibrateOptions extends RunRecordOptions {
  updateEvery?: number;
  scorer?: NammScorerKind;
  /** The attention probabilities to calibrate on (NammPolicyOptions.taps; default 'bf16'). */
  taps?: TapPrecision;
  onProgress?: (done: number, total: number) => void;
}

export async function calibrateNamm(model: Model, records: readonly TaskRecord[], params: Float32Array, options: CalibrateOptions = {}): Promise<NormStats> {
  checkModel('calibrateNamm', model);
  checkArg('calibrateNamm', 'records', records, 'array', 'an array of task records');
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw argError('calibrateNamm', 'options', 'an object', options);
  if (records.length === 0) throw new Error('calibration needs at least one record');
  // The run options alone go on to runRecord (which refuses keys it does not know).
  const { updateEvery: _updateEvery, scorer: _scorer, taps: _taps, onProgress: _onProgress, ...run } = options;
  const policy = createNammPolicy({ params, calibrate: true, updateEvery: options.updateEvery, scorer: options.scorer, taps: options.taps });
  // Before any forward: when no record's sequence (its prompt, as cut to the budget, and every new token) reaches
  // the cadence, no update can happen, and the whole pass ran for nothing before saying so. The first record long
  // enough ends the look (usually the first: records are not tokenized twice over).
  const every = options.updateEvery ?? 512;
  let longest = 0;
  for (const record of records) {
    const p = recordPrompt(model, record, run);
    longest = Math.max(longest, p.ctxIds.length + p.qIds.length + p.maxNew);
    if (longest >= every) break;
  }
  if (longest < every) {
    throw new Error(`no NAMM update can happen: the longest record runs to ${longest} tokens (prompt and new tokens, the prompt cut to its budget), short of the update cadence (${every} tokens); calibrate on longer records, or give a larger prompt budget (calibrate's --max-prompt-tokens / --context-window, a curriculum's run.maxPromptTokens / run.contextWindow; a RoPE model may run past its context)`);
  }
  let done = 0;
  for (const record of records) {
    await runRecord(model, record, policy, run);
    options.onProgress?.(++done, records.length);
  }
  const stats = policy.calibrationStats();
  if (!stats) {
    throw new Error(`no NAMM update happened: every prompt is shorter than the update cadence (${options.updateEvery ?? 512} tokens); calibrate on longer records`);
  }
  return stats;
}
