/** `namm eval`: every record under every memory policy; JSON lines per (record, policy) and a summary table. */
import type { Command } from 'commander';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MemoryTraceRecorder, recordingPolicy, saveMemoryTrace } from '../memory/matched.js';
import type { MemoryPolicy } from '../memory/policy.js';
import { parsePolicySpec, specWithTrace } from '../memory/spec.js';
import { loadLongBenchConfig, readJsonlLines } from '../tasks/longbench.js';
import { shortJson } from '../util/show.js';
import { checkMetricOptions, METRIC_OPTION_VALUES, type MetricOptions } from '../tasks/metrics/index.js';
import { chatWrapping, checkScorable, likelihoodAnswers, LIKELIHOOD_METRIC, RECORD_SCORES, recordPrompt, runRecord, type RecordResult, type RecordScore } from '../eval/runner.js';
import { renderScoreVsKvSvg } from '../eval/plot.js';
import { formatSummary, rowLabel, SUMMARY_KEYS, summarize, withTaskAverages, type SummaryKey } from '../eval/summary.js';
import { createProgress } from './progress.js';
import { BOTH_BUDGETS, collect, intOption, traceFollower, WEIGHTS_FLAGS, WEIGHTS_HELP, weightsOption, loadCliModel } from './util.js';
import type { WeightStorage } from '../models/pack.js';
import { appendLineSync, makeFolders, makeTemporaryFolder, writeFileVia } from '../util/files.js';
import { acquireRunLock } from '../util/run-lock.js';
import type { TaskRecord } from '../tasks/record.js';
import { DEFAULT_CHUNK_SIZE } from '../runtime/session.js';
import { tokenizerFingerprint } from '../models/fingerprint.js';

/** Marks a likelihood result scored with each alternative answer read on its own (likelihoodAnswers). */
const EACH_ANSWER = 'each answer';

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
  contextWindow?: number;
  chunkSize?: number;
  threads?: number;
  match?: string;
  score?: string;
  weights?: WeightStorage;
  metricOption?: string[];
  by?: string;
  chatTemplate?: boolean;
}

/** `--by length,depth`: the breakdown of the table, checked. */
export function parseSummaryKeys(value: string | undefined): SummaryKey[] {
  if (value === undefined) return [];
  // As tasks generate's lists: an empty item (a trailing comma) and a key given twice are refused, not dropped.
  const keys = value.split(',').map((k) => k.trim());
  for (const k of keys) if (!(SUMMARY_KEYS as readonly string[]).includes(k)) throw new Error(`--by takes ${SUMMARY_KEYS.join(', ')} (comma-separated), got "${k === '' ? value : k}"`);
  const twice = keys.find((k, i) => keys.indexOf(k) < i);
  if (twice !== undefined) throw new Error(`--by lists ${twice} twice ("${value}")`);
  return keys as SummaryKey[];
}

/**
 * `--metric-option key=value` (repeatable) as MetricOptions, checked: the corrected metric variants (rougeRecursion,
 * classification, codeSimMatcher, kvRetrievalMatch), which only the library could ask for.
 */
export function parseMetricOptions(items: readonly string[] | undefined): MetricOptions {
  const out: Record<string, string> = {};
  for (const item of items ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`--metric-option must look like key=value (e.g. rougeRecursion=corrected), got "${item}"`);
    const key = item.slice(0, eq).trim(), value = item.slice(eq + 1).trim();
    if (Object.hasOwn(out, key)) throw new Error(`--metric-option ${key}= given twice`);
    out[key] = value;
  }
  return checkMetricOptions(out as MetricOptions);
}


/** A file name for a record's trace: the id itself when it is a safe name, else its hash (never two ids, one file). */
const traceName = (id: string): string => (/^[\w.-]{1,100}$/.test(id) ? id : createHash('sha256').update(id).digest('hex').slice(0, 32));

