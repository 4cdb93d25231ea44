/** Checks of metric options: a bad one is refused rather than silently read as the default. */
import { checkArg } from '../../util/args.js';
import { showValue } from '../../util/show.js';

export { showValue };


/** `value` if it is one of `allowed`; a TypeError (not a string) or RangeError (another string) naming `what` otherwise. */
export function checkChoice<T extends string>(what: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  const message = `${what} must be ${allowed.map((a) => JSON.stringify(a)).join(' or ')}, got ${showValue(value)}`;
  throw typeof value === 'string' ? new RangeError(message) : new TypeError(message);
}

/** Refuses an options argument that is not an object (null, an array, a string, …). */
export function checkOptionsObject(what: string, options: unknown): asserts options is Record<string, unknown> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${what} must be an object, got ${showValue(options)}`);
  }
}

/** The arguments of a metric that scores a prediction against one gold answer (a string: not the answers list). */
export function checkPredictionAndGold(fn: string, prediction: unknown, gold: unknown): void {
  checkArg(fn, 'prediction', prediction, 'string');
  checkArg(fn, 'gold', gold, 'string', 'one gold answer (a string)');
}

/** The arguments of a metric that scores a prediction against all the answers (an array of strings: not one string). */
export function checkPredictionAndAnswers(fn: string, prediction: unknown, answers: unknown, name = 'answers'): void {
  checkArg(fn, 'prediction', prediction, 'string');
  checkArg(fn, name, answers, 'strings');
}
