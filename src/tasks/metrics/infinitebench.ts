import { checkChoice, checkPredictionAndAnswers } from './choice.js';
import { pySplit } from './python-string.js';
import { checkArg } from '../../util/args.js';

/** InfiniteBench `first_int_match`: the first run of ASCII digits (`re.split("[^0-9]", text)`), or `""`. */
export function firstInteger(text: string): string {
  checkArg('firstInteger', 'text', text, 'string');
  return /[0-9]+/.exec(text)?.[0] ?? '';
}

function firstAnswer(answers: readonly string[], metric: string): string {
  if (answers.length === 0) throw new Error(`${metric}: the record has no answer`);
  return answers[0]!;
}

/** InfiniteBench passkey / number_string: 1 when the first integer of the output equals the (first) answer string. */
export function passkeyScore(prediction: string, answers: readonly string[]): number {
  checkPredictionAndAnswers('passkeyScore', prediction, answers);
  return firstInteger(prediction) === firstAnswer(answers, 'passkey') ? 1.0 : 0.0;
}

/**
 * How kv_retrieval decides a match: `'contains'` (default: the spec's "exact containment", `label in pred`, as some
 * copies of InfiniteBench's scorer have it) or `'words'` (OpenBMB/InfiniteBench's compute_scores.py: the output's
 * \n : " ' . , ? ! { } become spaces and the answer must be one of the words).
 */
export type KvRetrievalMatch = 'contains' | 'words';
export const KV_RETRIEVAL_MATCHES: readonly KvRetrievalMatch[] = ['contains', 'words'];

/** InfiniteBench kv_retrieval: is the (first) answer in the output. */
export function kvRetrievalScore(prediction: string, answers: readonly string[], match: KvRetrievalMatch = 'contains'): number {
  checkPredictionAndAnswers('kvRetrievalScore', prediction, answers);
  checkChoice('kv_retrieval match', match, KV_RETRIEVAL_MATCHES);
  const answer = firstAnswer(answers, 'kv_retrieval');
  if (match === 'contains') return prediction.includes(answer) ? 1.0 : 0.0;
  return pySplit(prediction.replace(/[\n:"'.,?!{}]/g, ' ')).includes(answer) ? 1.0 : 0.0;
}
