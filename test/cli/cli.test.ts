/** The `namm` command end to end, as a user runs it (through tsx, so no build step is needed). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeToyRecords } from '../helpers/toy-records.js';
import { tempDir } from '../helpers/temp.js';

const MODEL = '../shared/models/tinystories-656k';

function namm(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('namm generate --json reports tokens, speed, cache bytes and memory statistics', () => {
  const r = namm('generate', '--model', MODEL, '--prompt', 'Once upon a time', '--max-new-tokens', '12', '--memory', 'h2o:tokens=8', '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.prompt_tokens.slice(0, 1), [1]);
  assert.equal(out.output_tokens.length, 12);
  assert.equal(out.prompt_token_count, out.prompt_tokens.length);
  assert.equal(typeof out.text, 'string');
  assert.ok(out.prefill_tokens_per_s > 0 && out.decode_tokens_per_s > 0);
  assert.ok(out.kv_cache_bytes > 0);
  assert.equal(out.memory_policy, 'h2o:tokens=8');
  assert.ok(out.memory.meanFraction < 1 && out.memory.bytesFreed > 0);
  assert.deepEqual(out.memory.finalHeldPerHead, [[8, 8, 8, 8], [8, 8, 8, 8]]);
});

test('namm generate streams text and refuses bad input with a clear message', () => {
  const ok = namm('generate', '--model', MODEL, '--prompt', 'Once upon a time', '--max-new-tokens', '8', '--greedy');
  assert.equal(ok.status, 0, ok.stderr);
  assert.ok(ok.stdout.trim().length > 0);
  const bad = namm('generate', '--model', MODEL, '--prompt', 'x', '--memory', 'h2o:ratio=2');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /ratio/);
  const missing = namm('generate', '--model', '/nonexistent/model', '--prompt', 'x');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no such file/);
  // `-` is standard input for --prompt-file and --text, and no output file.
  const piped = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'generate', '--model', MODEL, '--prompt-file', '-', '-n', '4', '--greedy', '--json'], { encoding: 'utf8', input: 'Once upon a time' });
  assert.equal(piped.status, 0, piped.stderr);
  assert.equal(JSON.parse(piped.stdout).prompt_token_count, JSON.parse(namm('generate', '--model', MODEL, '--prompt', 'Once upon a time', '-n', '4', '--greedy', '--json').stdout).prompt_token_count);
  // An empty prompt file or input is refused (it generated from the start token alone); --prompt '' asks for that.
  const emptyIn = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'generate', '--model', MODEL, '--prompt-file', '-', '-n', '2'], { encoding: 'utf8', input: '' });
  assert.equal(emptyIn.status, 1);
  assert.match(emptyIn.stderr, /^namm: prompt file - \(standard input\) is empty; to generate from the start token alone, give --prompt ''$/m);
  assert.equal(namm('generate', '--model', MODEL, '--prompt', '', '-n', '2').status, 0);
  const dash = namm('tasks', 'generate', '--task', 'passkey', '--length', '256', '--tokenizer', MODEL, '--out', '-');
  assert.equal(dash.status, 1);
  assert.match(dash.stderr, /^namm: cannot write to -: outputs are files, written whole and atomically, not standard output \(write \.\/- for a file named "-"\)$/m);
  const dashFolder = namm('eval', '--model', MODEL, '--data', writeToyRecords(tempDir('namm-dash-')), '--out', '-');
  assert.equal(dashFolder.status, 1);
  assert.match(dashFolder.stderr, /cannot use - as the output folder: outputs are files in a folder, not standard output/);
  // namm policies: the text listing, and with --json the same entries as data.
  const listed = namm('policies'), asJson = namm('policies', '--json');
  assert.equal(asJson.status, 0, asJson.stderr);
  const entries = JSON.parse(asJson.stdout) as { name: string; usage: string; options: { key: string }[] }[];
  assert.ok(['full', 'h2o', 'snapkv', 'namm', 'adakv(SPEC)'].every((n) => entries.some((e) => e.name === n)), entries.map((e) => e.name).join(' '));
  for (const e of entries) assert.ok(listed.stdout.includes(e.usage), e.usage);
  const both = namm('generate', '--model', MODEL);
  assert.equal(both.status, 1);
  assert.match(both.stderr, /--prompt/);
  // A misspelt --memory is refused before the model loads (the missing model is never reached), in every command.
  const dir = tempDir('namm-spec-');
  writeFileSync(join(dir, 't.txt'), 'Once upon a time.');
  for (const args of [['generate', '--prompt', 'x'], ['perplexity', '--text', join(dir, 't.txt')], ['eval', '--data', join(dir, 'no.jsonl')]]) {
    const r = namm(...args, '--model', '/nonexistent/model', '--memory', 'h2o:ratoi=0.5');
    assert.equal(r.status, 1, args[0]);
    assert.match(r.stderr, /^namm: h2o: unknown option "ratoi"/, `${args[0]}: ${r.stderr}`);
  }
  rmSync(dir, { recursive: true, force: true });
});

test('namm generate --question reads the prompt once and answers each question in its own copy', () => {
  const story = 'Once upon a time, there was a little girl named Lily. She loved to play outside with her ball. '.repeat(6);
  const args = ['generate', '--model', MODEL, '--prompt', story, '--max-new-tokens', '6', '--greedy', '--memory', 'h2o:tokens=40'];
  const r = namm(...args, '--question', 'One day, Lily', '--question', 'Her mom said', '--question', 'One day, Lily', '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.memory_policy, 'h2o:tokens=40');
  assert.ok(out.document.prompt_token_count > 60);
  // The ids, as the single-prompt mode gives them (a count here before: one field, two types).
  assert.equal(out.document.prompt_tokens.length, out.document.prompt_token_count);
  assert.equal(out.document.prompt_tokens[0], 1);
  assert.deepEqual(out.document.memory.finalHeldPerHead, [[40, 40, 40, 40], [40, 40, 40, 40]], 'the document was compressed');
  assert.deepEqual(out.answers.map((a: { question: string }) => a.question), ['One day, Lily', 'Her mom said', 'One day, Lily']);
  for (const a of out.answers) assert.equal(a.output_tokens.length, 6);
  // Each answer starts from the same document: the third (same question as the first) is not changed by the others.
  assert.deepEqual(out.answers[2].output_tokens, out.answers[0].output_tokens);
  assert.notDeepEqual(out.answers[1].output_tokens, out.answers[0].output_tokens);
  const text = namm(...args, '--question', 'One day, Lily');
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^Q: One day, Lily\nA: \S/);
  assert.match(text.stderr, /\[document: \d+ tokens/);
  const empty = namm(...args, '--question', '');
  assert.equal(empty.status, 1);
  assert.match(empty.stderr, /--question must not be empty/);
  // Contradictions that ran silently: an empty --stop (dropped), --greedy with a sampling option (greedy won).
  assert.match(namm(...args, '--stop', '').stderr, /^namm: --stop must not be empty\n$/);
  for (const extra of [['--temperature', '1'], ['--top-k', '5'], ['--top-p', '0.5']]) {
    const both = namm(...args, '--greedy', ...extra);
    assert.equal(both.status, 1, extra.join(' '));
    assert.match(both.stderr, /^namm: --greedy always takes the most likely token, so --temperature, --top-k and --top-p would be ignored/, extra.join(' '));
  }
});

test('namm eval scores records under several policies, writes results and resumes', () => {
  const dir = tempDir('namm-eval-');
  const data = join(dir, 'tasks.jsonl');
  const records = [0, 1].map((i) => ({
    input: 'What was the girl called?', context: 'Once upon a time, there was a little girl named Lily. She had a toy car.'.repeat(3 + i),
    answers: ['Lily'], length: 40, dataset: 'toy_names', language: 'en', all_classes: null, _id: `toy-${i}`,
    metric: 'string_match_part', prompt_template: '{context}\nQuestion: {input}\nAnswer:', max_new_tokens: 6,
  }));
  writeFileSync(data, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const out = join(dir, 'out');
  const r = namm('eval', '--model', MODEL, '--data', data, '--memory', 'l2:tokens=16', '--out', out, '--json');
  assert.equal(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as { dataset: string; policy: string; samples: number; score: number; meanKvFraction: number; relativeToFull: number | null }[];
  assert.deepEqual(rows.map((x) => x.policy), ['full', 'l2:tokens=16']);
  assert.ok(rows.every((x) => x.samples === 2 && x.dataset === 'toy_names'));
  assert.equal(rows[0]!.meanKvFraction, 1);
  assert.ok(rows[1]!.meanKvFraction < 1);
  const lines = readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 4);
  for (const l of lines) assert.ok(typeof l.prediction === 'string' && l.score >= 0 && l.score <= 1);
  const svg = readFileSync(join(out, 'score-vs-kv.svg'), 'utf8');
  assert.ok(svg.startsWith('<svg') && svg.includes('l2'), 'score-vs-kv.svg names the policies');
  // A second run finds every (record, policy) done and only prints the table again.
  const again = namm('eval', '--model', MODEL, '--data', data, '--memory', 'l2:tokens=16', '--out', out, '--json');
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout), rows);
  assert.equal(readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').length, 4);
  // The data file given twice runs each record once; a rerun asking for fewer policies reports only those.
  const twice = namm('eval', '--model', MODEL, '--data', data, '--data', data, '--memory', 'l2:tokens=16', '--no-full', '--out', out, '--json');
  assert.equal(twice.status, 0, twice.stderr);
  assert.deepEqual(JSON.parse(twice.stdout), rows.slice(1));
  // Progress counts this run's pairs only (it read "eval 4/2": the folder's other policy counted as done).
  assert.match(twice.stderr, /^eval 2\/2 /m);
  assert.equal(readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').length, 4);
  // Two different records with one id are refused (results are kept per id).
  writeFileSync(join(dir, 'clash.jsonl'), JSON.stringify({ ...records[0], context: 'Another text.' }) + '\n');
  const clash = namm('eval', '--model', MODEL, '--data', data, '--data', join(dir, 'clash.jsonl'), '--out', join(dir, 'clash'));
  assert.notEqual(clash.status, 0);
  assert.match(clash.stderr, /clash\.jsonl:1: its record and .*\.jsonl:1's are different but share the _id "toy-0"/);
  // Messages about the data name the file (and line): an empty file, a record the metric cannot score, NUL bytes.
  writeFileSync(join(dir, 'empty.jsonl'), '');
  assert.match(namm('eval', '--model', MODEL, '--data', join(dir, 'empty.jsonl')).stderr, /^namm: no records in \S*empty\.jsonl \(no line holds one\)$/m);
  writeFileSync(join(dir, 'noanswer.jsonl'), JSON.stringify({ ...records[0], _id: 'x', answers: [], metric: 'passkey' }) + '\n');
  assert.match(namm('eval', '--model', MODEL, '--data', join(dir, 'noanswer.jsonl')).stderr, /^namm: \S*noanswer\.jsonl:1: record x: passkey: the record has no answer$/m);
  // Across records, before the model runs: one task scored by two metrics (it was found only after every record ran).
  writeFileSync(join(dir, 'mixed.jsonl'), [{ ...records[0], _id: 'm1' }, { ...records[0], _id: 'm2', metric: 'string_match_all' }].map((r) => JSON.stringify(r)).join('\n') + '\n');
  const mixed = namm('eval', '--model', MODEL, '--data', join(dir, 'mixed.jsonl'));
  assert.match(mixed.stderr, /^namm: record m2: dataset "toy_names" is scored by string_match_part in record m1 and by string_match_all here; a task's records need one metric$/m);
  assert.ok(!mixed.stderr.includes('eval '), 'refused before any record ran');
  writeFileSync(join(dir, 'nul.jsonl'), '\u0000'.repeat(20));
  const nul = namm('eval', '--model', MODEL, '--data', join(dir, 'nul.jsonl'));
  assert.match(nul.stderr, /^namm: \S*nul\.jsonl:1: not valid JSON \(.*\\u0000/m);
  assert.ok(!nul.stderr.includes('\u0000'), 'no raw NUL byte in the message');
  // A policy file that changed behind the same spec is another policy: its old results are not reused.
  const policyFile = join(dir, 'p.namm');
  assert.equal(namm('init', '--out', policyFile).status, 0);
  const withNamm = ['eval', '--model', MODEL, '--data', data, '--memory', `namm:${policyFile}`, '--no-full', '--out', join(dir, 'nammrun'), '--json'];
  assert.equal(namm(...withNamm).status, 0);
  assert.equal(namm('init', '--out', policyFile, '--force', '--selection', 'per-head').status, 0);
  const changed = namm(...withNamm);
  assert.notEqual(changed.status, 0);
  assert.match(changed.stderr, /p\.namm \(read by namm:.*\) has changed since .* was evaluated with it; use another --out/);
});

test('namm eval --match records a policy per record and matched(SPEC) holds the same cache sizes', () => {
  const dir = tempDir('namm-match-');
  const data = writeToyRecords(dir);
  const out = join(dir, 'out');
  const args = ['eval', '--model', MODEL, '--data', data, '--match', 'l2:ratio=0.5,every=prefill', '--memory', 'matched(h2o)', '--memory', 'matched(random)', '--no-full', '--out', out, '--json'];
  const r = namm(...args);
  assert.equal(r.status, 0, r.stderr);
  const lines = readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 6);
  for (const id of ['toy-0', 'toy-1']) {
    const held = (spec: string) => lines.find((l) => l.id === id && l.spec === spec).memory.finalHeldPerHead;
    const ref = held('l2:ratio=0.5,every=prefill');
    const refLine = lines.find((l) => l.id === id && l.spec === 'l2:ratio=0.5,every=prefill');
    assert.ok(refLine.memory.evictionEvents > 0 && refLine.memory.finalFraction < 1, 'the reference evicted');
    assert.deepEqual(held('matched(h2o)'), ref);
    assert.deepEqual(held('matched(random)'), ref);
  }
  assert.equal(readFileSync(join(out, 'traces', 'toy-1.json'), 'utf8').includes('"source":"l2:ratio=0.5,every=prefill"'), true);
  // Resuming with nothing left to do runs nothing and keeps the results.
  const again = namm(...args);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').length, 6);
  // A record edited in place under its _id runs again, and its trace is recorded again: the matched runs followed
  // the old record's trace (holding other sizes than the --match policy had on the new text).
  const edited = readFileSync(data, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  edited[1].context = edited[1].context.repeat(2);
  writeFileSync(data, edited.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const rerun = namm(...args);
  assert.equal(rerun.status, 0, rerun.stderr);
  const after = readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.id === 'toy-1').slice(-3);
  assert.equal(after.length, 3);
  const heldAfter = (spec: string) => after.find((l) => l.spec === spec).memory.finalHeldPerHead;
  assert.deepEqual(heldAfter('matched(h2o)'), heldAfter('l2:ratio=0.5,every=prefill'));
  assert.deepEqual(heldAfter('matched(random)'), heldAfter('l2:ratio=0.5,every=prefill'));
  const bad = namm('eval', '--model', MODEL, '--data', data, '--memory', 'matched(h2o)');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--match/);
  // A bad matched(...) spec fails before any record runs (it was parsed per record, after the first --match run).
  const early = namm('eval', '--model', MODEL, '--data', data, '--match', 'h2o:tokens=32', '--memory', 'matched(h2o):ratio=0.5', '--no-full', '--out', join(dir, 'early'));
  assert.equal(early.status, 1);
  assert.match(early.stderr, /matched\(h2o\): the trace sets the cache size; remove ratio=/);
  assert.equal(existsSync(join(dir, 'early', 'results.jsonl')), false);
  assert.equal(existsSync(join(dir, 'early', 'traces')), false);
});

test('namm perplexity gives a finite perplexity that eviction changes', () => {
  const dir = tempDir('namm-ppl-');
  const text = join(dir, 'story.txt');
  writeFileSync(text, 'Once upon a time, there was a little girl named Lily. She had a toy car that she loved very much. One day, she went to the park to play with her toy car in the park. Lily was very happy. '.repeat(12));
  const full = namm('perplexity', '--model', MODEL, '--text', text, '--json');
  assert.equal(full.status, 0, full.stderr);
  const f = JSON.parse(full.stdout);
  assert.ok(f.perplexity > 1 && f.perplexity < 50, `perplexity ${f.perplexity}`);
  assert.equal(f.predicted, f.tokens - 1, 'every token after the first is predicted');
  const plain = namm('perplexity', '--model', MODEL, '--text', text);
  assert.match(plain.stdout, new RegExp(`over ${f.tokens} tokens \\(${f.tokens - 1} predicted; mean KV`));
  // A converting --weights on a GPT-2 model (whose matrices stay float32) changed nothing and was reported as applied.
  const gpt2 = ['perplexity', '--model', 'models/namm-tiny-gpt2', '--text', text, '--max-tokens', '200', '--json'];
  const g32 = JSON.parse(namm(...gpt2).stdout), gq = namm(...gpt2, '--weights', 'q4_0');
  assert.equal(gq.status, 0, gq.stderr);
  assert.match(gq.stderr, /^namm: note: --weights q4_0 changes nothing on this GPT-2 model: its matrices stay float32/);
  assert.equal(JSON.parse(gq.stdout).weights, 'f32');
  assert.equal(JSON.parse(gq.stdout).nll, g32.nll);
  // Past the model's 512-token context a RoPE model reads on, with one warning in the command's own one-line form
  // (Node's read "(node:PID) [NAMM_PAST_CONTEXT] Warning: …" and a line about --trace-warnings).
  writeFileSync(join(dir, 'long.txt'), 'Once upon a time, there was a little girl named Lily. '.repeat(80));
  const past = namm('perplexity', '--model', MODEL, '--text', join(dir, 'long.txt'), '--max-tokens', '600', '--threads', '1', '--chunk-size', '32');
  assert.equal(past.status, 0, past.stderr);
  // It names the length the text reaches (its piece's end before), before the first piece runs.
  const textTokens = /over (\d+) tokens/.exec(past.stdout)![1]!;
  assert.ok(Number(textTokens) > 512 + 32, 'the text ends in a later piece than the one crossing the context (the case this checks)');
  assert.match(past.stderr, new RegExp(`^namm: warning: the sequence would reach ${textTokens} tokens, past this model's 512-token context \\(its max_position_embeddings\\); its output past that is not what it was trained for \\[NAMM_PAST_CONTEXT\\]$`, 'm'));
  assert.ok(!past.stderr.includes('(node:') && !past.stderr.includes('--trace-warnings'), past.stderr);
  // On the TypeScript backend 'auto' widens every matrix to float32 at load, and says so (it said 'auto').
  const llama = ['--import', 'tsx', 'src/cli/main.ts', 'perplexity', '--model', 'models/namm-tiny-llama', '--text', text, '--max-tokens', '64', '--json'];
  const onJs = spawnSync(process.execPath, llama, { encoding: 'utf8', env: { ...process.env, NAMM_BACKEND: 'js' } });
  assert.equal(onJs.status, 0, onJs.stderr);
  assert.equal(JSON.parse(onJs.stdout).weights, 'f32');
  // --top-p 0 is refused before the model loads, as the sampler would refuse it.
  const topP = namm('generate', '--model', join(dir, 'no-such-model'), '--prompt', 'x', '--top-p', '0');
  assert.equal(topP.status, 1);
  assert.match(topP.stderr, /--top-p must be a number in \(0, 1\], got "0"/);
  // --top-k without --temperature decoded greedily, ignoring it without a word.
  const topK = namm('generate', '--model', join(dir, 'no-such-model'), '--prompt', 'x', '--top-k', '5');
  assert.equal(topK.status, 1);
  assert.match(topK.stderr, /^namm: --top-k and --top-p shape sampling: give --temperature > 0 with them/m);
  // A policy acts between forward chunks, so use chunks of 32 to let it matter within this short text.
  const small = JSON.parse(namm('perplexity', '--model', MODEL, '--text', text, '--memory', 'streaming:sinks=4,window=16', '--chunk-size', '32', '--json').stdout);
  assert.ok(Math.abs(small.perplexity - f.perplexity) > 0.1, 'forgetting changes the predictions');
  assert.ok(small.mean_kv_fraction < 0.5 && f.mean_kv_fraction === 1);
  // A window larger than the text never evicts: exactly the full-cache figure.
  const roomyRun = namm('perplexity', '--model', MODEL, '--text', text, '--memory', 'streaming:sinks=4,window=4096', '--chunk-size', '32', '--json');
  const roomy = JSON.parse(roomyRun.stdout);
  assert.equal(roomy.perplexity, JSON.parse(namm('perplexity', '--model', MODEL, '--text', text, '--chunk-size', '32', '--json').stdout).perplexity);
  assert.equal(roomy.evicted_while_scoring, false);
  assert.match(roomyRun.stderr, /note: streaming:sinks=4,window=4096 evicted nothing on this text \(its budget holds it\), so this is the full cache's perplexity/);
  // SnapKV compresses once the text has been read, when nothing is left to predict: said, as the figures suggest otherwise.
  const snap = namm('perplexity', '--model', MODEL, '--text', text, '--memory', 'snapkv:ratio=0.9', '--json');
  assert.equal(JSON.parse(snap.stdout).perplexity, f.perplexity);
  assert.match(snap.stderr, /note: snapkv:ratio=0\.9 evicted only while the text's last piece was read, after which nothing is predicted/);
  assert.equal(small.evicted_while_scoring, true);
  assert.ok(!namm('perplexity', '--model', MODEL, '--text', text, '--memory', 'streaming:sinks=4,window=16', '--chunk-size', '32').stderr.includes('note:'));
  writeFileSync(join(dir, 'empty.txt'), '');
  assert.match(namm('perplexity', '--model', MODEL, '--text', join(dir, 'empty.txt')).stderr, /empty\.txt is empty: there is no text to score/);
});

test('namm init → calibrate → inspect → generate with the calibrated NAMM', () => {
  const dir = tempDir('namm-file-');
  const file = join(dir, 'zero.namm');
  assert.equal(namm('init', '--out', file).status, 0);
  assert.match(namm('init', '--out', file).stderr, /exists/);
  const data = join(dir, 'long.jsonl');
  const story = 'Once upon a time, there was a little girl named Lily. She had a toy car that she loved very much. ';
  writeFileSync(data, JSON.stringify({
    input: 'Who had a toy car?', context: story.repeat(45), answers: ['Lily'], length: 700, dataset: 'toy', language: 'en',
    all_classes: null, _id: 'long-0', metric: 'string_match_part', prompt_template: '{context}\n{input}', max_new_tokens: 4,
  }) + '\n');
  // The test model has 512 positions; let the prompt run past them (RoPE extrapolates) so that one update happens.
  const cal = namm('calibrate', '--model', MODEL, '--namm', file, '--data', data, '--max-prompt-tokens', '2000');
  assert.equal(cal.status, 0, cal.stderr);
  const info = JSON.parse(namm('inspect', file).stdout);
  assert.equal(info.params, 4172);
  assert.equal(info.param_max_abs, 0);
  assert.equal(info.normalisation.mean.length, 17);
  // One update at 512 tokens over 2 layers × 4 KV heads, each holding 512 rows.
  assert.equal(info.normalisation.rows, 512 * 2 * 4);
  assert.ok(info.normalisation.mean.every((m: number) => m >= 0) && info.normalisation.mean[0] > 0);
  const gen = namm('generate', '--model', MODEL, '--prompt-file', data, '--max-new-tokens', '4', '--memory', `namm:${file}`, '--json');
  assert.equal(gen.status, 0, gen.stderr);
  assert.equal(JSON.parse(gen.stdout).memory.meanFraction, 1);
  const short = join(dir, 'short.jsonl');
  writeFileSync(short, readFileSync(data, 'utf8').replace(story.repeat(45), story));
  // In place, statistics already there are replaced only with --force (they were replaced unasked).
  const before = readFileSync(file);
  const again = namm('calibrate', '--model', MODEL, '--namm', file, '--data', data, '--max-prompt-tokens', '2000');
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already holds normalisation statistics \(over 4096 rows\); pass --force to replace them, or --out FILE/);
  assert.deepEqual(readFileSync(file), before);
  // So is an --out that names the same file (another spelling of it, a link to it): it replaced them unasked.
  symlinkSync(file, join(dir, 'link.namm'));
  for (const out of [join(dir, '.', basename(file)), join(dir, 'link.namm')]) {
    const same = namm('calibrate', '--model', MODEL, '--namm', file, '--out', out, '--data', data, '--max-prompt-tokens', '2000');
    assert.equal(same.status, 1, out);
    assert.match(same.stderr, /already holds normalisation statistics \(over 4096 rows\); pass --force/, out);
    assert.deepEqual(readFileSync(file), before, out);
  }
  assert.match(namm('calibrate', '--model', MODEL, '--namm', file, '--data', short, '--max-prompt-tokens', '2000', '--force').stderr, /no NAMM update can happen: the longest record runs to \d+ tokens fed \(its prompt, cut to its budget, and the new tokens but the last, which is never fed\), short of the update cadence \(512 tokens\)/);
  // A prompt of 508 tokens and 4 new ones feeds 511: refused before the pass (it ran, then failed).
  assert.match(namm('calibrate', '--model', MODEL, '--namm', file, '--data', data, '--max-prompt-tokens', '508', '--force').stderr, /no NAMM update can happen: the longest record runs to 511 tokens fed/);
  // Records whose sequences stay short add nothing, and the summary counts those that did.
  const mixed = namm('calibrate', '--model', MODEL, '--namm', file, '--out', join(dir, 'mixed.namm'), '--data', data, '--data', short, '--max-prompt-tokens', '2000');
  assert.equal(mixed.status, 0, mixed.stderr);
  assert.match(mixed.stdout, /statistics over 4096 cached rows of 1 records \(of 2: the other sequences stayed short of the 512-token update cadence\)/);
  // Loaded with another update=, the file's statistics are another cadence's: said, with the command that makes them.
  const other = namm('generate', '--model', MODEL, '--prompt-file', data, '--max-new-tokens', '4', '--memory', `namm:${file},update=256`, '--json');
  assert.equal(other.status, 0, other.stderr);
  assert.match(other.stderr, new RegExp(`namm: warning: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} holds normalisation statistics collected with update=512; with update=256 they normalise features of another scale, .*; statistics for it: namm calibrate --namm .* --update 256 --out FILE \\[NAMM_STATS_CADENCE\\]`));
  // That command collects them at 256 and writes the cadence into the new file, whose statistics then fit it.
  const at256 = join(dir, 'at256.namm');
  const cal256 = namm('calibrate', '--model', MODEL, '--namm', file, '--update', '256', '--out', at256, '--data', data, '--max-prompt-tokens', '2000');
  assert.equal(cal256.status, 0, cal256.stderr);
  const info256 = JSON.parse(namm('inspect', at256).stdout);
  assert.equal(info256.update_every, 256);
  assert.notDeepEqual(info256.normalisation.mean, info.normalisation.mean);
  const fits = namm('generate', '--model', MODEL, '--prompt-file', data, '--max-new-tokens', '4', '--memory', `namm:${at256}`, '--json');
  assert.equal(fits.status, 0, fits.stderr);
  assert.doesNotMatch(fits.stderr, /NAMM_STATS_CADENCE/);
  assert.match(namm('calibrate', '--model', MODEL, '--namm', file, '--update', '100', '--out', join(dir, 'bad.namm'), '--data', data).stderr, /--update: NAMM updateEvery must be a positive multiple of 16, got 100/);
});

test('namm demo with no options runs the shipped model, the shipped NAMM and H2O held to its sizes', () => {
  const r = namm('demo', '--length', '1200');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^model +\S*models\/namm-tiny-llama \(llama, 4 layers/m);
  assert.match(r.stdout, /^namm:\S*models\/namm-tiny-llama\.namm$/m);
  assert.match(r.stdout, /^matched\(h2o\) {2}\(H2O held to the NAMM run's per-head sizes\)$/m);
  const kv = [...r.stdout.matchAll(/mean ([\d.]+)% of the full KV cache/g)].map((m) => Number(m[1]));
  assert.equal(kv.length, 3);
  assert.equal(kv[0], 100);
  assert.ok(kv[1]! < 100, `the NAMM evicted (held ${kv[1]}%)`);
  assert.ok(Math.abs(kv[2]! - kv[1]!) < 1, `matched H2O holds what the NAMM held (${kv[2]}% vs ${kv[1]}%)`);
  assert.doesNotMatch(r.stderr, /note:/);
  // On another model the shipped NAMM runs as it is, with a note that it was evolved elsewhere.
  const other = namm('demo', '--model', 'models/namm-tiny-gpt2', '--length', '600');
  assert.equal(other.status, 0, other.stderr);
  assert.match(other.stderr, /^note: \S*namm-tiny-llama\.namm was evolved on another model \(models\/namm-tiny-llama\); it runs here unchanged, as a NAMM can transfer, but its evictions were not chosen for models\/namm-tiny-gpt2$/m);
});

test('namm demo (the README quick start) answers a generated prompt with the full cache and each policy', () => {
  const r = namm('demo', '--model', MODEL, '--length', '1500', '--max-prompt-tokens', '1500', '--memory', 'h2o:ratio=0.5', '--memory', 'streaming:sinks=4,window=256');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^task +passkey: \d+ prompt tokens/m);
  assert.match(r.stdout, /^expected "\d{5}"/m);
  for (const policy of ['full', 'h2o:ratio=0.5', 'streaming:sinks=4,window=256']) assert.match(r.stdout, new RegExp(`^${policy.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  assert.match(r.stdout, /mean 100\.0% of the full KV cache/);
  assert.match(r.stdout, /mean 50\.0% of the full KV cache, final 50\.0%, [\d.]+ MiB freed/);
  // The gold answer's likelihood per run, and its change against the full cache under each policy.
  assert.equal([...r.stdout.matchAll(/^ {2}likelihood {2}gold answer [\d.]+% per token, NLL [\d.]+ nats/gm)].length, 3);
  assert.equal([...r.stdout.matchAll(/NLL [\d.]+ nats \([+-][\d.]+ vs full\)$/gm)].length, 2);
  const missing = namm('demo', '--model', '/nonexistent/model');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^namm: --model \/nonexistent\/model: no such file or folder$/m);
});

test('outputs never destroy data: no overwriting an input, no overwriting unasked, no cut-off files', () => {
  const dir = tempDir('namm-cli-out-');
  const src = join(dir, 'ts');
  cpSync(MODEL, src, { recursive: true });
  const weights = readFileSync(join(src, 'model.safetensors'));
  // convert: the output may not be the source or lie in its folder, even with --force.
  let r = namm('convert', '--from', src, '--to', 'gguf', '--out', join(src, 'model.safetensors'), '--force');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /model\.safetensors lies inside the input folder .*ts; write somewhere else/);
  r = namm('convert', '--from', src, '--to', 'safetensors', '--out', src, '--force');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /would overwrite the input/);
  assert.deepEqual(readFileSync(join(src, 'model.safetensors')), weights);
  // An existing file is kept unless --force; with it, replaced whole.
  const gguf = join(dir, 'm.gguf');
  writeFileSync(gguf, 'keep me');
  r = namm('convert', '--from', src, '--to', 'gguf', '--out', gguf);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /exists; pass --force/);
  assert.equal(readFileSync(gguf, 'utf8'), 'keep me');
  r = namm('convert', '--from', src, '--to', 'gguf', '--out', gguf, '--force');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(readFileSync(gguf).length > 1000);
  assert.deepEqual(readdirSync(dir).sort(), ['m.gguf', 'ts'], 'no temporary file is left behind');
  // tasks generate: a length that cannot be sized, found after other records were made, leaves the old file as it was.
  const data = join(dir, 'pk.jsonl');
  writeFileSync(data, 'old records\n');
  r = namm('tasks', 'generate', '--task', 'passkey', '--length', '400,10', '--tokenizer', MODEL, '--out', data, '-q', '--force');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /too small/);
  assert.equal(readFileSync(data, 'utf8'), 'old records\n');
  // Without --force an existing file is kept, like init's, convert's and calibrate's.
  r = namm('tasks', 'generate', '--task', 'passkey', '--length', '400', '--tokenizer', MODEL, '--out', data, '-q');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /pk\.jsonl exists; pass --force to overwrite it/);
  assert.equal(readFileSync(data, 'utf8'), 'old records\n');
  // calibrate --out onto another existing file: refused before any work.
  const namFile = join(dir, 'z.namm');
  assert.equal(namm('init', '--out', namFile).status, 0);
  r = namm('calibrate', '--model', MODEL, '--namm', namFile, '--data', data, '--out', data);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /would overwrite the input|exists; pass --force/);
  assert.equal(readFileSync(data, 'utf8'), 'old records\n');
  // An --out in a folder that does not exist is refused before the work (calibrate failed only after its pass;
  // no model is loaded here, as none exists: had the check come after the load, that would be the error).
  r = namm('calibrate', '--model', join(dir, 'no-model'), '--namm', namFile, '--data', data, '--out', join(dir, 'no', 'z2.namm'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^namm: cannot write .*no\/z2\.namm: the folder .*no does not exist$/m);
  // So is one in a folder that takes no file (sysfs refuses even root; a read-only file system the same).
  if (process.platform === 'linux') {
    r = namm('calibrate', '--model', join(dir, 'no-model'), '--namm', namFile, '--data', data, '--out', '/sys/namm-test.namm');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^namm: cannot write \/sys\/namm-test\.namm: EACCES/m);
  }
  r = namm('tasks', 'generate', '--task', 'passkey', '--length', '400', '--tokenizer', MODEL, '--out', join(dir, 'no', 'pk.jsonl'), '-q');
  assert.match(r.stderr, /^namm: cannot write .*no\/pk\.jsonl: the folder .*no does not exist$/m);
  // A --tokenizer folder without a tokenizer is named as such, not as the folder --out lies in.
  r = namm('tasks', 'generate', '--task', 'passkey', '--length', '400', '--tokenizer', dir, '--out', join(dir, 'pk2.jsonl'), '-q');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /folder has neither tokenizer\.json nor tokenizer\.bin/);
  // A missing folder or a folder given for a file: messages name the real path, not a temporary one.
  r = namm('init', '--out', join(dir, 'no', 'such', 'z.namm'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot write .*no\/such\/z\.namm: the folder .* does not exist/);
  assert.doesNotMatch(r.stderr, /\.tmp-/);
  r = namm('generate', '--model', MODEL, '--prompt-file', dir);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /prompt file .* is a folder, not a file/);
});

test('a run never reuses or overwrites another setup\'s folder: eval --out, train --out', () => {
  const dir = tempDir('namm-cli-setup-');
  const data = join(dir, 'pk.jsonl');
  assert.equal(namm('tasks', 'generate', '--task', 'passkey', '--length', '300', '--tokenizer', MODEL, '--out', data, '-q').status, 0);
  const out = join(dir, 'ev');
  let r = namm('eval', '--model', MODEL, '--data', data, '--memory', 'h2o:ratio=0.5', '--out', out, '--json');
  assert.equal(r.status, 0, r.stderr);
  // The same folder with another score kind would have printed the task scores as likelihoods.
  r = namm('eval', '--model', MODEL, '--data', data, '--memory', 'h2o:ratio=0.5', '--out', out, '--score', 'likelihood');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /holds results of another setup \(score: "task" there, "likelihood" now\)/);
  // Another chunk size is another setup too (a baseline acting after every chunk evicts elsewhere); the full cache
  // answers the same at any chunk size.
  r = namm('eval', '--model', MODEL, '--data', data, '--memory', 'h2o:ratio=0.5', '--out', out, '--chunk-size', '64');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /holds results of another setup \(chunkSize: 128 there, 64 now\)/);
  // So is another context window for the prompt budget; with --max-prompt-tokens as well, it is refused at once.
  r = namm('eval', '--model', MODEL, '--data', data, '--memory', 'h2o:ratio=0.5', '--out', out, '--context-window', '256');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /holds results of another setup \(contextWindow: null there, 256 now\)/);
  r = namm('eval', '--model', MODEL, '--data', data, '--out', join(dir, 'both'), '--context-window', '256', '--max-prompt-tokens', '200');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^namm: --max-prompt-tokens and --context-window both set the prompt budget; give one of them$/m);
  // The default given explicitly is the same setup (a run.json from before the option reads as the default).
  const runJson = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(runJson.chunkSize, 128);
  // A run.json from before the model's fingerprint was kept is trusted to its path, and gains the fingerprint.
  const fingerprint = runJson.modelFingerprint;
  assert.match(String(fingerprint), /^[0-9a-f]{32}$/);
  const tokenizerPrint = runJson.tokenizerFingerprint;
  assert.match(String(tokenizerPrint), /^[0-9a-f]{32}$/);
  delete runJson.chunkSize;
  delete runJson.modelFingerprint;
  delete runJson.tokenizerFingerprint;
  writeFileSync(join(out, 'run.json'), JSON.stringify(runJson));
  r = namm('eval', '--model', MODEL, '--data', data, '--memory', 'h2o:ratio=0.5', '--out', out, '--chunk-size', '128', '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).modelFingerprint, fingerprint);
  assert.equal(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).tokenizerFingerprint, tokenizerPrint);
  // Another model at the same path (retrained, replaced) is another setup: its path alone let the results of the
  // model that was there before be reused.
  const swapped = join(dir, 'swapped');
  cpSync(MODEL, swapped, { recursive: true });
  const evSwapped = join(dir, 'ev-swapped');
  r = namm('eval', '--model', swapped, '--data', data, '--memory', 'h2o:ratio=0.5', '--out', evSwapped, '--json');
  assert.equal(r.status, 0, r.stderr);
  cpSync('models/namm-tiny-llama', swapped, { recursive: true });
  r = namm('eval', '--model', swapped, '--data', data, '--memory', 'h2o:ratio=0.5', '--out', evSwapped, '--json');
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`holds results of another setup \\(the model's content \\(fingerprint of its config and weights\\): "${fingerprint}" there, "[0-9a-f]{32}" now; the tokenizer's content`));
  // The model's fingerprint covers config.json and the weights: a tokenizer changed beside them (here no BOS added
  // any more; a chat template alike) changes every prompt, and its results were reused.
  const retok = join(dir, 'retok'), evRetok = join(dir, 'ev-retok');
  cpSync(MODEL, retok, { recursive: true });
  r = namm('eval', '--model', retok, '--data', data, '--memory', 'h2o:ratio=0.5', '--out', evRetok, '--json');
  assert.equal(r.status, 0, r.stderr);
  // A tokenizer_config key that the tokenizer does not read is the same tokenizer.
  const tokConfig = JSON.parse(readFileSync(join(retok, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(retok, 'tokenizer_config.json'), JSON.stringify({ ...tokConfig, model_max_length: 12345 }));
  r = namm('eval', '--model', retok, '--data', data, '--memory', 'h2o:ratio=0.5', '--out', evRetok, '--json');
  assert.equal(r.status, 0, r.stderr);
  const tokJson = JSON.parse(readFileSync(join(retok, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(retok, 'tokenizer.json'), JSON.stringify({ ...tokJson, post_processor: null }));
  r = namm('eval', '--model', retok, '--data', data, '--memory', 'h2o:ratio=0.5', '--out', evRetok, '--json');
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`holds results of another setup \\(the tokenizer's content \\(its files, chat template and BOS and end ids\\): "${tokenizerPrint}" there, "[0-9a-f]{32}" now\\); use another --out`));
  // Results whose run.json is gone were all taken as the new setup's.
  rmSync(join(evRetok, 'run.json'));
  r = namm('eval', '--model', retok, '--data', data, '--memory', 'h2o:ratio=0.5', '--out', evRetok, '--json');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /ev-retok holds results \(results\.jsonl\) but no run\.json saying what setup made them; use another --out, or delete results\.jsonl to evaluate there again/);
  const full128 = JSON.parse(namm('eval', '--model', MODEL, '--data', data, '--out', out, '--json').stdout) as { policy: string; score: number }[];
  r = namm('eval', '--model', MODEL, '--data', data, '--out', join(dir, 'ev64'), '--chunk-size', '64', '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), full128.filter((x) => x.policy === 'full'));
  assert.match(namm('eval', '--model', MODEL, '--data', data, '--chunk-size', '0').stderr, /--chunk-size/);
  // train: a folder holding a model (and no training checkpoint) is not taken over by a fresh run.
  const model = join(dir, 'model');
  cpSync(MODEL, model, { recursive: true });
  const config = readFileSync(join(model, 'config.json'), 'utf8');
  r = namm('train', '--config', 'configs/toy-induction.json', '--out', model, '--max-steps', '1');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /already holds a model \(config\.json, model\.safetensors, tokenizer\.json\)/);
  assert.equal(readFileSync(join(model, 'config.json'), 'utf8'), config);
  // Without --out the folder is runs/<config name>: a name holding a path is refused (".." trained into the working
  // folder, "../../x" outside it).
  for (const name of ['..', '../../escape', 'a/b']) {
    const cfg = join(dir, 'named.json');
    writeFileSync(cfg, JSON.stringify({ ...JSON.parse(readFileSync('configs/toy-induction.json', 'utf8')), name }));
    r = namm('train', '--config', cfg, '--max-steps', '1');
    assert.equal(r.status, 1, name);
    assert.match(r.stderr, new RegExp(`^namm: the config's name ${JSON.stringify(name).replace(/[.]/g, '\\.')} cannot name a folder under runs/ \\(it holds a path\\); pass --out DIR\n$`), name);
  }
});

test('a reader that closes the pipe ends a command quietly with status 141, not a stack trace', async () => {
  // `namm tasks list | head -1` and `namm generate … | head -c 20` printed an unhandled EPIPE 'error' event.
  const { spawn } = await import('node:child_process');
  for (const args of [['tasks', 'list'], ['generate', '--model', MODEL, '--prompt', 'Once upon a time', '--max-new-tokens', '20']]) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // closed before the command writes anything: its first write fails
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    assert.equal(code, 141, `${args[0]}: ${stderr}`);
    assert.equal(stderr.replace(/^.*Warning.*\n|^\(Use `node --trace-warnings.*\n/gm, ''), '', `${args[0]}: nothing on stderr`);
  }
});

test("a warning reads as one line: namm's ends with its code, another source's with its class (it read as namm's own)", () => {
  // Warnings emitted inside the command's process once it has set its printer up (a preloaded module sees the
  // listener being added).
  const emit = `const on = process.on.bind(process); let done = false;
process.on = (event, fn) => { const r = on(event, fn); if (event === 'warning' && !done) { done = true; setImmediate(() => {
  process.emitWarning('namm: from namm', { code: 'NAMM_X' });
  process.emitWarning('too many listeners', { type: 'MaxListenersExceededWarning' });
  process.emitWarning('old api', { type: 'DeprecationWarning', code: 'DEP0999' }); }); } return r; };`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', `data:text/javascript,${encodeURIComponent(emit)}`, 'src/cli/main.ts', 'policies'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^namm: warning: from namm \[NAMM_X\]$/m);
  assert.match(r.stderr, /^namm: warning: too many listeners \(MaxListenersExceededWarning\)$/m);
  assert.match(r.stderr, /^namm: warning: old api \(DeprecationWarning, DEP0999\)$/m);
});

test('eval says when generated records were sized with another tokenizer than the model\'s (they run at other lengths)', () => {
  const dir = tempDir('namm-cli-sized-');
  try {
    const mine = join(dir, 'mine.jsonl'), theirs = join(dir, 'theirs.jsonl');
    assert.equal(namm('tasks', 'generate', '--task', 'passkey', '--length', '450', '-n', '2', '--tokenizer', MODEL, '--out', mine, '-q').status, 0);
    assert.equal(namm('tasks', 'generate', '--task', 'passkey', '--length', '450', '-n', '2', '--tokenizer', 'models/namm-tiny-llama', '--out', theirs, '-q').status, 0);
    let r = namm('eval', '--model', MODEL, '--data', mine, '--memory', 'h2o:ratio=0.5', '--no-full', '--json');
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /NAMM_RECORDS_OTHER_TOKENIZER/);
    r = namm('eval', '--model', MODEL, '--data', theirs, '--memory', 'h2o:ratio=0.5', '--no-full', '--json');
    assert.equal(r.status, 0, r.stderr);
    // Once per file, naming its first such record.
    const said = r.stderr.split('\n').filter((l) => l.includes('NAMM_RECORDS_OTHER_TOKENIZER'));
    assert.equal(said.length, 1, r.stderr);
    assert.match(said[0]!, /^namm: warning: records sized with another tokenizer \(.*theirs\.jsonl:1: \d+ prompt tokens when it was made for 450, \d+ with this model's tokenizer\): they run at other lengths than they were made for; generate them with --tokenizer \.\.\/shared\/models\/tinystories-656k \[NAMM_RECORDS_OTHER_TOKENIZER\]$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
