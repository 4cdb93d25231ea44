/**
 * LongBench `classification_score` (trec, lsht). The classes of `allClasses` found in the prediction (case-sensitive
 * substrings) are collected; classes that are a substring of the gold label but not equal to it are then dropped.
 * The official code drops them with `list.remove` while iterating over the same list, so the element after each
 * removed one is never looked at; `'official'` (default) reproduces that, `'corrected'` looks at every element.
 * The score is 1/(number collected) when the gold label is among them, else 0.
 */
import { checkArg } from '../../util/args.js';
import { checkChoice, checkPredictionAndGold } from './choice.js';

export type ClassificationVariant = 'official' | 'corrected';
export const CLASSIFICATION_VARIANTS: readonly ClassificationVariant[] = ['official', 'corrected'];

export function classificationScore(
  prediction: string,
  gold: string,
  allClasses: readonly string[] | null,
  variant: ClassificationVariant = 'official',
): number {
  checkPredictionAndGold('classificationScore', prediction, gold);
  checkChoice('classification variant', variant, CLASSIFICATION_VARIANTS);
  if (!allClasses) throw new Error('classification needs the record\'s all_classes, which is null');
  checkArg('classificationScore', 'allClasses', allClasses, 'strings', 'an array of class names (strings) or null');
  const matched = allClasses.filter((name) => prediction.includes(name));
  const isPartOfGold = (name: string) => gold.includes(name) && name !== gold;
  let kept: string[];
  if (variant === 'corrected') {
    kept = matched.filter((name) => !isPartOfGold(name));
  } else {
    kept = matched.slice();
    // Python's list iterator walks an index; `remove` deletes the first equal element and shifts the rest left.
    for (let index = 0; index < kept.length;) {
      const name = kept[index++]!;
      if (isPartOfGold(name)) kept.splice(kept.indexOf(name), 1);
    }
  }
  return kept.includes(gold) ? 1.0 / kept.length : 0.0;
}
