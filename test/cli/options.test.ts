/** The CLI's number options: safe integers only, and messages that state the range actually accepted. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { floatOption, intOption } from '../../src/cli/util.js';
import { tempDir } from '../helpers/temp.js';

test('intOption: integers from the minimum up to 2^53 − 1; 1e300 is refused (it aliased other seeds before)', () => {
  const seed = intOption('--seed');
  assert.equal(seed('42'), 42);
  assert.equal(seed('4294967296'), 2 ** 32);
  // Decimal digits only: 0x10 read as 16 and 1e1 as 10 (`-n 0x10` generated 16 tokens).
  for (const bad of ['1e300', '9007199254740993', '-1', '1.5', 'abc', '', '0x10', '1e1', '0b11']) {
    assert.throws(() => seed(bad), /--seed must be an integer ≥ 0 \(at most 2\^53 − 1\)/, bad);
  }
});

test('floatOption: the message names the range accepted (Infinity is never in it)', () => {
  assert.throws(() => floatOption('-t', 0)('Infinity'), /-t must be a finite number ≥ 0, got "Infinity"/);
  assert.throws(() => floatOption('--top-p', 0, 1)('2'), /--top-p must be a number in \[0, 1\], got "2"/);
  assert.throws(() => floatOption('--x')('NaN'), /--x must be a finite number, got "NaN"/);
  assert.throws(() => floatOption('-t', 0)(' '), /-t must be a finite number ≥ 0/);
  assert.equal(floatOption('-t', 0)('0.7'), 0.7);
  assert.equal(floatOption('-t', 0)('1e-1'), 0.1);
  assert.equal(floatOption('-t', 0)('.5'), 0.5);
  assert.throws(() => floatOption('-t', 0)('0x1'), /-t must be a finite number ≥ 0, got "0x1"/);
  // An open lower end, as --top-p's (0, 1]: the sampler refuses 0, so the option does before the model loads.
  assert.throws(() => floatOption('--top-p', 0, 1, true)('0'), /--top-p must be a number in \(0, 1\], got "0"/);
  assert.equal(floatOption('--top-p', 0, 1, true)('1'), 1);
  assert.throws(() => floatOption('-x', 0, Infinity, true)('0'), /-x must be a finite number > 0, got "0"/);
});

test('policyFileDigests: a path with parentheses is read whole (the digest keyed on "runs/exp" before)', async () => {
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { policyFileDigests } = await import('../../src/cli/eval.js');
  const dir = join(tempDir('namm-digests-'), 'exp(2)');
  mkdirSync(dir);
  const namm = join(dir, 'best.namm'), trace = join(dir, 'trace (a).json');
  writeFileSync(namm, 'a');
  writeFileSync(trace, 'b');
  // sha256("a") and sha256("b"), 16 hex digits.
  assert.deepEqual(policyFileDigests(`namm:${namm},selection=per-head`), { [namm]: 'ca978112ca1bbdca' });
  assert.deepEqual(policyFileDigests(`matched(adakv(h2o)):trace=${trace}`), { [trace]: '3e23e8160039594a' });
  assert.deepEqual(policyFileDigests('h2o:ratio=0.5'), {});
});

test('--metric-option: key=value pairs checked against the metric variants (only the library could ask for them)', async () => {
  const { parseMetricOptions } = await import('../../src/cli/eval.js');
  assert.deepEqual(parseMetricOptions(undefined), {});
  assert.deepEqual(parseMetricOptions(['rougeRecursion=corrected', ' classification = corrected ']), { rougeRecursion: 'corrected', classification: 'corrected' });
  assert.throws(() => parseMetricOptions(['rougeRecursion']), /--metric-option must look like key=value \(e\.g\. rougeRecursion=corrected\), got "rougeRecursion"/);
  assert.throws(() => parseMetricOptions(['rouge=corrected']), /unknown metric option "rouge" \(expected one of: rougeRecursion, classification, codeSimMatcher, kvRetrievalMatch\)/);
  assert.throws(() => parseMetricOptions(['rougeRecursion=fixed']), /metric option rougeRecursion/);
  assert.throws(() => parseMetricOptions(['codeSimMatcher=difflib', 'codeSimMatcher=levenshtein']), /--metric-option codeSimMatcher= given twice/);
});

test('an option that takes one value, given twice, is refused in every command; repeatable ones and flags are not', async () => {
  // Commander keeps the last: `generate --memory h2o:ratio=0.5 --memory full` ran the full cache without a word.
  const { Command } = await import('commander');
  const { commands } = await import('../../src/cli/commands.js');
  const { refuseRepeatedOptions } = await import('../../src/cli/util.js');
  const run = async (args: string[]) => {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
    for (const register of commands) register(program);
    for (const c of program.commands) c.exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
    refuseRepeatedOptions(program);
    // The action would load a model: stop before it, once the options are parsed.
    for (const c of program.commands) c.hook('preAction', () => { throw new Error('parsed'); });
    try { await program.parseAsync(args, { from: 'user' }); return 'ran'; } catch (err) { return (err as Error).message; }
  };
  assert.match(await run(['generate', '--model', 'm', '--prompt', 'hi', '--memory', 'h2o:ratio=0.5', '--memory', 'full']), /option '--memory <spec>' given twice; it takes one value/);
  assert.match(await run(['generate', '-m', 'a', '--model', 'b', '--prompt', 'hi']), /option '-m, --model <path>' given twice/);
  assert.match(await run(['eval', '--model', 'm', '-d', 'a.jsonl', '--out', 'x', '-o', 'y']), /option '-o, --out <dir>' given twice/);
  // Repeatable (collected) options and flags may come more than once.
  assert.equal(await run(['generate', '--model', 'm', '--prompt', 'hi', '--stop', 'a', '--stop', 'b', '--greedy', '--greedy']), 'parsed');
  assert.equal(await run(['eval', '--model', 'm', '-d', 'a.jsonl', '-d', 'b.jsonl', '--memory', 'full', '--memory', 'h2o:ratio=0.5']), 'parsed');
});

test('eval --by and demo --length read lists and lengths as tasks generate does', async () => {
  const { parseSummaryKeys } = await import('../../src/cli/eval.js');
  assert.deepEqual(parseSummaryKeys('length, depth'), ['length', 'depth']);
  // A key given twice and a trailing comma were dropped without a word.
  assert.throws(() => parseSummaryKeys('length,length'), /--by lists length twice/);
  assert.throws(() => parseSummaryKeys('length,'), /--by takes length, depth \(comma-separated\), got "length,"/);
  // demo --length 1k was refused while tasks generate --length 1k was read as 1,024.
  const { Command } = await import('commander');
  const { register } = await import('../../src/cli/demo.js');
  const program = new Command().exitOverride();
  register(program);
  const demo = program.commands[0]!.exitOverride().configureOutput({ writeErr: () => undefined });
  demo.hook('preAction', () => { throw new Error(`length ${String(demo.opts().length)}`); });
  await assert.rejects(program.parseAsync(['demo', '--length', '1k'], { from: 'user' }), /^Error: length 1024$/);
  await assert.rejects(program.parseAsync(['demo', '--length', '2k,4k'], { from: 'user' }), /--length takes one length, got "2k,4k"/);
});
