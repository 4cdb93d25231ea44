/**
 * Independent checks of generated records: each one re-derives the answer from the context by parsing it, the way
 * a reader would, and compares with the record's answers.
 */
import assert from 'node:assert/strict';
import type { TaskRecord } from '../../src/tasks/record.js';

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** The answers, lower-cased as string_match_all compares, are not in the prompt's own wording (template and question). */
function assertNotInWording(r: TaskRecord): void {
  const wording = `${r.prompt_template!.split(/\{context\}|\{input\}/).join('\n')}\n${r.input}`.toLowerCase();
  for (const a of r.answers) assert.ok(!wording.includes(a.toLowerCase()), `the answer ${a} is in the prompt's wording`);
}

function checkNiahEnglish(r: TaskRecord): void {
  const needles = [...r.context.matchAll(/(?:A special magic \w+|One of the special magic \w+) for (\S+) is: (\S+)\.(?=\s|$)/g)]
    .map((m) => ({ key: m[1]!, value: m[2]! }));
  assert.ok(needles.length >= 1, 'no needle found');
  const asked = /for (.+?) mentioned in the provided text\?/.exec(r.input)![1]!.split(/, | and /);
  const expected = asked.flatMap((k) => needles.filter((n) => n.key === k).map((n) => n.value));
  assert.deepEqual([...r.answers].sort(), [...expected].sort(), 'answers are the values of the asked keys');
  for (const v of r.answers) assert.equal(count(r.context, v), 1, `value ${v} occurs once`);
  assertNotInWording(r);
  const keys = new Set(needles.map((n) => n.key));
  if (r.dataset.startsWith('niah_multikey')) assert.ok(keys.size > 1 && keys.size === needles.length, 'distractors have different keys');
  if (r.dataset === 'niah_multivalue') assert.equal(r.answers.length, 4);
  if (r.dataset === 'niah_multiquery') assert.equal(asked.length, 4);
}

function checkNiahJapanese(r: TaskRecord): void {
  const key = /文中に書かれている(.+?)の特別なマジックナンバーは何ですか/.exec(r.input)![1]!;
  const found = [...r.context.matchAll(new RegExp(`${key}の特別なマジックナンバーは(\\d{7})です。`, 'g'))].map((m) => m[1]);
  assert.deepEqual(found, r.answers);
  assert.equal(count(r.context, key), 1, 'the asked key occurs in its needle only');
}

function checkVariableTracking(r: TaskRecord): void {
  const assigned = new Map<string, string>();
  for (const m of r.context.matchAll(/VAR ([A-Z]{5}) = (?:VAR ([A-Z]{5})|(\d+))\./g)) {
    assigned.set(m[1]!, m[3] ?? assigned.get(m[2]!) ?? 'unassigned'); // in reading order, as a program would run
  }
  const value = /assigned the value (\d+) in the text above/.exec(r.input)![1]!;
  const holders = [...assigned].filter(([, v]) => v === value).map(([k]) => k);
  assert.equal(holders.length, 5, 'one chain of 4 hops: 5 variables');
  assert.deepEqual([...r.answers].sort(), holders.sort());
  assertNotInWording(r);
}

function checkCommonWords(r: TaskRecord): void {
  const entries = [...r.context.matchAll(/(\d+)\. ([a-z]+)/g)];
  entries.forEach((m, i) => assert.equal(Number(m[1]), i + 1, 'entries are numbered 1..N'));
  const freq = new Map<string, number>();
  for (const m of entries) freq.set(m[2]!, (freq.get(m[2]!) ?? 0) + 1);
  const ranked = [...freq].sort((a, b) => b[1] - a[1]);
  assert.equal(r.answers.length, 10);
  assert.deepEqual(ranked.slice(0, 10).map(([w]) => w).sort(), [...r.answers].sort());
  assert.ok(ranked[9]![1] > (ranked[10]?.[1] ?? 0), 'the 10th common word is strictly more frequent than the rest');
  // Every uncommon word the same number of times (3, fewer in a short list), the last one too.
  const uncommon = new Set(ranked.slice(10).map(([, n]) => n));
  assert.ok(uncommon.size <= 1, `uncommon words appear ${[...uncommon].join(', ')} times`);
  // Scored by substring (string_match_all): no answer inside another listed word or the prompt's own wording.
  assertNotInWording(r);
  for (const a of r.answers) {
    const host = [...freq.keys()].find((w) => w !== a && w.includes(a));
    assert.equal(host, undefined, `the answer ${a} is inside the listed word ${host}`);
  }
}