export function register(program: Command): void {
  program
    .command('eval')
    .description('evaluate memory policies on task records (LongBench JSONL or `namm tasks generate` output)')
    .requiredOption('-m, --model <path>', 'model folder, .gguf or llama2.c .bin')
    .requiredOption('-d, --data <file>', 'task records, JSON lines (repeatable)', collect)
    .option('--memory <spec>', 'memory policy (repeatable), e.g. namm:FILE.namm, h2o:ratio=0.5', collect)
    .option('--longbench-config <dir>', 'folder with LongBench dataset2prompt.json and dataset2maxlen.json')
    .option('--limit <n>', 'first n records of each file', intOption('--limit', 1))
    .option('-o, --out <dir>', 'write results.jsonl (resumable), summary.json and score-vs-kv.svg here')
    .option('--query-aware', 'compress context and question together (default: the context only, kvpress protocol)')
    .option('--no-full', 'do not add the full-cache reference run')
    .option('--max-prompt-tokens <n>', 'prompt budget; longer prompts are cut in the middle', intOption('--max-prompt-tokens', 2))
    .option('--context-window <n>', "context the budget is taken from: n less each record's new tokens (default: the model's context; the reference's LongBench runs: 32768)", intOption('--context-window', 2))
    .option('--chunk-size <n>', 'prefill chunk size in tokens (default 128, as the reference; a baseline that acts after every chunk evicts elsewhere with another size)', intOption('--chunk-size', 1))
    .option('--threads <n>', 'kernel threads', intOption('--threads', 1))
    .option('--match <spec>', 'record this policy\'s cache sizes on every record; `matched(SPEC)` without trace= then follows them (matched memory)')
    .option('--score <kind>', 'task: the task metric of the greedy answer (default); likelihood: exp(−mean NLL) of the gold answer, teacher-forced')
    .option(WEIGHTS_FLAGS, WEIGHTS_HELP, weightsOption)
    .option('--metric-option <key=value>', `a corrected metric variant (repeatable): ${Object.entries(METRIC_OPTION_VALUES).map(([k, v]) => `${k}=${v.join('|')}`).join(', ')}; the default is the official code`, collect)
    .option('--chat-template', "wrap each prompt in the model's chat template, as LongBench's pred.py does for chat models (not trec, triviaqa, samsum, lsht, lcc, repobench-p; the NAMM reference does not)")
    .option('--by <keys>', 'break each task down by length (the length a generated record was made for) and/or depth (its needle depth): --by length, --by length,depth')
    .option('--json', 'print the summary as JSON')
    .action(async (o: EvalCliOptions) => {
      const scoreKind = (o.score ?? 'task') as RecordScore;
      if (!RECORD_SCORES.includes(scoreKind)) throw new Error(`--score must be ${RECORD_SCORES.join(' or ')}, got "${o.score}"`);
      if (o.maxPromptTokens !== undefined && o.contextWindow !== undefined) throw new Error(BOTH_BUDGETS);
      const metricOptions = parseMetricOptions(o.metricOption);
      const by = parseSummaryKeys(o.by);
      // Every spec is checked before the model loads (a misspelt one cost the whole load).
      // The --match policy runs first on each record, so its trace exists when the matched runs need it.
      const specs = [...new Set([...(o.match ? [o.match] : []), ...(o.full ? ['full'] : []), ...(o.memory ?? [])])];
      if (specs.length === 0) throw new Error('nothing to evaluate: give --memory or leave the full-cache run on');
      if (o.match?.trim().toLowerCase() === 'full') throw new Error('--match full: the full cache never evicts, so there is nothing to match');
      // A `matched(...)` spec that names no trace takes, per record, the trace of the --match policy. Every spec is
      // checked here, those included, so that a bad one fails before the first record runs.
      const needsRecordTrace = traceFollower();
      const unmatched = specs.filter((s) => s !== 'full' && needsRecordTrace(s));
      if (unmatched.length && !o.match) throw new Error(`${unmatched[0]} has no trace=FILE: give one, or --match SPEC to record it per record`);
      if (o.match && needsRecordTrace(o.match)) throw new Error('--match must name a policy with its own cache sizes, not a matched(...) one');
      // Static policies are parsed once (errors surface before any work); per-record matched ones on use.
      const policies = specs.map((s) => ({ spec: s, policy: s === 'full' || needsRecordTrace(s) ? null : parsePolicySpec(s) }));
      // The data too, before the model loads: a bad record is refused at once.
      const records: TaskRecord[] = [];
      // Per id: the record, its text and that text's digest (which each result carries).
      const byId = new Map<string, { record: TaskRecord; text: string; digest: string }>();
      // Where each record was read, for messages about it ("file:line").
      const origin = new Map<TaskRecord, string>();
      for (const f of o.data) {
        for (const { record: rec, line } of readJsonlLines(f).slice(0, o.limit ?? Infinity)) {
          // Results are kept per (record id, policy): a record given twice runs once, two different ones may not share an id.
          const text = JSON.stringify(rec), seen = byId.get(rec._id);
          if (seen === undefined) { byId.set(rec._id, { record: rec, text, digest: digest(text) }); records.push(rec); origin.set(rec, `${f}:${line}`); } else if (seen.text !== text) {
            throw new Error(`${f}:${line}: its record and ${origin.get(seen.record)}'s are different but share the _id ${shortJson(rec._id)}; results are kept per _id, so give them distinct ids`);
          }
        }
      }
      if (records.length === 0) throw new Error(`no records in ${o.data.join(', ')} (no line holds one)`);
      // Before the model runs for any of them: a record the metric cannot score ended the run after the ones before.
      if (scoreKind === 'task') {
        for (const rec of records) {
          try { checkScorable([rec], metricOptions); } catch (err) { throw new Error(`${origin.get(rec)}: ${(err as Error).message}`); }
        }
        // And across records (a task's records scored by two metrics), which one record at a time cannot see.
        checkScorable(records, metricOptions);
      }
      // The LongBench config too (a file given for its folder cost a model load first).
      const config = o.longbenchConfig ? loadLongBenchConfig(o.longbenchConfig) : undefined;
      // One eval at a time on an --out folder (taken before the model loads, so a second one is refused at once): two
      // started together both passed the run.json check before either wrote it, then appended results of two setups
      // to one results.jsonl. A folder the lock made is removed again if the run fails before writing into it.
      const lock = o.out ? acquireRunLock(o.out, { command: 'namm eval', resumeHint: 'the same command continues its run' }) : null;
      try {
        const model = await loadCliModel(o.model, o.weights);
        if (o.threads) model.backend.threads = o.threads;
        if (o.chatTemplate && !model.tokenizer?.applyChatTemplate) throw new Error(`--chat-template: ${o.model} has no chat template (tokenizer_config.json's chat_template, chat_template.jinja, or a GGUF file's tokenizer.chat_template)`);
        // Rendered once before run.json is written: a template that fails on a user message (a raise_exception, a
        // syntax error) failed at the first record, after the run's folder had been set up.
        if (o.chatTemplate) chatWrapping(model.tokenizer!, o.model);
        const runOptions = { longbenchConfig: config, queryAware: o.queryAware, maxPromptTokens: o.maxPromptTokens, contextWindow: o.contextWindow, score: scoreKind, chunkSize: o.chunkSize, metricOptions, chatTemplate: !!o.chatTemplate };
        // Every record's prompt is built once before run.json is written (as evolve checks its curriculum): one that
        // cannot run (no generation length without --longbench-config, a question longer than the prompt budget)
        // failed at its turn, after the folder had been set up for this setup, so the corrected command was refused
        // there as "another setup", and without --out the results before it were lost. A folder whose run.json is
        // there already keeps every result as it comes, so a rerun (often of records all done) is not held up by it.
        if (!o.out || !existsSync(join(o.out, 'run.json'))) {
          const checking = createProgress(records.length, 'checking prompts');
          const otherTokenizer: string[] = [];
          records.forEach((rec, i) => {
            let prompt: ReturnType<typeof recordPrompt>;
            try { prompt = recordPrompt(model, rec, runOptions); } catch (err) { checking.stop(); throw new Error(`${origin.get(rec)}: ${(err as Error).message}`); }
            // A generated record counts its prompt's tokens with the tokenizer it was sized with: far from this model's
            // count, it was made for another model, and runs at another length than its target_length says.
            const file = origin.get(rec)!.replace(/:\d+$/, '');
            if (rec.target_length !== undefined && typeof rec.length === 'number' && rec.length > 0 && !otherTokenizer.some((w) => w.startsWith(`${file}:`))
              && Math.abs(prompt.promptTokens - rec.length) > Math.max(2, 0.01 * rec.length)) {
              otherTokenizer.push(`${origin.get(rec)}: ${rec.length} prompt tokens when it was made for ${rec.target_length}, ${prompt.promptTokens} with this model's tokenizer`);
            }
            checking.update(i + 1);
          });
          checking.stop();
          for (const w of otherTokenizer) {
            process.emitWarning(`namm: records sized with another tokenizer (${w}): they run at other lengths than they were made for; generate them with --tokenizer ${o.model}`, { code: 'NAMM_RECORDS_OTHER_TOKENIZER' });
          }
        }
        // Without --out the traces are only needed during this run: the temporary folder goes when the process ends
        // (an error included; one a signal left behind goes at the next such run), rather than one more folder left in
        // the temporary directory by every run.
        const traceDir = o.match ? (o.out ? join(o.out, 'traces') : makeTemporaryFolder('namm-traces-')) : null;
        if (traceDir) makeFolders(traceDir, 'trace folder');

        const resultsFile = o.out ? join(o.out, 'results.jsonl') : null;
        const results: RecordResult[] = [];
        const done = new Set<string>();
        if (resultsFile) {
          makeFolders(o.out!, 'output folder');
          // Results are reused by (record, policy) on a rerun, so they must come from the same setup: the model, the
          // score kind and the prompt options are kept in run.json and a different setup is refused.
          const runFile = join(o.out!, 'run.json');
          const setup = {
            model: resolve(o.model), score: scoreKind, queryAware: !!o.queryAware, maxPromptTokens: o.maxPromptTokens ?? null,
            contextWindow: o.contextWindow ?? null,
            longbenchConfig: o.longbenchConfig ? resolve(o.longbenchConfig) : null, match: o.match ?? null,
            // Its content too: the path alone let results scored under other templates or lengths be reused.
            longbenchConfigDigest: config ? digest(JSON.stringify(config)) : null,
            // A baseline that acts after every chunk evicts at other points with another chunk size.
            chunkSize: o.chunkSize ?? DEFAULT_CHUNK_SIZE,
            // Another metric variant scores the same predictions otherwise.
            metricOptions,
            chatTemplate: !!o.chatTemplate,
            // Weights converted at load (q8_0, q4_0, f16, bf16 where the file had float32 matrices) are another model;
            // packed ones hold the file's own values (the same results as f32), so they count as f32.
            weights: model.convertedWeights ?? 'f32',
            // The path alone let results of the model that was there before (then retrained, or replaced) be reused.
            modelFingerprint: model.fingerprint,
            // Which covers config.json and the weights only: another chat template or BOS rule is another prompt.
            tokenizerFingerprint: model.tokenizer ? tokenizerFingerprint(model.tokenizer) : null,
          };
          // Keys an older run.json lacks held their defaults then; one without the fingerprint is trusted to the path
          // it names (and gains the fingerprint of the model it is resumed with).
          const defaults: Record<string, unknown> = { chunkSize: DEFAULT_CHUNK_SIZE, weights: 'f32', modelFingerprint: model.fingerprint, tokenizerFingerprint: setup.tokenizerFingerprint, contextWindow: null, longbenchConfigDigest: setup.longbenchConfigDigest, metricOptions: {}, chatTemplate: false };
          // The files a policy reads (a .namm, a trace), by content: the same spec with another file behind it is
          // another policy, whose results cannot be reused.
          const files: Record<string, Record<string, string>> = {};
          for (const s of specs) { const f = policyFileDigests(s); if (Object.keys(f).length) files[s] = f; }
          if (existsSync(runFile)) {
            let before: Record<string, unknown>;
            try { before = JSON.parse(readFileSync(runFile, 'utf8')) as Record<string, unknown>; } catch { throw new Error(`${runFile} is not valid JSON; delete it if the results beside it are from this setup`); }
            const was = (k: string) => before[k] ?? defaults[k] ?? null;
            const diff = Object.entries(setup).filter(([k, v]) => JSON.stringify(was(k)) !== JSON.stringify(v)).map(([k]) => k);
            if (diff.length) {
              const label = (k: string) => (k === 'modelFingerprint' ? "the model's content (fingerprint of its config and weights)" : k === 'tokenizerFingerprint' ? "the tokenizer's content (its files, chat template and BOS and end ids)" : k === 'longbenchConfigDigest' ? "the LongBench config's content" : k);
              // Weights are recorded as what they hold: "f32" is the file's own values, which auto and packed load too.
              const shown = (k: string, v: unknown) => (k === 'weights' && v === 'f32' ? '"f32" (the file\'s own values: auto, f32 or packed)' : JSON.stringify(v));
              throw new Error(`${o.out} holds results of another setup (${diff.map((k) => `${label(k)}: ${shown(k, was(k))} there, ${shown(k, (setup as Record<string, unknown>)[k])} now`).join('; ')}); use another --out`);
            }
            const beforeFiles = (before.policyFiles ?? {}) as Record<string, Record<string, string>>;
            for (const [s, f] of Object.entries(files)) {
              const had = beforeFiles[s];
              if (!had) continue;
              for (const [path, digest] of Object.entries(f)) {
                const was = had[path];
                if (was !== undefined && was !== digest) throw new Error(`${path} (read by ${s}) has changed since ${o.out} was evaluated with it; use another --out`);
              }
              // The same spec can name another file (a relative path, run from another folder): the results are reusable
              // only if it holds what was evaluated, whatever its path.
              const wasDigests = new Set(Object.values(had)), nowDigests = new Set(Object.values(f));
              if (wasDigests.size !== nowDigests.size || [...nowDigests].some((d) => !wasDigests.has(d))) {
                throw new Error(`${s} reads ${Object.keys(f).join(', ')}, which differs from what ${o.out} was evaluated with (${Object.keys(had).join(', ')}); use another --out`);
              }
            }
            // Each spec keeps the paths it read last (their contents are those recorded, checked above).
            const merged = { ...before, modelFingerprint: model.fingerprint, tokenizerFingerprint: setup.tokenizerFingerprint, longbenchConfigDigest: setup.longbenchConfigDigest, policyFiles: { ...beforeFiles, ...files } };
            if (JSON.stringify(merged) !== JSON.stringify(before)) writeFileVia(runFile, (tmp) => writeFileSync(tmp, JSON.stringify(merged, null, 2) + '\n'));
          } else {
            // Results without the file that says what made them (deleted, copied in, from a version that wrote none)
            // were all taken as this setup's.
            if (existsSync(resultsFile) && readFileSync(resultsFile, 'utf8').split('\n').some((line) => parsesAsJson(line))) {
              throw new Error(`${o.out} holds results (results.jsonl) but no run.json saying what setup made them; use another --out, or delete results.jsonl to evaluate there again`);
            }
            writeFileVia(runFile, (tmp) => writeFileSync(tmp, JSON.stringify({ ...setup, policyFiles: files }, null, 2) + '\n'));
          }
          if (existsSync(resultsFile)) {
            const text = readFileSync(resultsFile, 'utf8');
            // Lines that are not JSON (one cut by a crash or a full disk) are dropped from the file, which is rewritten
            // whole without them; their pairs simply run again. A last line whole but for its newline gets one.
            const lines = text.split('\n');
            const unreadable = lines.filter((line) => line.trim() && !parsesAsJson(line));
            if (unreadable.length > 0) {
              const kept = lines.filter((line) => line.trim() && parsesAsJson(line));
              writeFileVia(resultsFile, (tmp) => writeFileSync(tmp, kept.map((line) => line + '\n').join('')));
            } else if (text.length > 0 && !text.endsWith('\n')) appendLineSync(resultsFile, '');
            for (const line of lines) {
              if (!line.trim()) continue;
              try {
                const parsed = JSON.parse(line) as RecordResult & { spec?: string; recordDigest?: unknown; likelihoodOf?: unknown };
                // A result without a score (a NaN likelihood, which an older version wrote as null) is no result:
                // the pair runs again, and a model that still gives NaN logits is then refused by name, as in a new run.
                if (typeof parsed.score !== 'number') continue;
                // Older versions wrote no `spec`: their `policy` is the spec (the summary reads it so), so the pair is done
                // rather than run again and then counted twice.
                const r = { ...parsed, spec: typeof parsed.spec === 'string' ? parsed.spec : parsed.policy };
                // A record edited in place under the same _id (its answers, its text) is another record: its result
                // is stale and the pair runs again (its new line is the one read from then on). Lines written before
                // results carried the digest are trusted to the id.
                const now = byId.get(r.id);
                if (typeof parsed.recordDigest === 'string' && now !== undefined && parsed.recordDigest !== now.digest) continue;
                // A likelihood from before each alternative answer was read on its own (they were joined into one
                // target) is another quantity for a record with alternatives: that pair runs again.
                if (parsed.metric === LIKELIHOOD_METRIC && parsed.likelihoodOf !== EACH_ANSWER && now && likelihoodAnswers(now.record).length > 1) continue;
                const key = `${r.id}\u0000${r.spec}`;
                if (done.has(key)) continue; // a pair written twice by an earlier version counts once
                results.push(r); done.add(key);
              } catch { /* not JSON: dropped from the file above */ }
            }
          }
        }
        const total = records.length * policies.length;
        const progress = createProgress(total, 'eval');
        // Pairs of this run already done (the results file may also hold other records' or policies' results).
        let finished = 0;
        for (const record of records) for (const { spec } of policies) if (done.has(`${record._id}\u0000${spec}`)) finished++;
        progress.update(finished);
        for (const record of records) {
          const traceFile = traceDir ? join(traceDir, `${traceName(record._id)}.json`) : null;
          // Recorded where none is on disk, and again where the --match pair itself runs again (a record edited in place
          // under its _id: the matched runs followed the old record's trace).
          const matchRuns = o.match !== undefined && !done.has(`${record._id}\u0000${o.match}`);
          const needTrace = traceFile !== null && (!existsSync(traceFile) || matchRuns) && policies.some((p) => needsRecordTrace(p.spec) && !done.has(`${record._id}\u0000${p.spec}`));
          for (const { spec, policy } of policies) {
            const isDone = done.has(`${record._id}\u0000${spec}`);
            const recordHere = spec === o.match && needTrace;
            if (isDone && !recordHere) continue;
            let run: MemoryPolicy | null = policy;
            const recorder = recordHere ? new MemoryTraceRecorder(spec) : null;
            if (recorder) run = recordingPolicy(policy!, recorder);
            else if (needsRecordTrace(spec)) run = parsePolicySpec(specWithTrace(spec, traceFile!));
            let r: RecordResult;
            // Named by file and line, as the checks before the run name a record.
            try { r = await runRecord(model, record, run, runOptions); } catch (err) { throw new Error(`${origin.get(record)}: ${(err as Error).message}`, { cause: err }); }
            // Written only after a whole run, so a trace file on disk is always complete.
            if (recorder) saveMemoryTrace(traceFile!, recorder.toTrace());
            if (isDone) continue;
            // JSON would write a NaN or infinite score as null (runRecord refuses to return one; this keeps it so).
            if (!Number.isFinite(r.score)) throw new Error(`record ${record._id} under ${spec}: its score is ${r.score}, which results.jsonl cannot hold`);
            const line = { ...r, policy: spec, spec, recordDigest: byId.get(record._id)!.digest, ...(r.metric === LIKELIHOOD_METRIC ? { likelihoodOf: EACH_ANSWER } : {}) };
            results.push(line);
            done.add(`${record._id}\u0000${spec}`);
            if (resultsFile) appendLineSync(resultsFile, JSON.stringify(line));
            progress.update(++finished, { task: record.dataset, policy: spec });
          }
        }
        progress.stop();
        // This run's records and policies only: the folder may hold results of others from earlier runs.
        const asked = new Set(specs);
        const taskRows = summarize(results.filter((r) => byId.has(r.id) && asked.has((r as RecordResult & { spec?: string }).spec ?? r.policy)), 'full', by);
        // Several tasks: each policy's plain mean over them too, as LongBench's average is taken.
        const rows = by.length === 0 ? withTaskAverages(taskRows, 'full') : taskRows;
        if (o.out) {
          // Whole or not at all, as every output file (README "Output files"): a kill mid-write leaves the old file.
          writeFileVia(join(o.out, 'summary.json'), (tmp) => writeFileSync(tmp, JSON.stringify(rows, null, 2) + '\n'));
          // One point per (task, policy): the task's score against the cache fraction the policy held on it.
          const points = rows.map((r) => ({ policy: r.policy, kvFraction: r.meanKvFraction, score: r.score, task: rowLabel(r) }));
          writeFileVia(join(o.out, 'score-vs-kv.svg'), (tmp) => writeFileSync(tmp, renderScoreVsKvSvg(points)));
        }
        process.stdout.write(o.json ? JSON.stringify(rows) + '\n' : formatSummary(rows) + '\n');
      } finally {
        lock?.release();
      }
    });
}

/** SHA-256 of a text, 16 hex digits. */
function digest(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * SHA-256 (16 hex digits) of every existing file a policy spec names: `namm:PATH` and `trace=PATH`. A path ends
 * where the spec parser ends it, at a comma (or the spec's end): it may hold parentheses, runs/exp(2)/best.namm.
 */
export function policyFileDigests(spec: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of spec.matchAll(/(?:^|[(:,])(?:namm:|trace=)([^,]+)/g)) {
    const path = resolve(m[1]!.trim());
    if (existsSync(path) && statSync(path).isFile()) out[path] = digest(readFileSync(path));
  }
  return out;
}

function parsesAsJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

