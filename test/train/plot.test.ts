import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTrainLog, readTrainLog, renderLossSvg, type TrainLogLine } from '../../src/train/plot.js';
import { assertWellFormedSvg, frameOf, pathsOf, verticesOf, yTickLabels } from '../helpers/svg.js';

/** Log lines as the trainer writes them: a step line each step, a validation line every `every` steps. */
function trainLog(steps: number, every = 10, from = 1, tokensPerStep = 50_000, loss = (s: number) => 2 + 8 / Math.sqrt(s)): TrainLogLine[] {
  const out: TrainLogLine[] = [];
  for (let step = from; step <= steps; step++) {
    out.push({ step, loss: loss(step) + (step % 2 ? 0.3 : -0.3), lr: 1e-3, grad_norm: 1, tokens: tokensPerStep, tokens_seen: step * tokensPerStep, sequences: 4, tokens_per_s: 1000, elapsed_s: step });
    if (step % every === 0) out.push({ step, validation_loss: loss(step) + 0.1 });
  }
  return out;
}

test('loss.svg: raw loss, its moving average and validation dots against tokens seen', () => {
  const svg = renderLossSvg(trainLog(120, 20), 'run <a> & "b"');
  assertWellFormedSvg(svg);
  assert.ok(svg.includes('run &lt;a&gt; &amp; &quot;b&quot;'));
  assert.match(svg, />tokens seen \(millions\)<\/text>/);
  const [raw, avg, val] = pathsOf(svg).map(verticesOf);
  assert.equal(raw!.length, 120);
  assert.equal(avg!.length, 120);
  assert.equal(val!.length, 6);
  assert.equal((svg.match(/<circle /g) ?? []).length, 6 + 1, 'a dot per validation point, and one in the legend');
  assert.match(svg, /stroke-width="1" stroke-opacity="0.3"/, 'the raw loss is thin and light');
  assert.match(svg, /stroke-width="2.4"/, 'the average is bold');
  assert.match(svg, />mean of 20 steps<\/text>/);
  // The (centred) average smooths the ±0.3 zig-zag, starts on the data and ends on the mean of the last 10 steps.
  const wiggle = (ys: number[]) => Math.max(...ys.slice(1).map((y, i) => Math.abs(y - ys[i]!)));
  const [avgYs, rawYs] = [avg!.slice(20).map((v) => v[1]), raw!.slice(20).map((v) => v[1])];
  assert.ok(wiggle(avgYs) < wiggle(rawYs) / 5, `smoothed ${wiggle(avgYs)} vs raw ${wiggle(rawYs)}`);
  assert.deepEqual(avg![0], raw![0]);
  const lastTen = raw!.slice(110).reduce((a, v) => a + v[1], 0) / 10;
  assert.ok(Math.abs(avg![119]![1] - lastTen) < 0.2, 'the last point averages the last steps (0.1 px rounding each)');
  // Validation points sit at the x of their step.
  const [l, , r] = frameOf(svg);
  assert.ok(Math.abs(val![0]![0] - raw![19]![0]) < 0.01, 'validation at step 20 lines up with step 20');
  assert.ok(raw![0]![0] === l && raw![119]![0] === r);
  const ticks = yTickLabels(svg);
  assert.ok(Math.min(...ticks) <= 2 + 8 / Math.sqrt(120) - 0.3 && Math.max(...ticks) >= 10.3, `y ticks cover the losses: ${ticks.join(' ')}`);
});

test('loss.svg: steps on x when asked or when tokens are missing; a resumed run supersedes the lines it redoes', () => {
  assert.match(renderLossSvg(trainLog(30), 't', { x: 'step' }), />step<\/text>/);
  const noTokens = trainLog(30).map(({ tokens_seen: _, ...l }) => l as TrainLogLine);
  assert.match(renderLossSvg(noTokens), />step<\/text>/);
  // Run to step 25 (validation at 10, 20), crash, resume from the step-15 checkpoint and go on to 40.
  const resumed = [...trainLog(25), ...trainLog(40, 10, 16)];
  const [raw, , val] = pathsOf(renderLossSvg(resumed, 't', { x: 'step', window: 5 })).map(verticesOf);
  assert.equal(raw!.length, 40, 'steps 16–25 appear once');
  assert.ok(raw!.every((v, i) => i === 0 || v[0] > raw![i - 1]![0]), 'x only grows');
  assert.equal(val!.length, 4, 'validation at 10, 20, 30, 40');
  assert.match(renderLossSvg(resumed, 't', { window: 5 }), />mean of 5 steps<\/text>/);
  // A short run gets a shorter window (at most a fifth of its steps), down to none at all.
  assert.match(renderLossSvg(trainLog(30)), />mean of 6 steps<\/text>/);
  const [r7, a7] = pathsOf(renderLossSvg(trainLog(7))).map(verticesOf);
  assert.deepEqual(a7, r7);
  assert.match(renderLossSvg(trainLog(7)), />loss \(too few steps to average\)<\/text>/);
});

test('loss.svg: non-finite losses are skipped; no lines gives "no data"', () => {
  const log = trainLog(20);
  log[3] = { ...log[3]!, loss: null };
  const svg = renderLossSvg(log);
  assertWellFormedSvg(svg);
  assert.equal(verticesOf(pathsOf(svg)[0]!).length, 19);
  assert.ok(!/NaN/.test(svg));
  for (const empty of [[], [{ step: 1, loss: null }]] as TrainLogLine[][]) {
    const e = renderLossSvg(empty);
    assertWellFormedSvg(e);
    assert.match(e, />no data<\/text>/);
  }
});

test('train-log.jsonl: read back; a damaged line is an error naming the file and line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'namm-loss-plot-'));
  try {
    const log = trainLog(12, 5);
    const path = join(dir, 'train-log.jsonl');
    await writeFile(path, log.map((l) => JSON.stringify(l)).join('\n') + '\n\n');
    assert.deepEqual(readTrainLog(path), log);
    const lines = log.map((l) => JSON.stringify(l));
    await writeFile(path, [...lines.slice(0, 3), '{"step":4,"loss":3.', ...lines.slice(3)].join('\n') + '\n');
    assert.throws(() => readTrainLog(path), (e: Error) => e.message.startsWith(`${path}:4: not valid JSON`));
    await writeFile(path, [...lines.slice(0, 2), '[1,2]'].join('\n') + '\n');
    assert.throws(() => readTrainLog(path), new RegExp(`train-log\\.jsonl:3: not a train-log line`));
    await writeFile(path, [...lines.slice(0, 1), '{"loss":3}'].join('\n') + '\n');
    assert.throws(() => readTrainLog(path), /train-log\.jsonl:2: not a train-log line \(no numeric "step"\)/);
    await writeFile(path, [...lines.slice(0, 5), '{"step":6,"loss":"high"}'].join('\n') + '\n');
    assert.throws(() => readTrainLog(path), /train-log\.jsonl:6: "loss" is not a number/);
    // A last line still being written (no newline yet) is skipped rather than refused.
    await writeFile(path, lines.slice(0, 4).join('\n') + '\n{"step":5,"lo');
    assert.equal(readTrainLog(path).length, 4);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  assert.throws(() => parseTrainLog('{}\n', 'mem.jsonl'), /^Error: mem\.jsonl:1: /);
});
