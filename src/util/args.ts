/**
 * Argument checks for the exported API: a wrong argument is refused with a message naming the function, the
 * argument, what it must be and what was given (`perplexity: ids must be a list of token ids, got undefined`),
 * rather than failing later in a raw TypeError ("Cannot read properties of undefined") or giving a wrong result.
 */
import { checkOptionKeys, showValue } from './show.js';

/** What each kind of argument is, for the type a passed check asserts. */
interface ArgTypes {
  string: string;
  text: string;
  path: string;
  object: Record<string, unknown>;
  array: unknown[];
  strings: string[];
  numbers: number[];
  ids: readonly number[];
  function: (...args: never[]) => unknown;
  boolean: boolean;
  number: number;
  finite: number;
  integer: number;
  count: number;
  positive: number;
  Float32Array: Float32Array;
  Uint8Array: Uint8Array;
  Map: Map<unknown, unknown>;
  tokenizer: { encode: (...args: never[]) => unknown; decode: (...args: never[]) => unknown };
}

const isObject = (v: unknown): boolean => v !== null && typeof v === 'object' && !Array.isArray(v);
const isList = (v: unknown): v is ArrayLike<unknown> => Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));

const KINDS: { [K in keyof ArgTypes]: readonly [test: (v: unknown) => boolean, what: string] } = {
  string: [(v) => typeof v === 'string', 'a string'],
  text: [(v) => typeof v === 'string' && v !== '', 'a non-empty string'],
  path: [(v) => typeof v === 'string' && v.trim() !== '', 'a file path (a non-empty string)'],
  object: [isObject, 'an object'],
  array: [Array.isArray, 'an array'],
  strings: [(v) => Array.isArray(v) && v.every((s) => typeof s === 'string'), 'an array of strings'],
  numbers: [(v) => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x)), 'an array of finite numbers'],
  ids: [(v) => isList(v) && Array.prototype.every.call(v, (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0), 'a list of token ids (integers ≥ 0)'],
  function: [(v) => typeof v === 'function', 'a function'],
  boolean: [(v) => typeof v === 'boolean', 'true or false'],
  number: [(v) => typeof v === 'number', 'a number'],
  finite: [(v) => typeof v === 'number' && Number.isFinite(v), 'a finite number'],
  integer: [(v) => Number.isSafeInteger(v), 'an integer'],
  count: [(v) => Number.isSafeInteger(v) && (v as number) >= 0, 'an integer ≥ 0'],
  positive: [(v) => Number.isSafeInteger(v) && (v as number) >= 1, 'an integer ≥ 1'],
  Float32Array: [(v) => v instanceof Float32Array, 'a Float32Array'],
  Uint8Array: [(v) => v instanceof Uint8Array, 'a Uint8Array'],
  Map: [(v) => v instanceof Map, 'a Map'],
  tokenizer: [(v) => typeof (v as { encode?: unknown } | null)?.encode === 'function' && typeof (v as { decode?: unknown }).decode === 'function', 'a tokenizer (an object with encode and decode)'],
};

/** The error for argument `name` of `fn` that is not `what` (a TypeError: `fn: name must be what, got value`). */
export function argError(fn: string, name: string, what: string, value: unknown): TypeError {
  return new TypeError(`${fn}: ${name} must be ${what}, got ${showValue(value)}`);
}

/** Refuses a `progress` option that is none of true, false, undefined or a writable stream (an object with write). */
export function checkProgressOption(fn: string, value: unknown): void {
  if (value === undefined || typeof value === 'boolean') return;
  if (value === null || typeof value !== 'object' || typeof (value as { write?: unknown }).write !== 'function') {
    throw argError(fn, 'progress', 'true, false or a writable stream', value);
  }
}

/** Refuses argument `name` of `fn` unless it is of `kind` (see KINDS); `what` replaces the kind's description. */
export function checkArg<K extends keyof ArgTypes>(fn: string, name: string, value: unknown, kind: K, what?: string): asserts value is ArgTypes[K] {
  const [test, described] = KINDS[kind];
  if (!test(value)) throw argError(fn, name, what ?? described, value);
}

/**
 * The options argument of `fn`: undefined is no options ({}); anything else must be an object whose keys `known`
 * lists (a misspelt key was ignored and its default used without a word).
 */
export function checkArgOptions<T extends object>(fn: string, options: T | undefined, known: readonly string[], name = 'options'): T {
  if (options === undefined) return {} as T;
  if (!isObject(options)) throw argError(fn, name, `an object (${known.join(', ')})`, options);
  checkOptionKeys(options, known, fn);
  return options;
}
