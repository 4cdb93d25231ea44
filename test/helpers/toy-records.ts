/** Two tiny name-recall records (`tasks.jsonl` in `dir`) for CLI evaluation tests on the TinyStories test model. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function writeToyRecords(dir: string): string {
  const data = join(dir, 'tasks.jsonl');
  const records = [0, 1].map((i) => ({
    input: 'What was the girl called?', context: 'Once upon a time, there was a little girl named Lily. She had a toy car.'.repeat(4 + 2 * i),
    answers: ['Lily'], length: 80, dataset: 'toy_names', language: 'en', all_classes: null, _id: `toy-${i}`,
    metric: 'string_match_part', prompt_template: '{context}\nQuestion: {input}\nAnswer:', max_new_tokens: 4,
  }));
  writeFileSync(data, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return data;
}
