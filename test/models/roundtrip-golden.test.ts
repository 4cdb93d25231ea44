/** End to end: the converted files run through the runtime reproduce the golden greedy ids of SOURCE.md. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertModel } from '../../src/cli/convert.js';
import { convertRopeLayout } from '../../src/models/gguf.js';
import { encodeLlama2cCheckpoint } from '../../src/models/llama2c.js';
import { loadModelFiles } from '../../src/models/load.js';
import { Model } from '../../src/models/model.js';
import { GOLDEN_FROM_BOS, greedyFromBos as greedyIds } from '../helpers/golden.js';
import { tempDir } from '../helpers/temp.js';

const MODEL = '../shared/models/tinystories-656k';
const GOLDEN = GOLDEN_FROM_BOS;

async function greedyFromBos(path: string): Promise<number[]> {
  return greedyIds(await Model.fromPretrained(path));
}

test('GGUF F32 and Q8_0 (interleaved RoPE) and a llama2.c checkpoint all give the golden ids', async () => {
  const dir = tempDir('namm-golden-');
  try {
    for (const dtype of ['f32', 'q8_0']) {
      const p = join(dir, `ts-${dtype}.gguf`);
      await convertModel({ from: MODEL, to: 'gguf', out: p, dtype });
      assert.deepEqual(await greedyFromBos(p), GOLDEN, dtype);
    }
    const src = await loadModelFiles(MODEL);
    const weights = convertRopeLayout(src.config, src.weights, 'interleaved');
    writeFileSync(join(dir, 'model.bin'), encodeLlama2cCheckpoint({ ...src.config, ropeLayout: 'interleaved' }, weights));
    assert.deepEqual(await greedyFromBos(join(dir, 'model.bin')), GOLDEN, 'llama2.c');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
