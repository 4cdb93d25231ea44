/**
 * The command line as README.md describes it, checked where a review found the two apart: how errors read, what a
 * wrong file given as a model is called, and inputs that ran twice or produced duplicates without a word.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tempDir } from '../helpers/temp.js';

const MODEL = resolve('../shared/models/tinystories-656k');
const MAIN = resolve('src/cli/main.ts');
const TSX = import.meta.resolve('tsx');

function namm(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', TSX, MAIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('commander\'s own errors (unknown option or command, missing or invalid value) start `namm: ` like every other failure', () => {
  const cases: [string[], RegExp][] = [
    [['demo', '--bogus'], /^namm: unknown option '--bogus'\n/],
    [['generate', '--model'], /^namm: option '-m, --model <path>' argument missing\n/],
    [['tasks', 'generate', '--task', 'passkey'], /^namm: required option '--length <tokens>' not specified\n/],
    [['demo', '--length', '10'], /^namm: option '--length <tokens>' argument '10' is invalid\. --length must be an integer ≥ 64/],
    [['nosuch'], /^namm: unknown command 'nosuch'\n/],
    // The NAMM policy's own messages begin "namm: ": not prefixed twice ("namm: namm: option cacheSize=0 …").
    [['generate', '--model', 'models/namm-tiny-llama', '--prompt', 'hi', '--memory', 'namm:models/namm-tiny-llama.namm,cacheSize=0'], /^namm: option cacheSize=0 is invalid \(expected a positive integer \(at most 2\^53 − 1\) or "none"\)\n$/],
    [['generate', '--model', 'models/namm-tiny-llama', '--prompt', 'hi', '--memory', 'namm:a=b.namm'], /^namm: namm needs a checkpoint path first: .*\(a file named like an option is written with its folder: namm:\.\/a=b\.namm\)\n$/],
  ];
  for (const [args, message] of cases) {
    const r = namm(...args);
    assert.equal(r.status, 1, args.join(' '));
    assert.match(r.stderr, message, args.join(' '));
    assert.doesNotMatch(r.stderr, /^error: /m, args.join(' '));
  }
  // Help and the version still go to stdout with status 0.
  const version = namm('--version');
  assert.equal(version.status, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
});

test('namm demo --model PATH that does not exist says so, not how to make the shipped model', () => {
  const r = namm('demo', '--model', '/nonexistent/model');
  assert.equal(r.status, 1);
  assert.equal(r.stderr, 'namm: --model /nonexistent/model: no such file or folder\n');
});

test('a .namm policy given as the model is named as one, with where it goes (it was read as a llama2.c header)', () => {
  const policy = resolve('models/namm-tiny-llama.namm');
  const r = namm('demo', '--model', policy);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, `namm: ${policy} is a NAMM policy file, not a model: pass it as --memory namm:${policy} (the memory spec namm:FILE in the API), and a model folder, .gguf or llama2.c .bin as the model\n`);
  // Known by its magic too, whatever its name.
  const renamed = join(tempDir('namm-policy-'), 'policy.bin');
  copyFileSync(policy, renamed);
  const g = namm('generate', '--model', renamed, '--prompt', 'x');
  assert.equal(g.status, 1);
  assert.match(g.stderr, /^namm: .*policy\.bin is a NAMM policy file, not a model: pass it as --memory namm:/);
  // Given as a tokenizer, likewise (it was read as a llama2.c tokenizer.bin).
  const t = namm('tasks', 'generate', '--task', 'passkey', '--length', '300', '--tokenizer', renamed, '--out', `${renamed}.jsonl`);
  assert.equal(t.status, 1);
  assert.match(t.stderr, /^namm: .*policy\.bin is a NAMM policy file, not a tokenizer: give the model's folder/);
  assert.equal(existsSync(`${renamed}.jsonl`), false);
});

test('a train or evolve run checkpoint given as the model, the tokenizer or the .namm is named as one (its "NAMM" magic made it a policy file of version 827345731)', async () => {
  const { writeCheckpointFile } = await import('../../src/evolve/checkpoint.js');
  const ckpt = join(tempDir('namm-run-ckpt-'), 'checkpoint.bin');
  await writeCheckpointFile(ckpt, Buffer.from(JSON.stringify({ format: 'namm-train/1' })));
  const what = 'a namm train or evolve run checkpoint, which only --resume reads: a training run\'s model is its --out folder (config.json, model.safetensors), an evolution\'s policy the evolved.namm (or stage-*.namm) in its folder';
  const g = namm('generate', '--model', ckpt, '--prompt', 'x');
  assert.equal(g.stderr, `namm: ${ckpt} is ${what}\n`);
  const t = namm('tasks', 'generate', '--task', 'passkey', '--length', '300', '--tokenizer', ckpt, '--out', `${ckpt}.jsonl`);
  assert.equal(t.stderr, `namm: ${ckpt} is not a tokenizer but ${what}\n`);
  const i = namm('inspect', ckpt);
  assert.equal(i.stderr, `namm: ${ckpt}: not a .namm file but ${what}\n`);
});

test('namm demo runs the full cache once: a --memory full, or a spec given twice, adds no second run', () => {
  const r = namm('demo', '--model', MODEL, '--length', '200', '--memory', 'full', '--memory', 'h2o:tokens=32', '--memory', 'h2o:tokens=32', '--memory', ' FULL');
  assert.equal(r.status, 0, r.stderr);
  // The runs, by the unindented label line each starts with.
  const labels = r.stdout.split('\n\n')[1]!.split('\n').filter((l) => l !== '' && !l.startsWith(' '));
  assert.deepEqual(labels, ['full', 'h2o:tokens=32']);
});

test('namm tasks generate refuses a length given twice (the records and their ids came out twice) and writes nothing', () => {
  const out = join(tempDir('namm-tasks-'), 'tasks.jsonl');
  const r = namm('tasks', 'generate', '--task', 'passkey', '--length', '1k,1k', '--tokenizer', MODEL, '--out', out);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^namm: option '--length <tokens>' argument '1k,1k' is invalid\. --length lists 1024 tokens twice \("1k" and "1k"\)/);
  assert.ok(!existsSync(out));
});

test('namm perplexity on a GPT-2 model refuses a text past its positions (it was cut to them without a word); --max-tokens scores the start', () => {
  const dir = tempDir('namm-ppl-');
  const text = join(dir, 'long.txt');
  writeFileSync(text, 'Once upon a time, there was a little girl named Lily. She had a toy car that she loved very much. '.repeat(150));
  const gpt2 = resolve('models/namm-tiny-gpt2');
  const r = namm('perplexity', '--model', gpt2, '--text', text, '--json');
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^namm: .*long\.txt is \d+ tokens, past this GPT-2 model's 2048 learned positions; pass --max-tokens 2048 \(or less\) to score the text's first 2048 tokens\n$/);
  const over = namm('perplexity', '--model', gpt2, '--text', text, '--max-tokens', '3000');
  assert.equal(over.status, 1);
  assert.match(over.stderr, /^namm: --max-tokens 3000 is past this GPT-2 model's 2048 learned positions/);
  const start = namm('perplexity', '--model', gpt2, '--text', text, '--max-tokens', '2048', '--json');
  assert.equal(start.status, 0, start.stderr);
  assert.equal(JSON.parse(start.stdout).tokens, 2048);
});

test('demo measures --length against a YaRN model\'s extended context, as eval does (it used max_position_embeddings)', async () => {
  const { cpSync, readFileSync } = await import('node:fs');
  const dir = join(tempDir('namm-demo-yarn-'), 'yarn');
  cpSync(MODEL, dir, { recursive: true });
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  // 512 positions, ×2 by YaRN: a context of 1,024.
  config.rope_scaling = { rope_type: 'yarn', factor: 2, original_max_position_embeddings: 512 };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const ok = namm('demo', '--model', dir, '--length', '800', '--memory', 'h2o:ratio=0.5');
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^task {5}passkey: \d+ prompt tokens; question/m);
  const past = namm('demo', '--model', dir, '--length', '1100', '--memory', 'h2o:ratio=0.5');
  assert.equal(past.status, 1);
  assert.match(past.stderr, /--length 1100 is longer than .*'s context \(1024 positions\)/);
});
