import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeXml, formatTick, niceTicks, renderLineChart, type LineChartOptions } from '../../src/util/chart.js';
import { niceTicks as niceTicksFromEvolve, renderFitnessSvg } from '../../src/evolve/plot.js';
import { assertWellFormedSvg, frameOf, pathsOf, verticesOf, yTickLabels } from '../helpers/svg.js';

const base = (series: LineChartOptions['series'], extra: Partial<LineChartOptions> = {}): LineChartOptions =>
  ({ title: 't', xLabel: 'x', yLabel: 'y', series, ...extra });

test('niceTicks: round steps that cover the range; evolve/plot re-exports the same function', () => {
  assert.equal(niceTicksFromEvolve, niceTicks);
  for (const [lo, hi] of [[0, 1], [0.013, 0.97], [-3.2, 17.5], [2.31, 2.34], [1e5, 3.7e6], [-0.004, -0.001], [7, 7], [0, 0]] as const) {
    const t = niceTicks(lo, hi);
    assert.ok(t[0]! <= lo && t[t.length - 1]! >= hi, `[${t.join(', ')}] covers [${lo}, ${hi}]`);
    assert.ok(t.length >= 3 && t.length <= 12, `a handful of ticks for [${lo}, ${hi}]: ${t.length}`);
    const steps = t.slice(1).map((v, i) => v - t[i]!);
    for (const s of steps) assert.ok(Math.abs(s - steps[0]!) < 1e-9 * Math.max(1, Math.abs(hi)), `even steps in [${t.join(', ')}]`);
  }
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  // A range too narrow for its magnitude never ended (v + step === v), and a huge count built millions of ticks.
  assert.deepEqual(niceTicks(1e16, 1e16 + 4), [1e16, 1e16 + 4]);
  assert.deepEqual(niceTicks(0, 1, 1e7), [0, 1]);
});

test('escaping and number formatting', () => {
  assert.equal(escapeXml(`a<b & "c" 'd'>`), 'a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;');
  assert.equal(formatTick(0.30000000000000004), '0.3');
  assert.equal(formatTick(12345), '1.2e+4');
  assert.equal(formatTick(0.0002), '2.0e-4');
  assert.equal(formatTick(0), '0');
});

test('a line chart: well formed, one path per series, one vertex per point, ticks covering the data', () => {
  const svg = renderLineChart(base([
    { label: 'rising', points: [[0, 1], [1, 2.5], [2, 4], [3, 7.2]] },
    { label: 'falling', points: [[0, 5], [1, 3], [2, Number.NaN], [3, -0.7]], dashed: true, markers: true },
    { label: 'dots', points: [[1.5, 3.3], [2.5, 3.1]], line: false },
  ]));
  assertWellFormedSvg(svg);
  const paths = pathsOf(svg);
  assert.equal(paths.length, 2, 'a path for each series drawn with a line');
  assert.equal(verticesOf(paths[0]!).length, 4);
  assert.equal(verticesOf(paths[1]!).length, 3, 'the NaN point is left out');
  assert.equal((svg.match(/<circle /g) ?? []).length, 3 + 2 + 2, 'markers and legend dots');
  assert.equal((svg.match(/stroke-dasharray="5 3"/g) ?? []).length, 2, 'the dashed series and its legend line');
  for (const label of ['rising', 'falling', 'dots']) assert.match(svg, new RegExp(`>${label}</text>`));
  const ticks = yTickLabels(svg);
  assert.ok(Math.min(...ticks) <= -0.7 && Math.max(...ticks) >= 7.2, `y ticks ${ticks.join(' ')} cover the data`);
  const [l, t, r, b] = frameOf(svg);
  for (const d of paths) {
    for (const [x, y] of verticesOf(d)) assert.ok(x >= l && x <= r && y >= t && y <= b, `vertex ${x},${y} inside the frame`);
  }
  // Higher values are drawn higher (SVG y grows downwards); the x range is the data's.
  const ys = verticesOf(paths[0]!).map((v) => v[1]);
  assert.ok(ys.every((y, i) => i === 0 || y < ys[i - 1]!), `rising data drawn rising: ${ys.join(' ')}`);
  assert.equal(verticesOf(paths[0]!)[0]![0], l);
  assert.equal(verticesOf(paths[0]!)[3]![0], r);
});

