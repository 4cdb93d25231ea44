import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/rng.js';
import {
  brownUnits, detokenizeBrown, englishUnits, japaneseFiller, japaneseUnits, renderHaystack, resolveHaystack,
} from '../../src/tasks/haystack.js';
import { commonEnglishWords, englishAdjectives, englishNouns } from '../../src/tasks/wordlists.js';
import { uuid, codedWords, depthGrid } from '../../src/tasks/generate/values.js';
import { formatJsonObject } from '../../src/tasks/generate/kv-retrieval.js';
import { zipfCount, FWE_MIN_SIZE } from '../../src/tasks/generate/fwe.js';
import { tempDir } from '../helpers/temp.js';

test('Brown Corpus lines lose their /tags and get ordinary spacing and quotes', () => {
  const line = "\tThe/at jury/nn said/vbd ``/`` it/pps was/bedz Atlanta's/np$ best/jjt ''/'' ,/, and/cc left/vbd (/( 1961/cd )/) ./.";
  assert.equal(detokenizeBrown(line), 'The jury said "it was Atlanta\'s best", and left (1961).');
  const { units } = brownUnits();
  assert.ok(units.length > 1_000_000, `${units.length} words`);
  assert.ok(!units.slice(0, 50_000).some((w) => /\/[a-z$*+-]+$/.test(w)), 'no tag suffix is left');
});

test('English text splits into words with sentence ends; abbreviations do not end sentences', () => {
  const { units, sentenceEnd } = englishUnits('Mr. Smith left. He said "Go!" Then (at noon) he slept.');
  assert.deepEqual(units.filter((_, i) => sentenceEnd[i]), ['left.', '"Go!"', 'slept.']);
});

test('Japanese text splits into phrases at 、。！？ and line breaks', () => {
  const { units, sentenceEnd } = japaneseUnits('今日は、晴れです。明日も！\n雨かな');
  assert.deepEqual(units, ['今日は、', '晴れです。', '明日も！\n', '雨かな']);
  assert.deepEqual(Array.from(sentenceEnd), [0, 1, 1, 0]);
});

test('needles go in at the last sentence boundary at or before their depth', () => {
  const stream = resolveHaystack('noise', 'en').open(new Rng(1));
  const text = renderHaystack(stream, 10, [{ text: 'NEEDLE.', depthPercent: 0 }, { text: 'MIDDLE.', depthPercent: 50 }, { text: 'END.', depthPercent: 100 }]);
  assert.ok(text.startsWith('NEEDLE. The grass is green.'));
  assert.ok(text.endsWith('There and back again. END.'));
  assert.equal(text.split(' MIDDLE. ')[0]!.split('.').length - 1, 6, 'after 5 of the 10 sentences (+ the first needle)');
  const words = englishUnits('one two three. four five six seven. eight');
  const s = { separator: ' ', unit: (i: number) => words.units[i]!, endsSentence: (i: number) => words.sentenceEnd[i] === 1, chars: () => 0 };
  assert.equal(renderHaystack(s, 8, [{ text: 'N.', depthPercent: 80 }]), 'one two three. N. four five six seven. eight');
  // The boundary is looked for back a tenth of the haystack (at least 64 units): a text with no sentence end near the
  // depth gets the needle at the depth, between two words (it went to the start: depth 50% read ~0%).
  const plain = (ends: number[]) => ({ separator: ' ', unit: (i: number) => `w${i}`, endsSentence: (i: number) => ends.includes(i), chars: () => 0 });
  const placed = (ends: number[]) => renderHaystack(plain(ends), 1000, [{ text: 'N.', depthPercent: 50 }]).split(' ').indexOf('N.');
  assert.equal(placed([]), 500, 'no sentence end at all');
  assert.equal(placed([199]), 500, 'the last sentence end 300 words back: past the reach of 100');
  assert.equal(placed([449]), 450, 'the last sentence end 50 words back: the needle goes there');
});

test('Japanese filler is deterministic, made of sentences, and a stream never depends on how much was asked first', () => {
  const a = japaneseFiller().open(new Rng(9)), b = japaneseFiller().open(new Rng(9));
  const far = a.unit(500);
  const text = Array.from({ length: 501 }, (_, i) => b.unit(i)).join('');
  assert.ok(text.endsWith(far));
  assert.ok(/^[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef\n]+$/.test(text), 'only Japanese characters and line breaks');
  assert.ok(text.includes('。') && text.includes('\n'));
});

test('word pools are plain lowercase words, sorted, from WordNet', () => {
  for (const pool of [englishNouns(), englishAdjectives(), commonEnglishWords()]) {
    assert.ok(pool.every((w) => /^[a-z]{3,10}$/.test(w)));
    assert.ok(pool.every((w, i) => i === 0 || pool[i - 1]! < w), 'sorted by code unit, no duplicates');
  }
  assert.ok(englishNouns().includes('garden') && englishAdjectives().includes('quiet'));
  assert.ok(commonEnglishWords().length > 10_000);
});

test('values: v4-shaped seeded UUIDs, distinct coded words, depth grid, Zipf counts, JSON layouts', () => {
  const rng = new Rng(3);
  const ids = Array.from({ length: 100 }, () => uuid(rng));
  assert.ok(ids.every((u) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(u)));
  assert.equal(new Set(ids).size, 100);
  assert.deepEqual(ids.slice(0, 2), Array.from({ length: 2 }, ((r) => () => uuid(r))(new Rng(3))), 'same seed, same UUIDs');
  assert.equal(new Set(codedWords(new Rng(1), 500, 6)).size, 500);
  assert.deepEqual(depthGrid(5), [0, 25, 50, 75, 100]);
  assert.equal(depthGrid(40).length, 40);
  for (let n = FWE_MIN_SIZE; n < 5000; n += 7) {
    assert.ok(zipfCount(n, 2) > zipfCount(n, 3) && zipfCount(n, 3) > zipfCount(n, 4) && zipfCount(n, 4) > zipfCount(n, 5), `n=${n}`);
  }
  const pairs = [['a', '1'], ['b', '2'], ['c', '3']] as const;
  assert.equal(formatJsonObject(pairs, 0), '{"a": "1", "b": "2", "c": "3"}');
  for (let level = 0; level < 6; level++) assert.deepEqual(JSON.parse(formatJsonObject(pairs, level)), { a: '1', b: '2', c: '3' });
  assert.equal(formatJsonObject(pairs, 4), '{\n  "a": "1",\n  "b": "2",\n  "c": "3"\n}');
});

test('a haystack folder\'s .txt files are its files: a folder named like one is passed over (it failed with a bare EISDIR)', async () => {
  const { mkdirSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { directoryUnits } = await import('../../src/tasks/haystack.js');
  const dir = tempDir('namm-haystack-');
  try {
    mkdirSync(join(dir, 'notes.txt'));
    writeFileSync(join(dir, 'a.txt'), 'One sentence here. Another one there.');
    assert.ok(directoryUnits(dir, 'en').units.length >= 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
