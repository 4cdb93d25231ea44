import { checkPredictionAndAnswers } from './choice.js';
import { pyLower } from './python-string.js';

function requireReferences(references: readonly string[], metric: string): void {
  if (references.length === 0) throw new Error(`${metric}: the record has no reference answers`);
}

/** RULER `string_match_all` for one sample: the share of references contained in the prediction, case-insensitive. */
export function stringMatchAll(prediction: string, references: readonly string[]): number {
  checkPredictionAndAnswers('stringMatchAll', prediction, references, 'references');
  requireReferences(references, 'string_match_all');
  const text = pyLower(prediction);
  let found = 0;
  for (const reference of references) if (text.includes(pyLower(reference))) found += 1.0;
  return found / references.length;
}

/** RULER `string_match_part` for one sample: 1 when any reference is contained, case-insensitive. */
export function stringMatchPart(prediction: string, references: readonly string[]): number {
  checkPredictionAndAnswers('stringMatchPart', prediction, references, 'references');
  requireReferences(references, 'string_match_part');
  const text = pyLower(prediction);
  return references.some((reference) => text.includes(pyLower(reference))) ? 1.0 : 0.0;
}
