import { test } from 'node:test';
import assert from 'node:assert/strict';
import { policyFamily, renderScoreVsKvSvg, type ScoreVsKvPoint } from '../../src/eval/plot.js';
import { assertWellFormedSvg, frameOf, pathsOf, verticesOf, yTickLabels } from '../helpers/svg.js';

test('policy families: the name before the first ":" or "(", and a NAMM\'s checkpoint', () => {
  assert.equal(policyFamily('h2o:ratio=0.5'), 'h2o');
  assert.equal(policyFamily('adakv(snapkv):ratio=0.25'), 'adakv(snapkv)');
  assert.equal(policyFamily('matched(h2o):trace=namm'), 'matched(h2o)');
  // Two evolved NAMMs are two policies (one line through both joined their scores); one NAMM's options are its budgets.
  assert.equal(policyFamily('namm:models/x.namm,selection=per-head'), 'namm:models/x.namm');
  assert.equal(policyFamily('namm:runs/lr=0.1/best.namm,cacheSize=512'), 'namm:runs/lr=0.1/best.namm');
  assert.equal(policyFamily('namm: a.namm'), 'namm:a.namm');
  assert.equal(policyFamily('full'), 'full');
  assert.equal(policyFamily('namm'), 'namm');
});

test('score vs KV: one series per family sorted by KV fraction, markers, full cache a point at x = 1', () => {
  const points: ScoreVsKvPoint[] = [
    { policy: 'h2o:ratio=0.5', kvFraction: 0.5, score: 40 },
    { policy: 'full', kvFraction: 1, score: 52 },
    { policy: 'h2o:ratio=0.25', kvFraction: 0.25, score: 31 },
    { policy: 'snapkv:ratio=0.5', kvFraction: 0.52, score: 45 },
    { policy: 'h2o:ratio=0.75', kvFraction: 0.75, score: 48 },
    { policy: 'snapkv:ratio=0.25', kvFraction: 0.27, score: 38 },
    { policy: 'namm<"x"&', kvFraction: 0.6, score: 50 },
  ];
  const svg = renderScoreVsKvSvg(points, 'LongBench <qa>');
  assertWellFormedSvg(svg);
  assert.ok(svg.includes('LongBench &lt;qa&gt;'));
  assert.ok(svg.includes('>namm&lt;&quot;x&quot;&amp;</text>'), 'a policy name is escaped in the legend');
  const paths = pathsOf(svg).map(verticesOf);
  assert.equal(paths.length, 4, 'full, h2o, namm…, snapkv');
  const [full, h2o, namm, snap] = paths;
  const [l, t, r, b] = frameOf(svg);
  assert.deepEqual(full, [[r, b - 0.52 * (b - t)].map((v) => Number(v.toFixed(1)))], 'the full cache: one point at x = 1');
  assert.equal(h2o!.length, 3);
  assert.equal(namm!.length, 1);
  assert.equal(snap!.length, 2);
  assert.ok(h2o!.every((v, i) => i === 0 || v[0] > h2o![i - 1]![0]), 'sorted by KV fraction');
  assert.ok(Math.abs(h2o![0]![0] - (l + 0.25 * (r - l))) < 0.1, 'x is the KV fraction on 0–1');
  assert.deepEqual(yTickLabels(svg), [0, 20, 40, 60, 80, 100], 'scores on 0–100');
  assert.equal((svg.match(/<circle /g) ?? []).length, 7 + 4, 'a marker per point and per legend entry');
  assert.match(svg, />full<\/text>[\s\S]*>h2o<\/text>[\s\S]*>snapkv<\/text>/, 'legend: full first, then by name');
});

test('score vs KV: points of several tasks make one line per (family, task), labelled with the task', () => {
  const points: ScoreVsKvPoint[] = [
    { policy: 'full', kvFraction: 1, score: 90, task: 'passkey' },
    { policy: 'full', kvFraction: 1, score: 40, task: 'niah' },
    { policy: 'h2o:ratio=0.5', kvFraction: 0.5, score: 80, task: 'passkey' },
    { policy: 'h2o:ratio=0.25', kvFraction: 0.25, score: 60, task: 'passkey' },
    { policy: 'h2o:ratio=0.5', kvFraction: 0.5, score: 20, task: 'niah' },
    { policy: 'h2o:ratio=0.25', kvFraction: 0.25, score: 10, task: 'niah' },
  ];
  const svg = renderScoreVsKvSvg(points);
  assertWellFormedSvg(svg);
  const paths = pathsOf(svg).map(verticesOf);
  assert.deepEqual(paths.map((p) => p.length), [1, 1, 2, 2], 'full · niah, full · passkey, h2o · niah, h2o · passkey: no line across tasks');
  assert.match(svg, />full · niah<\/text>[\s\S]*>full · passkey<\/text>[\s\S]*>h2o · niah<\/text>[\s\S]*>h2o · passkey<\/text>/);
});

test('score vs KV: no points gives "no data"', () => {
  const svg = renderScoreVsKvSvg([], 'empty');
  assertWellFormedSvg(svg);
  assert.match(svg, />no data<\/text>/);
});
