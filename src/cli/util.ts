/** Small helpers shared by the CLI commands: option parsing with clear errors. */
import { InvalidArgumentError } from 'commander';

export function intOption(name: string, min = 0): (v: string) => number {
  return (v: string) => {
    const n = v.trim() === '' ? NaN : Number(v); // Number('') is 0
    // Safe integers only: 1e300 is an integer to JavaScript, but every step of arithmetic on it rounds.
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min} (at most 2^53 − 1), got "${v}"`);
    return n;
  };
}

export function floatOption(name: string, min = -Infinity, max = Infinity, minExclusive = false): (v: string) => number {
  return (v: string) => {
    const n = v.trim() === '' ? NaN : Number(v);
    if (!Number.isFinite(n) || n < min || (minExclusive && n === min) || n > max) {
      const range = max === Infinity
        ? (min === -Infinity ? 'a finite number' : `a finite number ${minExclusive ? '>' : '≥'} ${min}`)
        : `a number in ${minExclusive ? '(' : '['}${min}, ${max}]`;
      throw new InvalidArgumentError(`${name} must be ${range}, got "${v}"`);
    }
    return n;
  };
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
