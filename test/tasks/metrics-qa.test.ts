import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeAnswer, normalizeZhAnswer, qaF1Score, qaF1ZhScore } from '../../src/tasks/metrics/qa-f1.js';
import { bagF1 } from '../../src/tasks/metrics/bag-f1.js';
import { jiebaCut } from '../../src/tasks/metrics/jieba.js';
import { scoreByMetric } from '../../src/tasks/metrics/index.js';

// Expected values were checked against LongBench's metrics.py run with CPython 3.11 and jieba 0.42.1.

test('normalizeAnswer: lower, ASCII punctuation deleted without a space, articles, Python whitespace', () => {
  assert.equal(normalizeAnswer("Don't stop at 3.5!"), 'dont stop at 35');
  assert.equal(normalizeAnswer('an apple'), 'apple');
  assert.equal(normalizeAnswer('ana'), 'ana');
  assert.equal(normalizeAnswer('a-b'), 'ab'); // punctuation goes first, so "a-b" is one word "ab"
  assert.equal(normalizeAnswer('“hi”'), '“hi”'); // non-ASCII punctuation stays
  // Unicode \b: é is a word character, so the "a" of "éa" is not an article; "the" after a space is.
  assert.equal(normalizeAnswer('éa the b'), 'éa b');
  assert.equal(normalizeAnswer('１a'), '１a');
  assert.equal(normalizeAnswer('İ'), 'i\u0307');
  assert.equal(normalizeAnswer('ß'), 'ß');
  assert.equal(normalizeAnswer('x\u00a0y'), 'x y');
  assert.equal(normalizeAnswer('x\u001cy'), 'x y');
  assert.equal(normalizeAnswer('x\u0085y'), 'x y');
  assert.equal(normalizeAnswer('x\u3000y'), 'x y');
  assert.equal(normalizeAnswer('x\ufeffy'), 'x\ufeffy');
  assert.equal(normalizeAnswer('x\u200by'), 'x\u200by');
});

test('bagF1 counts shared tokens as a multiset; no overlap is 0 even for two empty bags', () => {
  // pred [paris, france, paris], gold [paris]: shared 1, P = 1/3, R = 1, F = 2·(1/3)·1 / (4/3) = 0.5
  assert.equal(bagF1(['paris', 'france', 'paris'], ['paris']), 0.5);
  // shared min(2,1) + min(1,1) = 2 of pred 3 / gold 3 → 2/3
  assert.equal(bagF1(['a', 'a', 'b'], ['a', 'b', 'c']), (2 * (2 / 3) * (2 / 3)) / (4 / 3));
  assert.equal(bagF1([], []), 0);
});

test('qaF1Score', () => {
  assert.equal(qaF1Score('The cat sat.', 'a cat sat'), 1.0);
  assert.equal(qaF1Score('Paris France Paris', 'Paris'), 0.5);
  assert.equal(qaF1Score('the', 'a'), 0); // both normalise to "" → 0, not 1
  assert.equal(qaF1Score('', ''), 0);
});

