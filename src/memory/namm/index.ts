/** NAMM: Neural Attention Memory Models (arXiv 2410.13166) as a MemoryPolicy, its parts and its file format. */
import { TAP_PRECISIONS, type MemoryPolicy, type TapPrecision } from '../policy.js';
import { readNammCheckpoint } from './checkpoint.js';
import { NammPolicy, type NammPolicyOptions } from './policy.js';
import { NAMM_SELECTIONS, type NammSelection } from './selection.js';
import { checkArg } from '../../util/args.js';

export { NammPolicy } from './policy.js';
export type { NammPolicyOptions, NammUpdateInfo, NammHeadUpdate } from './policy.js';
export {
  NAMM_PARAM_COUNT, MLP_PARAM_COUNT, FEATURE_DIM, BAM_HIDDEN, BAM_LAYOUT, zeroNammParams, paramCountFor, validateNammParams,
} from './params.js';
export type { NammScorerKind } from './params.js';
export { NormAccumulator, FeatureNormalizer } from './normalize.js';
export type { NormStats } from './normalize.js';
export { selectTokens, NAMM_SELECTIONS, FLT_MAX } from './selection.js';
export type { NammSelection, SelectionOptions } from './selection.js';
export { saveNammCheckpoint, readNammCheckpoint, encodeNammCheckpoint, decodeNammCheckpoint, NAMM_FILE_VERSION } from './checkpoint.js';
export type { NammCheckpoint, NammCheckpointHeader } from './checkpoint.js';
export { BamScorer } from './bam.js';
export { MlpScorer } from './mlp.js';
export { stftMagnitudes, N_FFT, HOP, N_BINS, HANN_WINDOW } from './stft.js';
export { emaFrameWeights, emaOldStateDecay, EMA_COEFF } from './ema.js';
export { recencyEmbedding, RECENCY_DIMS, RECENCY_TABLE_MAX } from './recency.js';
export type { RecencyOverflow } from './recency.js';

/** A NAMM policy from options (see NammPolicyOptions; defaults are the reference's). */
export function createNammPolicy(options: NammPolicyOptions): NammPolicy {
  return new NammPolicy(options);
}

/** Keys accepted after the path in a `namm:PATH,key=value,...` spec. */
export const NAMM_OVERRIDE_KEYS = ['selection', 'update', 'cacheSize', 'calibrate', 'recency', 'taps'] as const;
const ALIASES: Record<string, (typeof NAMM_OVERRIDE_KEYS)[number]> = {
  selection: 'selection', update: 'update', updateEvery: 'update', cacheSize: 'cacheSize', cache: 'cacheSize',
  calibrate: 'calibrate', recency: 'recency', taps: 'taps',
};

/**
 * Loads a `.namm` file as a policy; `overrides` (string values, from a spec string such as
 * `namm:model.namm,selection=per-head,update=512`) replace the file's config: selection
 * (min-over-heads|per-head), update (alias updateEvery; positive multiple of 16), cacheSize (alias cache; positive
 * integer or "none"), calibrate (true|false), recency (error|extend), taps (bf16|fp32: the attention probabilities
 * read; the file says which ones its parameters were evolved on).
 */
export function loadNammPolicy(path: string, overrides: Record<string, string> = {}): MemoryPolicy {
  if (typeof path !== 'string' || path.length === 0) throw new Error('loadNammPolicy needs the path of a .namm file');
  checkArg('loadNammPolicy', 'overrides', overrides, 'object', 'an object of option → value strings ({ update: "512" })');
  const ckpt = readNammCheckpoint(path);
  const opts: NammPolicyOptions = {
    params: ckpt.params,
    normStats: ckpt.normStats,
    updateEvery: ckpt.updateEvery,
    selection: ckpt.selection,
    scorer: ckpt.scorer,
    taps: ckpt.taps,
    ...(ckpt.cacheSize !== undefined ? { cacheSize: ckpt.cacheSize } : {}),
  };
  const named: string[] = [];
  const given = new Map<string, string>();
  for (const [rawKey, rawValue] of Object.entries(overrides)) {
    // Own keys only: "toString" or "constructor" found Object.prototype's and were taken as options (ignored).
    const key = Object.hasOwn(ALIASES, rawKey) ? ALIASES[rawKey] : undefined;
    if (!key) throw new Error(`namm: unknown option "${rawKey}" (valid: ${NAMM_OVERRIDE_KEYS.join(', ')})`);
    // An option under two of its names (update= and updateEvery=) is given twice, as one name twice is.
    const earlier = given.get(key);
    if (earlier !== undefined) throw new Error(`namm: option ${key}= given twice (${earlier}= and ${rawKey}=)`);
    given.set(key, rawKey);
    const value = String(rawValue).trim();
    const bad = (want: string): never => { throw new Error(`namm: option ${rawKey}=${value} is invalid (${want})`); };
    switch (key) {
      case 'selection':
        if (!NAMM_SELECTIONS.includes(value as NammSelection)) bad(`expected ${NAMM_SELECTIONS.join(' or ')}`);
        opts.selection = value as NammSelection;
        break;
      case 'update': {
        const n = /^\d+$/.test(value) ? Number(value) : NaN;
        if (!(n >= 16 && n % 16 === 0)) bad('expected a positive multiple of 16');
        opts.updateEvery = n;
        break;
      }
      case 'cacheSize': {
        if (value === 'none') { delete opts.cacheSize; break; }
        const n = /^\d+$/.test(value) ? Number(value) : NaN;
        if (!(n >= 1 && Number.isSafeInteger(n))) bad('expected a positive integer (at most 2^53 − 1) or "none"');
        opts.cacheSize = n;
        break;
      }
      case 'calibrate':
        if (value !== 'true' && value !== 'false') bad('expected true or false');
        opts.calibrate = value === 'true';
        break;
      case 'recency':
        if (value !== 'error' && value !== 'extend') bad('expected error or extend');
        opts.recency = value as 'error' | 'extend';
        break;
      case 'taps':
        if (!TAP_PRECISIONS.includes(value as TapPrecision)) bad(`expected ${TAP_PRECISIONS.join(' or ')}`);
        opts.taps = value as TapPrecision;
        break;
    }
    named.push(`${key}=${value}`);
  }
  if (ckpt.normStats && opts.updateEvery !== ckpt.updateEvery) warnStatsCadenceOnce(path, ckpt.updateEvery, opts.updateEvery!);
  return new NammPolicy({ ...opts, name: ['namm:' + path, ...named].join(',') });
}

const warnedStatsCadence = new Set<string>();

/**
 * A file's statistics belong to its update cadence: the EMA sums as many spectrogram frames as a window has (bin 0's
 * spread was 1.7× larger at 64 tokens than at 512 on the same attention), so under another cadence the features are
 * normalised by statistics of another scale. Said once per file and cadence.
 */
function warnStatsCadenceOnce(path: string, fileUpdate: number, update: number): void {
  const key = `${path}\0${update}`;
  if (warnedStatsCadence.has(key)) return;
  warnedStatsCadence.add(key);
  process.emitWarning(`namm: ${path} holds normalisation statistics collected with update=${fileUpdate}; with update=${update} they normalise features of another scale, so its scores are not those it was evolved and calibrated for; statistics for it: namm calibrate --namm ${path} --update ${update} --out FILE`, { code: 'NAMM_STATS_CADENCE' });
}
