/** A resume must run on the prompts the run started with: an edited JSONL task file is refused, not used. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { evolveNamm } from '../../src/evolve/namm-evolution.js';
import { MODEL, storyRecords, tinyCurriculum, withTempDir } from './namm-helpers.js';

test('resume refuses a JSONL task file whose records changed since the run started', { timeout: 120000 }, () => withTempDir(async (dir) => {
  const jsonl = join(dir, 'stories.jsonl');
  const write = (records: ReturnType<typeof storyRecords>) => writeFile(jsonl, records.map((r) => JSON.stringify(r) + '\n').join(''));
  const curriculum = (generations: number) => ({
    ...tinyCurriculum(), fitness: {}, calibration: { limit: 1 },
    stages: [{ name: 'stories', generations, samplesPerTask: 1, tasks: [{ jsonl: 'stories.jsonl', name: 'story' }] }],
  });
  const path = join(dir, 'c.json');
  await write(storyRecords(2));
  await writeFile(path, JSON.stringify(curriculum(1)));
  const out = join(dir, 'run');
  await evolveNamm({ curriculum: path, model: MODEL, out, progress: false });

  // Other prompts under the same path: the stage's definition is unchanged, its prompts are not.
  await write(storyRecords(3).slice(1));
  await writeFile(path, JSON.stringify(curriculum(2)));
  await assert.rejects(evolveNamm({ curriculum: path, model: MODEL, out, resume: true, progress: false }),
    /the prompts of task "story" \(.*stories\.jsonl has changed\) differ from those the run in .* started with/);

  // The same prompts again: the resume goes on.
  await write(storyRecords(2));
  const r = await evolveNamm({ curriculum: path, model: MODEL, out, resume: true, progress: false });
  assert.equal(r.generation, 2);
}));