function checkFrequentWords(r: TaskRecord): void {
  const freq = new Map<string, number>();
  for (const w of r.context.split(' ')) freq.set(w, (freq.get(w) ?? 0) + 1);
  const ranked = [...freq].sort((a, b) => b[1] - a[1]);
  assert.equal(ranked[0]![0], '...', 'rank 1 is the dots');
  for (let k = 1; k < 4; k++) assert.ok(ranked[k]![1] > ranked[k + 1]![1], `rank ${k + 1} is strictly ahead`);
  assert.deepEqual(r.answers, ranked.slice(1, 4).map(([w]) => w));
  for (const w of r.answers) assert.match(w, /^[a-z]{6}$/);
  assertNotInWording(r);
}

function checkPasskey(r: TaskRecord, noun: string, digits: number): void {
  const m = [...r.context.matchAll(new RegExp(`The ${noun} is (\\d+)\\. Remember it\\. (\\d+) is the ${noun}\\.`, 'g'))];
  assert.equal(m.length, 1, 'one needle');
  assert.equal(m[0]![1], m[0]![2]);
  assert.deepEqual(r.answers, [m[0]![1]]);
  assert.match(r.answers[0]!, new RegExp(`^[1-9]\\d{${digits - 1}}$`));
  assert.equal(count(r.context, r.answers[0]!), 2);
}

function checkKv(r: TaskRecord): void {
  const object = JSON.parse(r.context) as Record<string, string>;
  const pairs = count(r.context, '": "');
  assert.equal(Object.keys(object).length, pairs, 'no duplicate keys');
  const key = JSON.parse(/(?:Key|キー): (".*")/.exec(r.input)![1]!) as string;
  assert.equal(object[key], r.answers[0]);
  assert.equal(count(r.context, r.answers[0]!), 1);
  assert.match(r.answers[0]!, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
}

function checkNeedle(r: TaskRecord, needle: string): void {
  assert.equal(count(r.context, needle), 1);
  for (const a of r.answers) assert.ok(needle.includes(a));
  assertNotInWording(r);
}

/** Checks a record of any registered task; throws on the first problem. */
export function checkRecord(r: TaskRecord): void {
  assert.equal(r.all_classes, null);
  assert.ok(r.prompt_template!.indexOf('{context}') < r.prompt_template!.indexOf('{input}'), 'context comes before the question');
  switch (r.dataset) {
    case 'vt': return checkVariableTracking(r);
    case 'cwe': return checkCommonWords(r);
    case 'fwe': return checkFrequentWords(r);
    case 'passkey': return checkPasskey(r, 'pass key', 5);
    case 'number_string': return checkPasskey(r, 'sequence of digits', 10);
    case 'kv_retrieval': case 'kv_retrieval_ja': return checkKv(r);
    case 'needle_in_haystack': return checkNeedle(r, 'The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.');
    case 'needle_in_haystack_ja': return checkNeedle(r, 'サンフランシスコでいちばん良い過ごし方は、晴れた日にサンドイッチを食べてドロレス公園に座ることです。');
    case 'niah_ja': case 'niah_multikey_ja': return checkNiahJapanese(r);
    default:
      assert.ok(r.dataset.startsWith('niah_'), `no check for ${r.dataset}`);
      return checkNiahEnglish(r);
  }
}

/** Prompt + new tokens fits the target and is within 2% of it; `length` is the filled template's token count. */
export function assertSized(record: { length: number; max_new_tokens?: number }, target: number, what: string): void {
  const total = record.length + record.max_new_tokens!;
  assert.ok(total <= target, `${what}: ${total} tokens exceed the target ${target}`);
  assert.ok(total >= 0.98 * target, `${what}: ${total} tokens is more than 2% below the target ${target}`);
}
