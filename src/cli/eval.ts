/** `namm eval`: every record under every memory policy; JSON lines per (record, policy) and a summary table. */
import type { Command } from 'commander';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../models/model.js';
import { parsePolicySpec } from '../memory/spec.js';
import { loadLongBenchConfig, readJsonl } from '../tasks/longbench.js';
import { runRecord, type RecordResult } from '../eval/runner.js';
import { formatSummary, summarize } from '../eval/summary.js';
import { createProgress } from './progress.js';
import { collect, intOption } from './util.js';

interface EvalCliOptions {
  model: string;
  memory?: string[];
  data: string[];
  longbenchConfig?: string;
  limit?: number;
  out?: string;
  json?: boolean;
  queryAware?: boolean;
  full: boolean;
  maxPromptTokens?: number;
  threads?: number;
}

export function register(program: Command): void {
  program
    .command('eval')
    .description('evaluate memory policies on task records (LongBench JSONL or `namm tasks generate` output)')
    .requiredOption('-m, --model <path>', 'model folder, .gguf or llama2.c .bin')
    .requiredOption('-d, --data <file>', 'task records, JSON lines (repeatable)', collect)
    .option('--memory <spec>', 'memory policy (repeatable), e.g. namm:FILE.namm, h2o:ratio=0.5', collect)
    .option('--longbench-config <dir>', 'folder with LongBench dataset2prompt.json and dataset2maxlen.json')
    .option('--limit <n>', 'first n records of each file', intOption('--limit', 1))
    .option('-o, --out <dir>', 'write results.jsonl (resumable) and summary.json here')
    .option('--query-aware', 'compress context and question together (default: the context only, kvpress protocol)')
    .option('--no-full', 'do not add the full-cache reference run')
    .option('--max-prompt-tokens <n>', 'prompt budget; longer prompts are cut in the middle', intOption('--max-prompt-tokens', 2))
    .option('--threads <n>', 'kernel threads', intOption('--threads', 1))
    .option('--json', 'print the summary as JSON')
    .action(async (o: EvalCliOptions) => {
      const model = await loadModel(o.model);
      if (o.threads) model.backend.threads = o.threads;
      const config = o.longbenchConfig ? loadLongBenchConfig(o.longbenchConfig) : undefined;
      const specs = [...new Set([...(o.full ? ['full'] : []), ...(o.memory ?? [])])];
      if (specs.length === 0) throw new Error('nothing to evaluate: give --memory or leave the full-cache run on');
      const policies = specs.map((s) => ({ spec: s, policy: s === 'full' ? null : parsePolicySpec(s) }));
      const records = o.data.flatMap((f) => readJsonl(f).slice(0, o.limit ?? Infinity));
      if (records.length === 0) throw new Error('no records in the data files');

      const resultsFile = o.out ? join(o.out, 'results.jsonl') : null;
      const results: RecordResult[] = [];
      const done = new Set<string>();
      if (resultsFile) {
        mkdirSync(o.out!, { recursive: true });
        if (existsSync(resultsFile)) {
          for (const line of readFileSync(resultsFile, 'utf8').split('\n')) {
            if (!line.trim()) continue;
            try {
              const r = JSON.parse(line) as RecordResult & { spec: string };
              results.push(r); done.add(`${r.id}\u0000${r.spec}`);
            } catch { /* a line cut by a crash: that pair is simply run again */ }
          }
        }
      }
      const total = records.length * policies.length;
      const progress = createProgress(total, 'eval');
      let finished = done.size;
      progress.update(finished);
      for (const record of records) {
        for (const { spec, policy } of policies) {
          if (done.has(`${record._id}\u0000${spec}`)) continue;
          const r = await runRecord(model, record, policy, { longbenchConfig: config, queryAware: o.queryAware, maxPromptTokens: o.maxPromptTokens });
          const line = { ...r, policy: spec, spec };
          results.push(line);
          if (resultsFile) appendFileSync(resultsFile, JSON.stringify(line) + '\n');
          progress.update(++finished, { task: record.dataset, policy: spec });
        }
      }
      progress.stop();
      const rows = summarize(results.filter((r) => records.some((rec) => rec._id === r.id)));
      if (o.out) writeFileSync(join(o.out, 'summary.json'), JSON.stringify(rows, null, 2) + '\n');
      process.stdout.write(o.json ? JSON.stringify(rows) + '\n' : formatSummary(rows) + '\n');
    });
}
