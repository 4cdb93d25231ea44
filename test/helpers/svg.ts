/** Checks on hand-written SVG text for the plot tests. */
import assert from 'node:assert/strict';

/**
 * Asserts that svg is one well-formed <svg> element: every tag closed in order, attributes quoted, no raw '<', '>'
 * or stray '&' in text or attribute values.
 */
export function assertWellFormedSvg(svg: string): void {
  const doc = svg.trim();
  assert.match(doc, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/, 'starts with the svg element');
  assert.ok(doc.endsWith('</svg>'), 'ends with </svg>');
  const stack: string[] = [];
  let closedRoot = false;
  for (const [tok] of doc.matchAll(/<[^<>]*>|[^<>]+|[<>]/g)) {
    if (!tok.startsWith('<') || tok === '<') {
      assert.ok(!/[<>]/.test(tok), `raw angle bracket in text: ${JSON.stringify(tok)}`);
      assert.ok(!/&(?!amp;|lt;|gt;|quot;|#39;)/.test(tok), `stray & in text: ${JSON.stringify(tok)}`);
      if (tok.trim()) assert.ok(stack.length > 0, 'text outside the root element');
      continue;
    }
    assert.ok(!closedRoot, `content after the root element: ${tok}`);
    const m = /^<(\/?)([A-Za-z][\w-]*)((?:\s+[\w:-]+="[^"<>]*")*)\s*(\/?)>$/.exec(tok);
    assert.ok(m, `malformed tag: ${tok}`);
    const [, close, name, attrs, self] = m;
    assert.ok(!/&(?!amp;|lt;|gt;|quot;|#39;)/.test(attrs!), `stray & in attributes: ${tok}`);
    if (close) {
      assert.equal(stack.pop(), name, `</${name}> closes the innermost open element`);
      if (stack.length === 0) closedRoot = true;
    } else if (!self) stack.push(name!);
    else assert.ok(stack.length > 0, 'self-closed element outside the root');
  }
  assert.deepEqual(stack, [], 'every element is closed');
  assert.ok(closedRoot, 'the root element is closed');
}

/** The `d` attributes of the <path> elements. */
export const pathsOf = (svg: string): string[] => [...svg.matchAll(/<path d="([^"]+)"/g)].map((m) => m[1]!);

/** The vertices (x, y) of a path's d attribute. */
export const verticesOf = (d: string): [number, number][] =>
  d.split(' ').map((p) => p.slice(1).split(',').map(Number) as [number, number]);

/** The plot frame: the unfilled <rect>, as [left, top, right, bottom]. */
export function frameOf(svg: string): [number, number, number, number] {
  const m = /<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="none"/.exec(svg);
  assert.ok(m, 'the plot has a frame');
  const [x, y, w, h] = m.slice(1).map(Number) as [number, number, number, number];
  return [x, y, x + w, y + h];
}

/** The labels of the left y axis ticks (right-aligned texts left of the frame), as numbers. */
export const yTickLabels = (svg: string): number[] =>
  [...svg.matchAll(/<text x="[\d.]+" y="[\d.]+" text-anchor="end"[^>]*>([^<]*)<\/text>/g)].map((m) => Number(m[1]));