test('text is escaped everywhere: title, axis labels, legend, marker lines', () => {
  const nasty = `<b>&"x"`;
  const svg = renderLineChart(base([{ label: `s ${nasty}`, points: [[0, 0], [1, 1]] }], {
    title: `T ${nasty}`, xLabel: `X ${nasty}`, yLabel: `Y ${nasty}`, vlines: [{ x: 0.5, label: `V ${nasty}` }],
    rightAxis: { label: `R ${nasty}`, range: [0, 1], color: '"red"' },
  }));
  assertWellFormedSvg(svg);
  for (const p of ['T', 'X', 'Y', 's', 'V', 'R']) assert.ok(svg.includes(`${p} &lt;b&gt;&amp;&quot;x&quot;`), `${p} escaped`);
  assert.ok(!svg.includes(nasty));
  const empty = renderLineChart(base([], { title: nasty, emptyText: `none ${nasty}` }));
  assertWellFormedSvg(empty);
  assert.ok(empty.includes('none &lt;b&gt;'));
});

test('empty input: a "no data" text instead of a plot', () => {
  for (const series of [[], [{ label: 'a', points: [] }], [{ label: 'a', points: [[Number.NaN, 1], [1, Number.POSITIVE_INFINITY]] as [number, number][] }]]) {
    const svg = renderLineChart(base(series));
    assertWellFormedSvg(svg);
    assert.match(svg, />no data<\/text>/);
    assert.equal(pathsOf(svg).length, 0);
  }
  assert.match(renderLineChart(base([], { emptyText: 'nothing yet' })), />nothing yet<\/text>/);
});

test('a single point and a flat series get a padded, non-degenerate range', () => {
  const svg = renderLineChart(base([{ label: 'one', points: [[5, 3]], markers: true }, { label: 'flat', points: [[5, 3], [5, 3]] }]));
  assertWellFormedSvg(svg);
  assert.ok(!/NaN|Infinity/.test(svg), 'no NaN coordinates');
  const ticks = yTickLabels(svg);
  assert.ok(Math.min(...ticks) < 3 && Math.max(...ticks) > 3);
});

test('log x axis, fixed ranges, right axis and dashed vertical lines', () => {
  const svg = renderLineChart(base([
    { label: 'loss', points: [[0, 9], [10, 5], [100, 4], [1000, 3.5], [10000, 3.2]] },
    { label: 'share', points: [[10, 0.2], [10000, 0.9]], axis: 'right' },
  ], { xLog: true, yRange: [0, 10], rightAxis: { label: 'share', range: [0, 1] }, vlines: [{ x: 100, label: 'stage 2' }, { x: -1 }] }));
  assertWellFormedSvg(svg);
  const [l, t, r, b] = frameOf(svg);
  const loss = verticesOf(pathsOf(svg)[0]!);
  assert.equal(loss.length, 4, 'x = 0 cannot be drawn on a log axis');
  const gaps = loss.slice(1).map((v, i) => v[0] - loss[i]![0]);
  for (const g of gaps) assert.ok(Math.abs(g - gaps[0]!) < 0.2, `decades evenly spaced: ${gaps.join(' ')}`);
  assert.deepEqual(yTickLabels(svg), [0, 2, 4, 6, 8, 10], 'ticks of the fixed y range');
  for (const x of [10, 100, 1000]) assert.match(svg, new RegExp(`text-anchor="middle">${x}</text>`), `log tick ${x}`);
  const share = verticesOf(pathsOf(svg)[1]!);
  assert.ok(Math.abs(share[0]![1] - (b - 0.2 * (b - t))) < 0.1, 'right-axis values use the right range');
  assert.equal((svg.match(/stroke-dasharray="4 3"/g) ?? []).length, 1, 'one vertical line (x <= 0 is off a log axis)');
  assert.match(svg, />stage 2<\/text>/);
  assert.ok(loss.every(([x]) => x >= l && x <= r));
});

test('a chart of 200K points is drawn (Math.min(...xs) overflowed the stack past ~125K, so a long training run failed at every save)', () => {
  const points = Array.from({ length: 100_000 }, (_, i): [number, number] => [i + 1, 5 / Math.sqrt(i + 1)]);
  const svg = renderLineChart(base([{ label: 'loss', points }, { label: 'average', points: points.map(([x, y]) => [x, y + 0.1] as [number, number]) }]));
  assertWellFormedSvg(svg);
  assert.equal(verticesOf(pathsOf(svg)[0]!).length, 100_000);
});

