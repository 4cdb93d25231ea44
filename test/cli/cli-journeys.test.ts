/**
 * Defects found by walking the CLI's user journeys: what a newcomer sees must match what the command reports, a
 * resumed evaluation must not reuse another policy's results, and runs leave nothing behind them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, linkSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeToyRecords } from '../helpers/toy-records.js';
import { tempDir } from '../helpers/temp.js';

const MODEL = resolve('../shared/models/tinystories-656k');
const MAIN = resolve('src/cli/main.ts');
// Absolute, so that the CLI can also run from another working folder.
const TSX = import.meta.resolve('tsx');

function namm(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', TSX, MAIN, ...args], {
    encoding: 'utf8', cwd: opts.cwd, env: { ...process.env, NO_COLOR: '1', ...opts.env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('namm generate --stop: the streamed text is the text the result reports, without the start of a stop string', () => {
  const args = ['generate', '--model', MODEL, '--prompt', 'Once upon a time', '--max-new-tokens', '20', '--greedy', '--stop', 'Lily lived'];
  const json = namm([...args, '--json']);
  assert.equal(json.status, 0, json.stderr);
  const out = JSON.parse(json.stdout) as { text: string; stopped_by: string };
  assert.equal(out.stopped_by, 'stop-string');
  assert.ok(!out.text.includes('Lily'), out.text);
  const streamed = namm(args);
  assert.equal(streamed.status, 0, streamed.stderr);
  // It printed ", a little girl named Lily" while the result's text ends at "named ".
  assert.equal(streamed.stdout, out.text + '\n');
  // The same in --question mode, each answer in its own fork.
  const q = namm(['generate', '--model', MODEL, '--prompt', 'Once upon a time', '--question', ', a little girl named', '--max-new-tokens', '20', '--greedy', '--stop', 'very sleepy']);
  const qj = namm(['generate', '--model', MODEL, '--prompt', 'Once upon a time', '--question', ', a little girl named', '--max-new-tokens', '20', '--greedy', '--stop', 'very sleepy', '--json']);
  assert.equal(q.status, 0, q.stderr);
  const answer = (JSON.parse(qj.stdout) as { answers: { text: string; stopped_by: string }[] }).answers[0]!;
  assert.equal(answer.stopped_by, 'stop-string');
  assert.equal(q.stdout, `Q: , a little girl named\nA: ${answer.text}\n`);
});

test('namm generate --question: a sequence past the limit of the model is refused before the document is read', () => {
  // A GPT-2 model's 1,024 learned positions: the refusal came after the whole prefill, with "Q: … A:" printed.
  const doc = join(tempDir('namm-q-'), 'doc.txt');
  writeFileSync(doc, 'The cat sat on the mat and looked at the birds. '.repeat(60));
  const r = namm(['generate', '--model', resolve('models/namm-tiny-gpt2'), '--prompt-file', doc, '--question', 'Who sat?', '--question', 'Where?', '-n', '2000']);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '', 'nothing printed');
  assert.match(r.stderr, /^namm: the document \(\d+ tokens\), its longest question \(\d+\) and -n 2000 would reach \d+ tokens, past this GPT-2 model's \d+ learned positions\n$/);
});

test('namm eval --out refuses to reuse results when the same spec names another file (run from another folder)', () => {
  const dir = tempDir('namm-cwd-');
  const data = writeToyRecords(dir);
  const a = join(dir, 'a'), b = join(dir, 'b');
  mkdirSync(a); mkdirSync(b);
  assert.equal(namm(['init', '--out', join(a, 'p.namm')]).status, 0);
  assert.equal(namm(['init', '--out', join(b, 'p.namm'), '--selection', 'per-head']).status, 0);
  const out = join(dir, 'out');
  const args = ['eval', '--model', MODEL, '--data', data, '--memory', 'namm:p.namm', '--no-full', '--out', out, '--json'];
  const first = namm(args, { cwd: a });
  assert.equal(first.status, 0, first.stderr);
  // From b, "namm:p.namm" is b/p.namm, another policy: a's results were reported as its own.
  const other = namm(args, { cwd: b });
  assert.notEqual(other.status, 0, 'results of another NAMM file were reused');
  assert.match(other.stderr, /namm:p\.namm reads .*b\/p\.namm, which differs from what .* was evaluated with \(.*a\/p\.namm\); use another --out/);
  // The same content under another path is the same policy: its results are reused.
  copyFileSync(join(a, 'p.namm'), join(b, 'p.namm'));
  const same = namm(args, { cwd: b });
  assert.equal(same.status, 0, same.stderr);
  assert.deepEqual(JSON.parse(same.stdout), JSON.parse(first.stdout));
  assert.equal(readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').length, 2);
});

test('namm eval --match without --out leaves no temporary trace folder behind', () => {
  const dir = tempDir('namm-tmp-');
  const data = writeToyRecords(dir);
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp);
  const r = namm(['eval', '--model', MODEL, '--data', data, '--match', 'l2:ratio=0.5,every=prefill', '--memory', 'matched(h2o)', '--no-full', '--json'], { env: { TMPDIR: tmp } });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(tmp).filter((f) => f.startsWith('namm-traces-')), [], 'a namm-traces-* folder was left');
});

test('namm eval --out replaces summary.json and score-vs-kv.svg whole, never writing into the old file', () => {
  const dir = tempDir('namm-sum-');
  const data = writeToyRecords(dir);
  const out = join(dir, 'out');
  mkdirSync(out);
  // Another file that shares the old summary's storage (a hard link, as a backup tool or `cp -l` makes) keeps its
  // contents only if the new summary is written beside it and renamed over it.
  const keep = join(dir, 'keep.json');
  writeFileSync(keep, '"kept"\n');
  linkSync(keep, join(out, 'summary.json'));
  linkSync(keep, join(out, 'score-vs-kv.svg'));
  const r = namm(['eval', '--model', MODEL, '--data', data, '--memory', 'l2:tokens=16', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(keep, 'utf8'), '"kept"\n');
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')), JSON.parse(r.stdout));
  assert.ok(readFileSync(join(out, 'score-vs-kv.svg'), 'utf8').startsWith('<svg'));
  assert.deepEqual(readdirSync(out).filter((f) => f.startsWith('.')), [], 'no temporary file left');
});

test('namm demo --memory SPEC --memory matched(h2o): matched follows the other policy, as in the default pair', () => {
  const r = namm(['demo', '--model', MODEL, '--length', '400', '--memory', 'l2:ratio=0.5,every=prefill', '--memory', 'matched(h2o)']);
  assert.equal(r.status, 0, r.stderr);
  const memory = (label: RegExp): string => {
    const lines = r.stdout.split('\n');
    const at = lines.findIndex((l) => label.test(l));
    assert.ok(at >= 0, `no ${label} block in\n${r.stdout}`);
    return lines[at + 3]!.replace(/; [\d.]+ s$/, '');
  };
  const l2 = memory(/^l2:ratio=0\.5,every=prefill$/);
  assert.match(l2, /memory {6}mean [\d.]+% of the full KV cache, final [\d.]+%, [\d.]+ MiB freed/);
  assert.equal(memory(/^matched\(h2o\) {2}\(held to the l2:ratio=0\.5,every=prefill run's per-head sizes\)$/), l2);
  const alone = namm(['demo', '--model', MODEL, '--length', '400', '--memory', 'matched(h2o)']);
  assert.equal(alone.status, 1);
  assert.match(alone.stderr, /matched\(h2o\) has no trace=FILE and no other --memory policy to follow/);
});

test('namm demo on a model with a short context: the default prompt fits it, a longer --length is refused, the line shows the tokens fed', () => {
  // The test model has 512 positions: the default 2,048-token prompt used to be cut to ~504 while the line said 2,032.
  const r = namm(['demo', '--model', MODEL, '--memory', 'h2o:ratio=0.5']);
  assert.equal(r.status, 0, r.stderr);
  const m = /^task {5}passkey: (\d+) prompt tokens; question/m.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.ok(Number(m[1]) <= 512, `the prompt (${m[1]} tokens) fits the 512-position context`);
  const long = namm(['demo', '--model', MODEL, '--memory', 'h2o:ratio=0.5', '--length', '1024']);
  assert.equal(long.status, 1);
  assert.match(long.stderr, /--length 1024 is longer than .*tinystories-656k's context \(512 positions\); pass --length 512 or less, or --max-prompt-tokens N to cut the prompt in its middle to N tokens$/m);
  // With a prompt budget asked for, the cut is made and said.
  const cut = namm(['demo', '--model', MODEL, '--memory', 'h2o:ratio=0.5', '--length', '1024', '--max-prompt-tokens', '400']);
  assert.equal(cut.status, 0, cut.stderr);
  assert.match(cut.stdout, /^task {5}passkey: 400 prompt tokens \(cut in the middle from \d+ to the prompt budget\)/m);
});

test('namm --weights: a GGUF run packed prints the same text and perplexity as float32 in less memory; a bad value is refused', () => {
  const dir = tempDir('namm-weights-');
  const gguf = join(dir, 'ts.gguf');
  assert.equal(namm(['convert', '--from', MODEL, '--to', 'gguf', '--out', gguf, '--dtype', 'q4_0']).status, 0);
  const gen = (extra: string[]) => namm(['generate', '--model', gguf, '--prompt', 'Once upon a time', '--max-new-tokens', '12', '--greedy', '--json', ...extra]);
  const wide = gen(['--weights', 'f32']), packed = gen([]);
  assert.equal(packed.status, 0, packed.stderr);
  assert.equal(JSON.parse(packed.stdout).text, JSON.parse(wide.stdout).text);
  const text = join(dir, 'text.txt');
  writeFileSync(text, 'Once upon a time, there was a little girl named Lily. She loved to play outside in the sun. '.repeat(8));
  const ppl = (extra: string[]) => JSON.parse(namm(['perplexity', '--model', gguf, '--text', text, '--json', ...extra]).stdout) as { perplexity: number; weights: string; weight_bytes: number };
  const pw = ppl(['--weights', 'f32']), pp = ppl([]);
  assert.equal(pp.perplexity, pw.perplexity);
  assert.equal(pp.weights, 'auto');
  assert.ok(pp.weight_bytes < 0.15 * pw.weight_bytes, `${pp.weight_bytes} vs ${pw.weight_bytes}`);
  const bad = namm(['generate', '--model', gguf, '--prompt', 'x', '--weights', 'int3']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--weights must be one of auto, f32, packed, q8_0, q4_0, f16, bf16, got "int3"/);
  // eval keys its results by what the model holds: --weights q8_0 on a Q4_0 file converts nothing (the file's own
  // values, as packed), so the run resumes with --weights packed; converted weights are another setup.
  const data = writeToyRecords(dir), out = join(dir, 'eval');
  const ev = (w: string[], o = out) => namm(['eval', '--model', gguf, '--data', data, '--memory', 'l2:tokens=16', '--no-full', '--out', o, '--json', ...w]);
  assert.equal(ev(['--weights', 'q8_0']).status, 0);
  const again = ev(['--weights', 'packed']);
  assert.equal(again.status, 0, again.stderr);
  const conv = join(dir, 'eval-conv');
  const evm = (w: string[]) => namm(['eval', '--model', MODEL, '--data', data, '--memory', 'l2:tokens=16', '--no-full', '--out', conv, '--json', ...w]);
  assert.equal(evm(['--weights', 'q8_0']).status, 0);
  const other = evm(['--weights', 'f32']);
  assert.notEqual(other.status, 0);
  assert.match(other.stderr, /holds results of another setup \(weights: "q8_0" there, "f32" \(the file's own values: auto, f32 or packed\) now; the model's content \(fingerprint of its config and weights\): "[0-9a-f]{32}" there, "[0-9a-f]{32}" now\)/);
});

test('a matched(…) trace whose eviction points a sequence never reaches is noted (generate, --question, perplexity): the run was the full cache', async () => {
  const { loadModel } = await import('../../src/models/model.js');
  const { MemoryTraceRecorder, recordingPolicy, saveMemoryTrace } = await import('../../src/memory/matched.js');
  const { parsePolicySpec } = await import('../../src/memory/spec.js');
  const model = await loadModel(MODEL);
  const long = 'Once upon a time, there was a little girl named Lily. She loved to play in the park with her ball. '.repeat(6);
  const recorder = new MemoryTraceRecorder('h2o:tokens=32');
  model.createSessionWith(recordingPolicy(parsePolicySpec('h2o:tokens=32,every=16') as never, recorder)).prefill(model.tokenizer!.encode(long));
  const dir = tempDir('namm-unreached-');
  const trace = join(dir, 'trace.json');
  saveMemoryTrace(trace, recorder.toTrace());
  const spec = `matched(h2o):trace=${trace}`;
  const note = /^note: matched\(h2o\):trace=.*trace\.json: \d+ of the trace's evictions \(counted per layer\) lie past this sequence's \d+ tokens and never happened/m;
  const short = namm(['generate', '--model', MODEL, '--prompt', 'Once upon a time', '-n', '2', '--greedy', '--memory', spec]);
  assert.equal(short.status, 0, short.stderr);
  assert.match(short.stderr, note);
  const asked = namm(['generate', '--model', MODEL, '--prompt', 'Once upon a time', '-q', 'Who?', '-n', '2', '--greedy', '--memory', spec, '--json']);
  assert.equal(asked.status, 0, asked.stderr);
  assert.match(asked.stderr, note);
  const text = join(dir, 'short.txt');
  writeFileSync(text, 'Once upon a time, there was a girl.');
  const ppl = namm(['perplexity', '--model', MODEL, '--text', text, '--memory', spec]);
  assert.equal(ppl.status, 0, ppl.stderr);
  assert.match(ppl.stderr, note);
  assert.doesNotMatch(ppl.stderr, /its budget holds it/);
  // On the prompt it was recorded on, every point is reached: nothing to say.
  const same = namm(['generate', '--model', MODEL, '--prompt', long, '-n', '1', '--greedy', '--memory', spec]);
  assert.equal(same.status, 0, same.stderr);
  assert.doesNotMatch(same.stderr, /note:/);
  // With --question, each answer's own sequence counts: a trace recorded on a short document, then the long text as
  // its question, is reached by the answer's sequence, not by the document alone (whose session keeps its points).
  const asked2 = new MemoryTraceRecorder('h2o:tokens=32');
  const s2 = model.createSessionWith(recordingPolicy(parsePolicySpec('h2o:tokens=32,every=16') as never, asked2));
  await s2.generate('Once upon a time', { maxNewTokens: 0 });
  await s2.generate(long, { maxNewTokens: 2, greedy: true });
  const trace2 = join(dir, 'asked.json');
  saveMemoryTrace(trace2, asked2.toTrace());
  const reached = namm(['generate', '--model', MODEL, '--prompt', 'Once upon a time', '-q', long, '-n', '2', '--greedy', '--memory', `matched(h2o):trace=${trace2}`, '--json']);
  assert.equal(reached.status, 0, reached.stderr);
  assert.doesNotMatch(reached.stderr, /note:/);
});
