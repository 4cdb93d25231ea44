/**
 * A resume must run on the prompts the run started with: an edited JSONL task file is refused, not used; a project
 * folder that moved (absolute paths change) is not a different run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { curriculumFingerprints, parseCurriculum } from '../../src/evolve/curriculum.js';
import { checkFingerprints, evolveNamm } from '../../src/evolve/namm-evolution.js';
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

test('a run resumes after its project folder moved: its fingerprints hold no absolute path', { timeout: 120000 }, () => withTempDir(async (dir) => {
  const project = join(dir, 'project');
  await mkdir(project);
  await writeFile(join(project, 'stories.jsonl'), storyRecords(2).map((r) => JSON.stringify(r) + '\n').join(''));
  const curriculum = (generations: number) => ({
    ...tinyCurriculum(), fitness: {}, calibration: { limit: 1 },
    stages: [{ name: 'stories', generations, samplesPerTask: 1, tasks: [{ jsonl: 'stories.jsonl', name: 'story' }] }],
  });
  await writeFile(join(project, 'c.json'), JSON.stringify(curriculum(1)));
  await evolveNamm({ curriculum: join(project, 'c.json'), model: MODEL, out: join(project, 'run'), progress: false });
  const moved = join(dir, 'elsewhere');
  await rename(project, moved);
  await writeFile(join(moved, 'c.json'), JSON.stringify(curriculum(2)));
  const r = await evolveNamm({ curriculum: join(moved, 'c.json'), model: MODEL, out: join(moved, 'run'), resume: true, progress: false });
  assert.equal(r.generation, 2);
}));

test('fingerprints: the portable form ignores where the files are, runs recorded in the legacy form still resume', () => {
  const at = (base: string, over: Record<string, unknown> = {}) => parseCurriculum({
    ...tinyCurriculum(), ...over,
    stages: [{ name: 's', generations: 1, samplesPerTask: 1, tasks: [{ jsonl: 'x.jsonl', name: 'x' }] }],
  }, 'c.json', base);
  const a = at('/one'), b = at('/two');
  assert.deepEqual(curriculumFingerprints(a), curriculumFingerprints(b));
  assert.notDeepEqual(curriculumFingerprints(a, 'legacy').stages, curriculumFingerprints(b, 'legacy').stages);
  const restored = (f: { settings: string; stages: string[] }) => ({ fingerprints: f }) as Parameters<typeof checkFingerprints>[0];
  const check = (was: { settings: string; stages: string[] }, c: typeof a) =>
    checkFingerprints(restored(was), curriculumFingerprints(c), () => curriculumFingerprints(c, 'legacy'), '/run');
  check(curriculumFingerprints(a), b);
  check(curriculumFingerprints(a, 'legacy'), a);
  // A legacy run still refuses a moved JSONL file (its records were not hashed then) and changed settings.
  assert.throws(() => check(curriculumFingerprints(a, 'legacy'), b), /stage 1 of the curriculum \(its name, tasks or samplesPerTask\) differs from the run in \/run/);
  const other = at('/one', { fitness: { cachePenalty: 0.5 } });
  assert.throws(() => check(curriculumFingerprints(a), other), /settings differ from those the run in \/run started with/);
  assert.throws(() => check(curriculumFingerprints(a, 'legacy'), other), /settings differ/);
});

test('fingerprints: a LongBench config folder counts by what it holds, not where it is', () => withTempDir(async (dir) => {
  const copy = async (name: string, edit: (prompts: Record<string, string>) => void = () => {}) => {
    const to = join(dir, name);
    await mkdir(to);
    const prompts = JSON.parse(await readFile('../shared/data/longbench/dataset2prompt.json', 'utf8')) as Record<string, string>;
    edit(prompts);
    await writeFile(join(to, 'dataset2prompt.json'), JSON.stringify(prompts));
    await copyFile('../shared/data/longbench/dataset2maxlen.json', join(to, 'dataset2maxlen.json'));
    return to;
  };
  const a = await copy('a'), b = await copy('b'), edited = await copy('c', (p) => { p.qasper = `${p.qasper}!`; });
  const settings = (folder: string, form?: 'legacy') =>
    curriculumFingerprints(parseCurriculum({ ...tinyCurriculum(), run: { longbenchConfig: folder } }, 'c.json', dir), form).settings;
  assert.equal(settings(a), settings(b));
  assert.notEqual(settings(a), settings(edited));
  assert.notEqual(settings(a, 'legacy'), settings(b, 'legacy'));
}));
