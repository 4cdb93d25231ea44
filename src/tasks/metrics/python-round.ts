import { checkArg } from '../../util/args.js';
/**
 * Python's `round(x, ndigits)` for floats: the exact binary value of `x` is rounded to `ndigits` decimals with ties
 * going to the even digit, and the decimal result is read back as the nearest double. So `round(2.675, 2)` is 2.67
 * (2.675 is stored as 2.67499999...), `round(0.125, 2)` is 0.12 and `round(2.5)` is 2. `Math.round` and `toFixed`
 * round ties up (or work on an already rounded decimal), so scores would drift from published ones.
 */
export function pythonRound(x: number, ndigits = 0): number {
  checkArg('pythonRound', 'x', x, 'number');
  if (!Number.isInteger(ndigits)) throw new RangeError(`pythonRound: ndigits must be an integer, got ${ndigits}`);
  if (!Number.isFinite(x) || x === 0) return x;
  // CPython's float.__round__ limits: past 323 digits every double is already exact, below −308 every one rounds to
  // a zero of its sign (and the exact arithmetic below would build numbers of a billion digits for ndigits = 1e9).
  if (ndigits > 323) return x;
  if (ndigits < -308) return x < 0 ? -0 : 0;
  const { mantissa, exponent } = exactBinary(Math.abs(x));
  // |x| * 10^ndigits = numerator / denominator exactly.
  let numerator = mantissa;
  let denominator = 1n;
  if (exponent >= 0) numerator <<= BigInt(exponent);
  else denominator <<= BigInt(-exponent);
  if (ndigits >= 0) numerator *= 10n ** BigInt(ndigits);
  else denominator *= 10n ** BigInt(-ndigits);
  let quotient = numerator / denominator;
  const twiceRemainder = 2n * (numerator % denominator);
  if (twiceRemainder > denominator || (twiceRemainder === denominator && quotient % 2n === 1n)) quotient += 1n;
  // JavaScript's decimal-string parsing is correctly rounded, as Python's is.
  return Number(`${x < 0 ? '-' : ''}${quotient}e${-ndigits}`);
}

/** A positive finite double as mantissa · 2^exponent, both exact. */
function exactBinary(x: number): { mantissa: bigint; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biasedExponent = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  if (biasedExponent === 0) return { mantissa: fraction, exponent: -1074 };
  return { mantissa: fraction | (1n << 52n), exponent: biasedExponent - 1075 };
}
