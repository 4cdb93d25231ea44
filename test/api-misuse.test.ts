/**
 * Every export of the public API, called with no arguments (`new` for a class), refuses the call with an error that
 * names the function or class, never with a raw JavaScript or Node message ("Cannot read properties of undefined",
 * "x is not iterable", Node's `The "path" argument must be …`, "Invalid typed array length"). A new export that
 * dereferences a missing argument fails here. The exports for which a no-argument call is legitimately valid are
 * listed in NO_ARGS_OK, and must then return normally.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as api from '../src/index.js';
import { skipNative } from './tensor/native-fixtures.js';

/** Messages of errors that come from the runtime, not from the library's own checks. */
const RAW = [
  /Cannot read propert/, /Cannot set propert/, /is not iterable/, /is not a function/, /Cannot convert/, /Invalid typed array length/,
  /Invalid array length/, /Array buffer allocation failed/, /Cannot destructure/, /Cannot use 'in' operator/, /called on non-object/,
  /The "[a-z]+" argument must be/, /Received (type|an instance|undefined|null)/, /Cannot create property/, /is not a constructor/,
];

/** Exports that take no argument or only optional ones (all defaults): a call with none must succeed. */
const NO_ARGS_OK = new Set([
  'getBackend', 'JsBackend', 'NativeBackend', // backend with default options
  'Rng', 'Sampler', 'MemoryTraceRecorder', 'NormAccumulator', // default state
  'FullPolicy', 'fullPolicy', 'H2OScorer', 'L2Scorer', 'TOVAScorer', // policies and scorers without required settings
  'llamaConfig', 'gpt2Config', 'zeroNammParams', // default configurations / parameters
  'listPolicies', 'describePolicies', 'listTasks', 'corpusSplit', // listings
  'adaKvSelect', // the AdaKV selector at its default floor
  'isMetricName', 'taskRecordProblem', // predicates over any value: undefined is simply not a metric name / not a record
]);

/**
 * The name a message may use for an export other than its own (after lower-casing and dropping everything but
 * letters and digits): the policy factories and scorers speak as the policy (`streaming: window must be …`), the
 * CMA-ES helpers as `CMA-ES`, the NAMM scorers as `NAMM`.
 */
const ALIASES: Record<string, string[]> = {
  CmaEs: ['cmaes'], cmaParameters: ['cmaparameters'], RandomScorer: ['random'], SnapKVScorer: ['snapkv'],
  StreamingScorer: ['streaming'], streamingWindowBudget: ['streaming'], BamScorer: ['namm'], MlpScorer: ['namm'],
  symmetricEigenInPlace: ['symmetriceigen'], createNammPolicy: ['nammpolicy'],
  // The builders of budgets and cadences speak as the spec option they build (the spec parser prefixes its name).
  ratioBudget: ['ratio'], tokenBudget: ['tokens'], everyTokens: ['every'],
  // The record checks name the options object (existing messages, matched whole by their tests).
  generateRecord: ['recordoptions'], checkRecordOptions: ['recordoptions'], generateRecords: ['recordsoptions'], iterateRecords: ['recordsoptions'],
  // The parsers name what they parse (their `source` argument, a file name by default) before the message.
  parseCurriculum: ['curriculum'], parseHfConfig: ['configjson'], parseMemoryTrace: ['memorytrace'], parsePolicySpec: ['memorypolicyspec'],
  parseTrainConfig: ['trainingconfig'],
  trainBpe: ['optionsmustbeanobjectvocabsize'], // its options message is matched whole by its test
  checkMetricOptions: ['metricoptions'], validateModelConfig: ['modelconfig'], validateNammParams: ['nammparams'], paramCountFor: ['nammscorer'],
};

const norm = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]/g, '');

function isClass(f: Function): boolean {
  return /^class\b/.test(Function.prototype.toString.call(f));
}

async function callWithNoArgs(f: Function): Promise<{ ok: true } | { ok: false; error: unknown }> {
  try {
    const r: unknown = isClass(f) ? new (f as new () => unknown)() : (f as () => unknown)();
    if (r !== null && typeof r === 'object' && typeof (r as Promise<unknown>).then === 'function') await r;
    return { ok: true };
  } catch (error) {
    return { ok: false, error };
  }
}

const callables = Object.entries(api).filter(([, v]) => typeof v === 'function') as [string, Function][];

test('the API exports callables to check', () => {
  assert.ok(callables.length > 150, `only ${callables.length} callables exported`);
  for (const name of NO_ARGS_OK) assert.equal(typeof (api as Record<string, unknown>)[name], 'function', `${name} is not exported`);
  for (const name of Object.keys(ALIASES)) assert.equal(typeof (api as Record<string, unknown>)[name], 'function', `${name} is not exported`);
});

for (const [name, f] of callables) {
  // Without the addon built (NAMM_SKIP_NATIVE=1), the native backend cannot be made at all.
  const skip = name === 'NativeBackend' ? skipNative : false;
  test(`${name}() with no arguments ${NO_ARGS_OK.has(name) ? 'returns normally' : 'is refused with a message naming it'}`, { skip }, async () => {
    const r = await callWithNoArgs(f);
    if (NO_ARGS_OK.has(name)) {
      assert.ok(r.ok, `${name}() threw: ${r.ok ? '' : String((r.error as Error)?.message ?? r.error)}`);
      return;
    }
    assert.ok(!r.ok, `${name}() returned normally`);
    const message = String((r.error as Error)?.message ?? r.error);
    for (const raw of RAW) assert.doesNotMatch(message, raw, `${name}(): a raw error: ${message}`);
    const names = [norm(name), ...(ALIASES[name] ?? [])];
    assert.ok(names.some((n) => norm(message).includes(n)), `${name}(): the message does not name it: ${message}`);
  });
}
