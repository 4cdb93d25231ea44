/** Shared pieces of the `namm evolve` tests: the tiny model, a story task it half-solves, a tiny curriculum. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/util/rng.js';
import type { TaskRecord } from '../../src/tasks/record.js';

export const MODEL = '../shared/models/tinystories-656k';

/**
 * Stories of ~700 tinystories tokens (past the model's 512 positions) whose answers the model sometimes produces
 * (with the full cache about a third of them score 1), so reference means are neither all zero nor all one.
 */
export function storyRecords(n: number): TaskRecord[] {
  const names = ['Lily', 'Tom', 'Ben', 'Sue', 'Max', 'Mia'];
  const places = ['park', 'beach', 'store', 'forest', 'garden', 'lake'];
  const things = ['ball', 'kite', 'dog', 'cat', 'car', 'doll'];
  return Array.from({ length: n }, (_, i) => {
    const rng = new Rng(`story|${i}`);
    const sentences: string[] = [];
    while (sentences.join(' ').length < 4300) {
      const who = names[rng.int(6)]!;
      sentences.push(`${who} went to the ${places[rng.int(6)]} with a ${things[rng.int(6)]}. ${who} was very happy.`);
    }
    return {
      input: `One day, ${names[i % 6]} went to the`, context: sentences.join(' '), answers: ['Lily', 'play'], length: 0,
      dataset: 'story', language: 'en', all_classes: null, _id: `story-${i}`, metric: 'string_match_part',
      prompt_template: '{context}\n\n{input}', max_new_tokens: 4,
    };
  });
}

/**
 * Two stages of one generation each, population 4: passkey at 700 tokens (the full cache scores 0 on it, so the
 * guarded normalisation leaves it out), then the story task added from a JSONL file. A cache penalty makes members
 * differ even where every score is 0.
 */
export function tinyCurriculum(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    description: 'test: passkey, then stories',
    seed: 11,
    cma: { popSize: 4, variant: 'separable', initSigma: 0.5 },
    run: { maxPromptTokens: 1000 },
    fitness: { cachePenalty: 0.25 },
    calibration: { limit: 2 },
    validation: { every: 0 },
    stages: [
      { name: 'retrieval', generations: 1, samplesPerTask: 2, tasks: [{ task: 'passkey', lengths: [700], samples: 3, seed: 2_000_000 }] },
      { name: 'stories', generations: 1, samplesPerTask: 2, addTasks: [{ jsonl: 'stories.jsonl', name: 'story' }] },
    ],
    ...overrides,
  };
}

/** Writes the curriculum and its JSONL beside it; returns the curriculum's path. */
export async function writeTinyCurriculum(dir: string, overrides: Record<string, unknown> = {}): Promise<string> {
  await writeFile(join(dir, 'stories.jsonl'), storyRecords(4).map((r) => JSON.stringify(r) + '\n').join(''));
  const path = join(dir, 'curriculum.json');
  await writeFile(path, JSON.stringify(tinyCurriculum(overrides), null, 2));
  return path;
}

export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'namm-evolve-'));
  try { await fn(dir); } finally { await rm(dir, { recursive: true, force: true }); }
}