test('jiebaCut equals Python jieba 0.42.1 cut(cut_all=False), including the non-Chinese repair', () => {
  // jieba's README: 我/ 来到/ 北京/ 清华大学 and 他, 来到, 了, 网易, 杭研, 大厦 ("杭研" found by the HMM).
  assert.deepEqual(jiebaCut('我来到北京清华大学'), ['我', '来到', '北京', '清华大学']);
  assert.deepEqual(jiebaCut('他来到了网易杭研大厦'), ['他', '来到', '了', '网易', '杭研', '大厦']);
  assert.deepEqual(jiebaCut('小明硕士毕业于中国科学院计算所，后在日本京都大学深造'),
    ['小明', '硕士', '毕业', '于', '中国科学院', '计算所', '，', '后', '在', '日本京都大学', '深造']);
  // A dictionary word with a Latin letter ("B超 3 n" in both dictionaries).
  assert.deepEqual(jiebaCut('他去做B超检查'), ['他', '去', '做', 'B超', '检查']);
  // jieba-rs alone gives "UTF-8", "2018-07", "Adobe-3", "."; Python gives these:
  assert.deepEqual(jiebaCut('UTF-8编码'), ['UTF', '-', '8', '编码']);
  assert.deepEqual(jiebaCut('2018-07-01发布'), ['2018', '-', '07', '-', '01', '发布']);
  assert.deepEqual(jiebaCut('Adobe-3.0版本'), ['Adobe', '-', '3.0', '版本']);
  assert.deepEqual(jiebaCut('C++和AT&T的50%3份'), ['C++', '和', 'AT&T', '的', '50%', '3', '份']);
  assert.deepEqual(jiebaCut('我爱自然语言处理 NLP\r\n测试\t好'), ['我', '爱', '自然语言', '处理', ' ', 'NLP', '\r\n', '测试', '\t', '好']);
  // A lone UTF-16 surrogate is a token of its own in Python (jieba 0.42.1 prints ['a', '\ud800', 'b']); through the
  // segmenter's UTF-8 it became U+FFFD, so two different ones matched (qa_f1_zh 1 and rouge_zh 1 where both are 0).
  assert.deepEqual(jiebaCut('a\ud800b'), ['a', '\ud800', 'b']);
  assert.deepEqual(jiebaCut('\udc00北京\ud800\ud800清华大学 🙂\ud83d'), ['\udc00', '北京', '\ud800', '\ud800', '清华大学', ' ', '🙂', '\ud83d']);
  assert.equal(qaF1ZhScore('\ud800', '\udc00'), 0);
  assert.equal(scoreByMetric('rouge_zh', '\ud800', ['\udc00']), 0);
  // Ideographs outside Python's U+4E00–U+9FD5 (extension A, U+9FD6–U+9FFF, compatibility, astral) end a block there
  // and are tokens of their own (jieba 0.42.1's outputs); jieba-rs's wider class joined them ("㐀㐁", "𠀀%").
  assert.deepEqual(jiebaCut('我们㐀㐁是'), ['我们', '㐀', '㐁', '是']);
  assert.deepEqual(jiebaCut('他的名字是刘䶮䶮'), ['他', '的', '名字', '是', '刘', '䶮', '䶮']);
  assert.deepEqual(jiebaCut('答案是𠀀𠀁'), ['答案', '是', '𠀀', '𠀁']);
  assert.deepEqual(jiebaCut('活𠀀%好'), ['活', '𠀀', '%', '好']);
  assert.deepEqual(jiebaCut('鿿豈.x'), ['鿿', '豈', '.', 'x']);
  assert.deepEqual(jiebaCut('a\r\r\n\nb'), ['a', '\r', '\r\n', '\n', 'b']);
  // LongBench's qa_f1_zh on them: [我们, 㐀, 㐁, 是] vs [㐀]: P = 1/4, R = 1 → F = 0.4 (it was 0).
  assert.equal(qaF1ZhScore('我们㐀㐁是', '㐀'), 0.4);
});

test('normalizeZhAnswer: the CJK list has 》 but not 《 〈 〉 · or U+3000 (which is removed as whitespace)', () => {
  assert.deepEqual(['《', '》', '〈a〉', '·', '\u3000', 'ＡＢ', 'A B'].map(normalizeZhAnswer), ['《', '', '〈a〉', '·', '', 'ａｂ', 'ab']);
});

test('qaF1ZhScore', () => {
  // [我, 来到, 北京, 清华大学] vs [北京, 清华大学]: P = 2/4, R = 1 → F = 2/3
  assert.equal(qaF1ZhScore('我来到北京清华大学', '北京清华大学'), 2 / 3);
  // [《, 红楼梦, 的, 作者, 是, 曹雪芹] (》 and 。 dropped, 《 kept) vs [曹雪芹]: P = 1/6, R = 1 → F = 2/7
  assert.equal(qaF1ZhScore('《红楼梦》的作者是曹雪芹。', '曹雪芹'), 0.2857142857142857);
});
