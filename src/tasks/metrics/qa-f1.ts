import { bagF1 } from './bag-f1.js';
import { jiebaCut } from './jieba.js';
import { PY_WORD_CHAR_CLASS, collapseWhitespace, pyLower, pySplit } from './python-string.js';
import { checkArg } from '../../util/args.js';
import { checkPredictionAndGold } from './choice.js';

/** Python's `string.punctuation`: the 32 ASCII punctuation characters. */
export const ASCII_PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/**
 * The CJK punctuation of LongBench's `normalize_zh_answer`, character for character: it has `》` but not `《`,
 * `〈`, `〉`, `·` or U+3000 (the ASCII period at its end is ASCII punctuation anyway).
 */
export const CJK_PUNCTUATION =
  '！？｡。＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､、〃》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟〰〾〿–—‘’‛“”„‟…‧﹏.';

const ASCII_PUNCTUATION_SET = new Set(ASCII_PUNCTUATION);
const ZH_PUNCTUATION_SET = new Set([...ASCII_PUNCTUATION, ...CJK_PUNCTUATION]);

/** `\b(a|an|the)\b` with Python's Unicode word boundaries (so `éa` keeps its `a`). */
const ARTICLES = new RegExp(`(?<!${PY_WORD_CHAR_CLASS})(?:a|an|the)(?!${PY_WORD_CHAR_CLASS})`, 'gu');

function deleteCharacters(text: string, characters: ReadonlySet<string>): string {
  let out = '';
  for (const ch of text) if (!characters.has(ch)) out += ch;
  return out;
}

/**
 * LongBench/SQuAD `normalize_answer`: lower-case, delete ASCII punctuation (no space inserted: `don't` → `dont`,
 * `3.5` → `35`), replace the words a/an/the by a space, collapse whitespace.
 */
export function normalizeAnswer(text: string): string {
  checkArg('normalizeAnswer', 'text', text, 'string');
  const noPunctuation = deleteCharacters(pyLower(text), ASCII_PUNCTUATION_SET);
  return collapseWhitespace(noPunctuation.replace(ARTICLES, ' '));
}

/** LongBench `normalize_zh_answer`: lower-case, delete ASCII and CJK punctuation, delete all whitespace. */
export function normalizeZhAnswer(text: string): string {
  checkArg('normalizeZhAnswer', 'text', text, 'string');
  return pySplit(deleteCharacters(pyLower(text), ZH_PUNCTUATION_SET)).join('');
}

/** LongBench `qa_f1_score`: bag F1 of the whitespace tokens of the normalised texts. */
export function qaF1Score(prediction: string, gold: string): number {
  checkPredictionAndGold('qaF1Score', prediction, gold);
  return bagF1(pySplit(normalizeAnswer(prediction)), pySplit(normalizeAnswer(gold)));
}

/** LongBench `qa_f1_zh_score`: jieba tokens, each normalised, empty ones dropped, then bag F1. */
export function qaF1ZhScore(prediction: string, gold: string): number {
  checkPredictionAndGold('qaF1ZhScore', prediction, gold);
  const tokens = (text: string) => jiebaCut(text).map(normalizeZhAnswer).filter((token) => token.length > 0);
  return bagF1(tokens(prediction), tokens(gold));
}
