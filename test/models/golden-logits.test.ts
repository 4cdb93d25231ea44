/**
 * Every logit of the real TinyStories-656K model against an independent float64 forward (numpy, written from
 * transformers' formulas: scripts/golden-logits-fixture.py), as shipped and with three RoPE scalings in its config.
 * The golden greedy ids see only each step's argmax: a misread epsilon, θ or scaling rule can leave them all alike.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Model } from '../../src/models/model.js';
import { getBackend } from '../../src/tensor/index.js';
import { JsBackend } from '../../src/tensor/js.js';
import { tempDir } from '../helpers/temp.js';

const MODEL = resolve('../shared/models/tinystories-656k');
const FIXTURE = JSON.parse(readFileSync(new URL('../fixtures/golden-logits.json', import.meta.url), 'utf8')) as {
  prompt: number[]; vocab: number;
  variants: { name: string; config: Record<string, unknown>; positions: number[]; moved_from_shipped: number; logits_f32: string }[];
};
/** float64 against float32 arithmetic: namm differs by 2–7·10⁻⁶ here (logits up to ~15). */
const TOLERANCE = 5e-5;

test('logits of the real model match an independent float64 forward, as shipped and with linear, llama3 and YaRN RoPE scaling', async () => {
  const dir = tempDir('namm-golden-logits-');
  try {
    const config = JSON.parse(readFileSync(join(MODEL, 'config.json'), 'utf8')) as Record<string, unknown>;
    for (const v of FIXTURE.variants) {
      // Each scaling moves the logits far past the tolerance, or its case would pass without the scaling.
      if (Object.keys(v.config).length > 0) assert.ok(v.moved_from_shipped > 100 * TOLERANCE, v.name);
      // The model folder with this config.json (the other files linked).
      const folder = mkdtempSync(join(dir, 'variant-'));
      for (const f of readdirSync(MODEL)) if (f !== 'config.json') symlinkSync(join(MODEL, f), join(folder, f));
      writeFileSync(join(folder, 'config.json'), JSON.stringify({ ...config, ...v.config }));
      const want = new Float32Array(Uint8Array.from(Buffer.from(v.logits_f32, 'base64')).buffer);
      assert.equal(want.length, v.positions.length * FIXTURE.vocab);
      for (const backend of [getBackend(), new JsBackend()]) {
        const model = await Model.fromPretrained(folder, { backend });
        const got = model.createSessionWith(null).prefill(FIXTURE.prompt, { logits: 'all' });
        let worst = 0, at = '';
        v.positions.forEach((p, k) => {
          for (let j = 0; j < FIXTURE.vocab; j++) {
            const d = Math.abs(got[p * FIXTURE.vocab + j]! - want[k * FIXTURE.vocab + j]!);
            if (!(d <= worst)) { worst = d; at = `position ${p}, token ${j}`; }
          }
        });
        assert.ok(worst <= TOLERANCE, `${v.name}, ${backend.name}: ${worst} at ${at}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
