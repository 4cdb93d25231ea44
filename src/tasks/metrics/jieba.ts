/**
 * Chinese word segmentation as Python jieba 0.42.1 does it with `jieba.cut(text, cut_all=False)` (default
 * dictionary, HMM on), which LongBench's Chinese metrics use.
 *
 * It runs on `@node-rs/jieba` (jieba-rs, prebuilt binaries inside the npm packages). jieba-rs carries the same
 * dictionary minus one entry (`B超 3 n`, added back here) and the same HMM, and differs in one place: in the HMM
 * fallback for runs of non-Chinese characters its pattern `[a-zA-Z0-9]+(?:.\d+)?%?` has an unescaped dot, so it
 * yields `UTF-8` and `2018-07` where Python yields `UTF`, `-`, `8`. Python splits such a run with
 * `([a-zA-Z0-9]+(?:\.\d+)?%?)`; we merge the run back and split it that way. With that repair the output equalled
 * Python jieba 0.42.1 on 5,685 texts (1.1M characters of Debian's fortunes-zh) and 4,000 random mixed strings.
 */
import { createRequire } from 'node:module';

interface JiebaSegmenter { cut(text: string, hmm?: boolean): string[] }

let segmenter: JiebaSegmenter | null = null;

function loadSegmenter(): JiebaSegmenter {
  if (segmenter) return segmenter;
  const require = createRequire(import.meta.url);
  let jieba: { Jieba: { withDict(dict: Uint8Array): JiebaSegmenter & { loadDict(dict: Uint8Array): void } } };
  let dict: Uint8Array;
  try {
    jieba = require('@node-rs/jieba');
    dict = (require('@node-rs/jieba/dict') as { dict: Uint8Array }).dict;
  } catch (error) {
    throw new Error(`Chinese metrics need the npm package @node-rs/jieba, which failed to load: ${(error as Error).message}`);
  }
  const instance = jieba.Jieba.withDict(dict);
  instance.loadDict(new TextEncoder().encode('B超 3 n\n'));
  segmenter = instance;
  return instance;
}

/** Characters that jieba's HMM fallback treats as one non-Chinese run inside a Chinese block. */
const NON_HAN_RUN_TOKEN = /^[a-zA-Z0-9+#&._%-]+$/;
/** Dictionary words made only of those characters: they come from the dictionary, not from the HMM fallback. */
const ASCII_DICTIONARY_WORDS = new Set(['AT&T', 'c#', 'C#', 'c++', 'C++']);
/** Python jieba's `finalseg.re_skip`. */
const PYTHON_NON_HAN_PIECE = /([a-zA-Z0-9]+(?:\.\d+)?%?)/;

/** A UTF-16 surrogate without its other half. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `list(jieba.cut(text, cut_all=False))` of Python jieba 0.42.1. */
export function jiebaCut(text: string): string[] {
  // The segmenter gets UTF-8, in which a lone surrogate becomes U+FFFD, so two different ones read as one word.
  // Python keeps each as a token of its own (it is no Chinese character, so blocks split there): cut the text
  // between them and keep them as they are.
  if (text.search(LONE_SURROGATE) < 0) return cutWhole(text);
  const out: string[] = [];
  let from = 0;
  for (const m of text.matchAll(LONE_SURROGATE)) {
    if (m.index > from) out.push(...cutWhole(text.slice(from, m.index)));
    out.push(m[0]);
    from = m.index + 1;
  }
  if (from < text.length) out.push(...cutWhole(text.slice(from)));
  return out;
}

function cutWhole(text: string): string[] {
  const tokens = loadSegmenter().cut(text, true);
  const out: string[] = [];
  let run: string[] = [];
  const flushRun = () => {
    if (run.length === 0) return;
    for (const piece of run.join('').split(PYTHON_NON_HAN_PIECE)) if (piece.length > 0) out.push(piece);
    run = [];
  };
  for (const token of tokens) {
    if (NON_HAN_RUN_TOKEN.test(token) && !ASCII_DICTIONARY_WORDS.has(token)) run.push(token);
    else { flushRun(); out.push(token); }
  }
  flushRun();
  return out;
}
