/**
 * Chinese word segmentation as Python jieba 0.42.1 does it with `jieba.cut(text, cut_all=False)` (default
 * dictionary, HMM on), which LongBench's Chinese metrics use.
 *
 * It runs on `@node-rs/jieba` (jieba-rs, prebuilt binaries inside the npm packages). jieba-rs carries the same
 * dictionary (the package's dict.txt, `B超 3 n` included) and the same HMM, and differs in two places. Its Chinese
 * blocks take more characters than Python's (see PYTHON_HAN_BLOCK: the text is cut into Python's blocks here). And in the HMM
 * fallback for runs of non-Chinese characters its pattern `[a-zA-Z0-9]+(?:.\d+)?%?` has an unescaped dot, so it
 * yields `UTF-8` and `2018-07` where Python yields `UTF`, `-`, `8`. Python splits such a run with
 * `([a-zA-Z0-9]+(?:\.\d+)?%?)`; we merge the run back and split it that way. With that repair the output equalled
 * Python jieba 0.42.1 on 5,685 texts (1.1M characters of Debian's fortunes-zh) and 4,000 random mixed strings.
 * Left: where two HMM paths tie to ~1e-7 in log-probability, jieba-rs may take the other ("常在美": Python 常/在/美,
 * jieba-rs 常在/美); it was seen once in 12,000 random strings.
 */
import { createRequire } from 'node:module';
import { checkArg } from '../../util/args.js';

interface JiebaSegmenter { cut(text: string, hmm?: boolean): string[] }

let segmenter: JiebaSegmenter | null = null;

function loadSegmenter(): JiebaSegmenter {
  if (segmenter) return segmenter;
  const require = createRequire(import.meta.url);
  let jieba: { Jieba: { withDict(dict: Uint8Array): JiebaSegmenter } };
  let dict: Uint8Array;
  try {
    jieba = require('@node-rs/jieba');
    dict = (require('@node-rs/jieba/dict') as { dict: Uint8Array }).dict;
  } catch (error) {
    throw new Error(`Chinese metrics need the npm package @node-rs/jieba, which failed to load: ${(error as Error).message}`);
  }
  const instance = jieba.Jieba.withDict(dict);
  segmenter = instance;
  return instance;
}

/** Characters that jieba's HMM fallback treats as one non-Chinese run inside a Chinese block. */
const NON_HAN_RUN_TOKEN = /^[a-zA-Z0-9+#&._%-]+$/;
/** Dictionary words made only of those characters: they come from the dictionary, not from the HMM fallback. */
const ASCII_DICTIONARY_WORDS = new Set(['AT&T', 'c#', 'C#', 'c++', 'C++']);
/** Python jieba's `finalseg.re_skip`. */
const PYTHON_NON_HAN_PIECE = /([a-zA-Z0-9]+(?:\.\d+)?%?)/;

/**
 * Python jieba's `re_han_default`: the blocks it segments. Everything between them is yielded a character (a code
 * point) at a time, "\r\n" kept whole (`re_skip_default`). jieba-rs's own class is wider (CJK extension A, U+9FD6–
 * U+9FFF, compatibility and astral ideographs), so it joined such characters into words, and with their neighbours
 * in +#&._%- ("㐀㐁" one token, Python "㐀", "㐁"): the text is cut into Python's blocks here, and only the blocks go
 * to jieba-rs. (The lone UTF-16 surrogates that UTF-8 would turn into U+FFFD never reach it either.)
 */
const PYTHON_HAN_BLOCK = /([\u4E00-\u9FD5a-zA-Z0-9+#&._%-]+)/;

/** `list(jieba.cut(text, cut_all=False))` of Python jieba 0.42.1. */
export function jiebaCut(text: string): string[] {
  checkArg('jiebaCut', 'text', text, 'string');
  const out: string[] = [];
  // split with a capturing group, as Python's re.split: the blocks at odd indices, what lies between at even ones.
  text.split(PYTHON_HAN_BLOCK).forEach((piece, i) => {
    if (piece.length === 0) return;
    if (i % 2 === 1) {
      out.push(...cutWhole(piece));
      return;
    }
    for (const part of piece.split(/(\r\n)/)) {
      if (part === '\r\n') out.push(part);
      else for (const ch of part) out.push(ch);
    }
  });
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