test('renderLineChart refuses an axis range that is not two finite, ordered numbers (a log axis from 0 hung until memory ran out)', () => {
  const series = [{ label: 'a', points: [[1, 1], [10, 2]] as [number, number][] }];
  assert.throws(() => renderLineChart(base(series, { xLog: true, xRange: [0, 100] })),
    /^TypeError: renderLineChart: o\.xRange must be \[lo, hi\], two finite numbers with lo ≤ hi and lo > 0 \(o\.xLog is a logarithmic axis\), got \[0, 100\]$/);
  assert.throws(() => renderLineChart(base(series, { xRange: [NaN, NaN] })), /^TypeError: renderLineChart: o\.xRange must be \[lo, hi\], two finite numbers with lo ≤ hi, got \[NaN, NaN\]$/);
  assert.throws(() => renderLineChart(base(series, { yRange: [NaN, 1] })), /o\.yRange must be \[lo, hi\]/);
  assert.throws(() => renderLineChart(base(series, { xRange: [5, 1] })), /o\.xRange must be \[lo, hi\]/);
  // A range of one value is padded (x) or left to the data (y), as before.
  assertWellFormedSvg(renderLineChart(base(series, { xRange: [3, 3], yRange: [1, 1] })));
  assertWellFormedSvg(renderLineChart(base(series, { xLog: true, xRange: [0.5, 100] })));
  // The right axis: NaN wrote NaN coordinates into the SVG; a range that runs downwards is allowed.
  const right = [{ label: 'r', points: [[1, 0.5], [10, 0.25]] as [number, number][], axis: 'right' as const }];
  assert.throws(() => renderLineChart(base(right, { rightAxis: { label: 'kv', range: [NaN, 1] } })), /^TypeError: renderLineChart: o\.rightAxis\.range must be \[a, b\], two finite numbers, got \[NaN, 1\]$/);
  assert.throws(() => renderLineChart(base(right, { rightAxis: { label: 'kv', range: [0, 1], ticks: [0, NaN] } })), /o\.rightAxis\.ticks must be finite numbers/);
  const svg = renderLineChart(base(right, { rightAxis: { label: 'kv', range: [1, 0] } }));
  assertWellFormedSvg(svg);
  assert.ok(!svg.includes('NaN'));
});

test('a long legend wraps onto more rows and the image grows to fit', () => {
  const many = Array.from({ length: 12 }, (_, i) => ({ label: `a rather long series name ${i}`, points: [[0, i], [1, i + 1]] as [number, number][] }));
  const svg = renderLineChart(base(many));
  assertWellFormedSvg(svg);
  const height = Number(/height="(\d+)"/.exec(svg)![1]);
  assert.ok(height > 420, `taller image: ${height}`);
  const legendYs = new Set([...svg.matchAll(/<text x="[\d.]+" y="([\d.]+)" dominant-baseline="middle">a rather/g)].map((m) => m[1]));
  assert.ok(legendYs.size > 1, 'several legend rows');
  assert.equal(new Set(svg.match(/stroke="#[0-9a-f]{6}" stroke-width="1.8"/g)).size, 10, 'the palette cycles through 10 colours');
});

test('fitness.svg, drawn by the shared renderer, is well formed', () => {
  const rec = (g: number, stage: string) => ({ generation: g, stage, stageGeneration: 0, best: g, mean: g - 0.5, median: g - 0.2, sigma: 0.1, timeS: 1, elapsedS: g, etaS: 0, info: { kv: 1 - g / 10 } });
  const svg = renderFitnessSvg([rec(0, 'a & b'), rec(1, 'a & b'), rec(2, '<c>')], 'fit "1"');
  assertWellFormedSvg(svg);
  assert.ok(svg.includes('>&lt;c&gt;</text>') && svg.includes('fit &quot;1&quot;'));
  assert.match(svg, />mean KV-cache fraction<\/text>/);
  assertWellFormedSvg(renderFitnessSvg([]));
});

test('renderLineChart names a missing axis label or a series without a label', () => {
  assert.throws(() => renderLineChart({ title: 't', series: [{ label: 'a', points: [[1, 2]] }] } as unknown as LineChartOptions), /^TypeError: renderLineChart: o\.xLabel must be a string, got undefined$/);
  assert.throws(() => renderLineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ points: [[1, 2]] }] } as unknown as LineChartOptions), /^TypeError: renderLineChart: o\.series\[0\] must be a series/);
});
