/**
 * Policy spec strings, as used on the command line and in result files:
 *
 *   spec    := name [":" options]  |  wrapper "(" spec ")" [":" options]
 *   options := key "=" value ("," key "=" value)*          (namm: the first item is the checkpoint path)
 *
 * e.g. `full`, `h2o:ratio=0.5`, `h2o:tokens=1024,recent=64`, `streaming:sinks=4,window=512`,
 * `snapkv:ratio=0.75,window=64,kernel=5,pool=max`, `namm:policy.namm,selection=per-head`,
 * `adakv(snapkv):ratio=0.5`, `matched(h2o):trace=run.json`. A wrapper's options that it does not know itself go to
 * the policy it wraps, so `adakv(snapkv):ratio=0.5` and `adakv(snapkv:ratio=0.5)` mean the same.
 */
import type { MemoryPolicy } from './policy.js';
import { type Budget, type Cadence, parseCadence, ratioBudget, tokenBudget } from './budget.js';
import { ScoredPolicy, withSinks } from './scored.js';
import { fullPolicy } from './full.js';
import { RANDOM_DEFAULTS, randomPolicy } from './random.js';
import { STREAMING_DEFAULTS, streamingPolicy, streamingWindowBudget } from './streaming.js';
import { h2oPolicy } from './h2o.js';
import { tovaPolicy } from './tova.js';
import { l2Policy } from './l2.js';
import { SNAPKV_DEFAULTS, type SnapKVPool, snapkvPolicy } from './snapkv.js';
import { ADAKV_DEFAULTS, adakvPolicy } from './adakv.js';
import { loadMemoryTrace, matchedPolicy } from './matched.js';
import { loadNammPolicy } from './namm/index.js';

export interface PolicyOptionInfo {
  key: string;
  /** What the value looks like, e.g. "R", "N", "max|avg". */
  value: string;
  /** Default, or "required" / "-" (none). */
  default: string;
  help: string;
}

export interface PolicyInfo {
  /** As written in a spec: "h2o", "adakv(SPEC)". */
  name: string;
  usage: string;
  summary: string;
  paper: string;
  needsAttention: string;
  acts: string;
  options: PolicyOptionInfo[];
}

interface Context {
  /** Inside matched(...): the budget and cadence come from the trace. */
  matched: boolean;
  /**
   * checkPolicySpec: a matched(...) without trace= is checked as far as it can be without its trace (which the
   * caller supplies later, see specWithTrace), and `traceless` is set.
   */
  traceLater?: { traceless: boolean };
  /** The options of the wrappers around this spec ("floor of adakv(...)"), named when an option is unknown. */
  outer?: string[];
}

type Options = Map<string, string>;

interface PolicyDef {
  info: PolicyInfo;
  /** A scoring baseline's `sinks=` is applied afterwards, by withSinks (which refuses sinks that fill its budget). */
  build(opts: Options, ctx: Context): MemoryPolicy;
}

const BUDGET_OPTIONS: PolicyOptionInfo[] = [
  { key: 'ratio', value: 'R', default: 'required*', help: 'fraction of tokens removed, 0 ≤ R < 1: keep ⌊T·(1−R)⌋ of the T tokens seen (kvpress)' },
  { key: 'tokens', value: 'N', default: 'required*', help: 'tokens kept per layer and KV head, N ≥ 1' },
];

/** The scoring baselines that take `sinks=S` through SinkGuard (streaming keeps sinks by its own rule). */
const SINK_GUARDED = ['random', 'h2o', 'tova', 'l2', 'snapkv'];
const SINKS_OPTION: PolicyOptionInfo = {
  key: 'sinks', value: 'S', default: '0 (the published rule)',
  help: 'the first S positions are always kept (attention sinks), whatever their score',
};

const everyOption = (dflt: string): PolicyOptionInfo => ({
  key: 'every', value: 'N|prefill|decode', default: dflt,
  help: 'act when the sequence length crosses a multiple of N tokens (1: every chunk and decode step), once at the end of the first prefill (prefill), or at the end of the prefill and every decode step but never inside a prefill (decode)',
});

const DEFS: PolicyDef[] = [
  {
    info: {
      name: 'full', usage: 'full', summary: 'keeps every token (the full-cache reference)', paper: '-',
      needsAttention: 'no', acts: 'never', options: [],
    },
    build: (o) => { noOptions('full', o); return fullPolicy(); },
  },
  {
    info: {
      name: 'random', usage: 'random:ratio=R|tokens=N[,seed=S][,sinks=S][,every=…]', summary: 'a uniform random subset per head (seeded)',
      paper: '-', needsAttention: 'no', acts: 'every chunk and decode step (every=1)',
      options: [...BUDGET_OPTIONS, { key: 'seed', value: 'S', default: String(RANDOM_DEFAULTS.seed), help: 'integer seed' }, SINKS_OPTION, everyOption('1')],
    },
    build: (o, ctx) => {
      allowOnly('random', o, ['ratio', 'tokens', 'seed', 'every'], ctx);
      const seed = o.has('seed') ? intValue('random', 'seed', o.get('seed')!, -(2 ** 31)) : undefined;
      return randomPolicy({ budget: budgetOf('random', o, ctx), seed, every: cadenceOf('random', o, ctx) });
    },
  },
  {
    info: {
      name: 'streaming', usage: 'streaming:window=W|ratio=R|tokens=N[,sinks=S][,every=…]',
      summary: 'the first `sinks` tokens plus the most recent ones', paper: 'StreamingLLM, arXiv 2309.17453', needsAttention: 'no',
      acts: 'every chunk and decode step (every=1)',
      options: [
        { key: 'window', value: 'W', default: 'required*', help: 'recent tokens kept besides the sinks (budget = sinks + W)' },
        ...BUDGET_OPTIONS,
        { key: 'sinks', value: 'S', default: String(STREAMING_DEFAULTS.sinks), help: 'attention-sink tokens always kept' },
        everyOption('1'),
      ],
    },
    build: (o, ctx) => {
      allowOnly('streaming', o, ['window', 'ratio', 'tokens', 'sinks', 'every'], ctx);
      const sinks = o.has('sinks') ? intValue('streaming', 'sinks', o.get('sinks')!, 0) : STREAMING_DEFAULTS.sinks;
      let budget: Budget | null;
      if (o.has('window')) {
        if (ctx.matched) throw new Error('matched(streaming): the trace sets the cache size; remove window=');
        if (o.has('ratio') || o.has('tokens')) throw new Error('streaming: give one of window=, ratio= or tokens=, not several');
        budget = streamingWindowBudget(sinks, intValue('streaming', 'window', o.get('window')!, 1));
      } else budget = budgetOf('streaming', o, ctx, 'window=W (recent tokens besides the sinks), ');
      return streamingPolicy({ budget, sinks, every: cadenceOf('streaming', o, ctx) });
    },
  },
  {
    info: {
      name: 'h2o', usage: 'h2o:ratio=R|tokens=N[,recent=W][,sinks=S][,every=…]',
      summary: 'a recent window plus the heavy hitters (largest attention accumulated over all queries so far)',
      paper: 'H2O, arXiv 2306.14048', needsAttention: 'yes (every query row)', acts: 'every chunk and decode step (every=1)',
      options: [...BUDGET_OPTIONS, { key: 'recent', value: 'W', default: 'half the budget', help: 'most recent tokens always kept' }, SINKS_OPTION, everyOption('1')],
    },
    build: (o, ctx) => {
      allowOnly('h2o', o, ['ratio', 'tokens', 'recent', 'every'], ctx);
      const recent = o.has('recent') ? intValue('h2o', 'recent', o.get('recent')!, 0) : undefined;
      // A recent window that fills the budget, alone or with sinks=, is the factory's and withSinks' refusal.
      return h2oPolicy({ budget: budgetOf('h2o', o, ctx), recent, every: cadenceOf('h2o', o, ctx) });
    },
  },
  {
    info: {
      name: 'tova', usage: 'tova:ratio=R|tokens=N[,sinks=S][,every=…]',
      summary: 'drops the tokens the current (last) query attends to least, averaged over the heads of the layer',
      paper: 'TOVA, arXiv 2401.06104', needsAttention: 'yes (last query row)',
      acts: 'at the end of the prefill (by its last token) and every decode step (every=decode)',
      options: [...BUDGET_OPTIONS, SINKS_OPTION, everyOption('decode')],
    },
    build: (o, ctx) => {
      allowOnly('tova', o, ['ratio', 'tokens', 'every'], ctx);
      return tovaPolicy({ budget: budgetOf('tova', o, ctx), every: cadenceOf('tova', o, ctx) });
    },
  },
  {
    info: {
      name: 'l2', usage: 'l2:ratio=R|tokens=N[,sinks=S][,every=…]', summary: 'keeps the keys with the lowest L2 norm (KNorm)',
      paper: 'arXiv 2406.11430', needsAttention: 'no', acts: 'every chunk and decode step (every=1)',
      options: [...BUDGET_OPTIONS, SINKS_OPTION, everyOption('1')],
    },
    build: (o, ctx) => {
      allowOnly('l2', o, ['ratio', 'tokens', 'every'], ctx);
      return l2Policy({ budget: budgetOf('l2', o, ctx), every: cadenceOf('l2', o, ctx) });
    },
  },
  {
    info: {
      name: 'snapkv', usage: 'snapkv:ratio=R|tokens=N[,window=W][,kernel=K][,pool=avg|max][,sinks=S][,every=…]',
      summary: 'per head: mean attention of the last W prompt queries, pooled, top-k, plus the window itself',
      paper: 'SnapKV, arXiv 2404.14469', needsAttention: 'yes (last W query rows)', acts: 'once, at the end of the first prefill (every=prefill)',
      options: [
        ...BUDGET_OPTIONS,
        { key: 'window', value: 'W', default: String(SNAPKV_DEFAULTS.window), help: 'observation window (queries that vote; always kept)' },
        { key: 'kernel', value: 'K', default: String(SNAPKV_DEFAULTS.kernel), help: 'odd 1-D pooling kernel' },
        { key: 'pool', value: 'avg|max', default: SNAPKV_DEFAULTS.pool, help: 'pooling of the votes' },
        SINKS_OPTION,
        everyOption('prefill'),
      ],
    },
    build: (o, ctx) => {
      allowOnly('snapkv', o, ['ratio', 'tokens', 'window', 'kernel', 'pool', 'every'], ctx);
      const window = o.has('window') ? intValue('snapkv', 'window', o.get('window')!, 1) : undefined;
      // Even and non-positive kernels get the factory's "odd integer ≥ 1" message.
      const kernel = o.has('kernel') ? intValue('snapkv', 'kernel', o.get('kernel')!, -Infinity) : undefined;
      const pool = o.get('pool');
      if (pool !== undefined && pool !== 'avg' && pool !== 'max') throw new Error(`snapkv: pool must be avg or max, got "${pool}"`);
      // A window that fills a token budget, alone or with sinks=, is the factory's and withSinks' refusal.
      return snapkvPolicy({ budget: budgetOf('snapkv', o, ctx), window, kernel, pool: pool as SnapKVPool | undefined, every: cadenceOf('snapkv', o, ctx) });
    },
  },
];

/** namm takes a positional checkpoint path, so it is parsed apart from the table above. */
const NAMM_INFO: PolicyInfo = {
  name: 'namm', usage: 'namm:PATH[,key=value...]', summary: 'the learned Neural Attention Memory Model (checkpoint at PATH)',
  paper: 'NAMM, arXiv 2410.13166', needsAttention: 'yes', acts: 'as its checkpoint config says (every 512 tokens in the paper)',
  options: [
    { key: 'PATH', value: 'file', default: 'required', help: 'checkpoint; further key=value pairs override its config (e.g. selection=per-head)' },
    { key: 'selection', value: 'min-over-heads|per-head', default: 'the file', help: 'the reference rule, or each head drops its own negative scores' },
    { key: 'update', value: 'multiple of 16, ≤ 65536', default: 'the file', help: 'tokens between updates' },
    { key: 'cacheSize', value: 'n|none', default: 'the file', help: 'cap on tokens kept per head' },
    { key: 'taps', value: 'bf16|fp32', default: 'the file', help: "attention probabilities read: a bf16 model's (the reference) or float32" },
    { key: 'calibrate', value: 'true|false', default: 'false', help: 'a calibration pass: pool the features\' statistics and evict nothing (`namm calibrate` sets it)' },
    { key: 'recency', value: 'error|extend', default: 'error', help: 'tokens older than 32,768 positions: an error (reference) or the table extended' },
  ],
};

const WRAPPERS: { info: PolicyInfo; keys: string[]; build(inner: string, own: Options, rest: Options, ctx: Context): MemoryPolicy }[] = [
  {
    info: {
      name: 'adakv(SPEC)', usage: 'adakv(SPEC)[:floor=F,…]',
      summary: 'one top-k across all heads of a layer (flattened), each head keeping at least a floor share; wraps random, streaming, h2o, tova, l2 or snapkv',
      paper: 'AdaKV, arXiv 2407.11550', needsAttention: 'as SPEC', acts: 'as SPEC',
      options: [{ key: 'floor', value: 'F', default: String(ADAKV_DEFAULTS.floor), help: 'each head keeps, besides the rows the wrapped rule always keeps (a window, sinks), its own top ⌊F·(share − those rows)⌋ first, 0 ≤ F ≤ 1' }],
    },
    keys: ['floor'],
    build: (inner, own, rest, ctx) => {
      const policy = parseSpec(inner, rest, ctx);
      if (!(policy instanceof ScoredPolicy)) {
        throw new Error(`adakv(...) wraps a scoring baseline (random, streaming, h2o, tova, l2, snapkv), not "${policy.name}"`);
      }
      const floor = own.has('floor') ? numberValue('adakv', 'floor', own.get('floor')!) : undefined;
      return adakvPolicy(policy, { floor });
    },
  },
  {
    info: {
      name: 'matched(SPEC)', usage: 'matched(SPEC):trace=FILE',
      summary: 'runs SPEC (without a budget) at the per-layer cache size a recorded trace reached (e.g. NAMM on the same prompt)',
      paper: 'matched memory, arXiv 2410.13166', needsAttention: 'as SPEC', acts: 'where the trace evicted',
      options: [{ key: 'trace', value: 'FILE', default: 'required', help: 'JSON trace written by a recording run (src/memory/matched.ts)' }],
    },
    keys: ['trace'],
    build: (inner, own, rest, ctx) => {
      const file = own.get('trace');
      if (!file && !ctx.traceLater) throw new Error('matched(...) needs trace=FILE (a memory trace recorded on the same prompt)');
      if (ctx.matched) throw new Error('matched(...) cannot be nested');
      const policy = parseSpec(inner, rest, { matched: true, outer: ctx.outer });
      if (!(policy instanceof ScoredPolicy)) {
        throw new Error(`matched(...) wraps a scoring baseline (random, streaming, h2o, tova, l2, snapkv, adakv(...)), not "${policy.name}"`);
      }
      if (!file) {
        ctx.traceLater!.traceless = true;
        return policy;
      }
      return matchedPolicy(policy, loadMemoryTrace(file), file);
    },
  },
];

const KNOWN = [...DEFS.map((d) => d.info.name), NAMM_INFO.name, ...WRAPPERS.map((w) => w.info.name)].join(', ');

/** Builds a memory policy from a spec string (see the module comment for the grammar). */
export function parsePolicySpec(spec: string): MemoryPolicy {
  if (typeof spec !== 'string') throw new TypeError(`a memory policy spec is a string such as "h2o:ratio=0.5", got ${spec === null ? 'null' : typeof spec}`);
  if (spec.trim() === '') throw new Error(`empty memory policy spec; known policies: ${KNOWN}`);
  return parseSpec(spec.trim(), new Map(), { matched: false });
}

/**
 * Checks a spec as parsePolicySpec does, except that a `matched(SPEC)` may leave out trace=FILE (a command that
 * records the trace itself, such as `eval --match`, adds it with specWithTrace before use). `followsTrace`: it did.
 * Every error a spec can have short of its trace surfaces here, before any work runs.
 */
export function checkPolicySpec(spec: string): { followsTrace: boolean } {
  if (typeof spec !== 'string') throw new TypeError(`a memory policy spec is a string such as "h2o:ratio=0.5", got ${spec === null ? 'null' : typeof spec}`);
  if (spec.trim() === '') throw new Error(`empty memory policy spec; known policies: ${KNOWN}`);
  const traceLater = { traceless: false };
  parseSpec(spec.trim(), new Map(), { matched: false, traceLater });
  return { followsTrace: traceLater.traceless };
}

/** A `matched(SPEC)` spec (one that checkPolicySpec found without a trace) with `trace=FILE` added to its options. */
export function specWithTrace(spec: string, file: string): string {
  const s = spec.trim(), open = s.indexOf('(');
  if (open < 0 || !/^matched$/i.test(s.slice(0, open).trim())) throw new Error(`specWithTrace: "${spec}" is not a matched(...) spec`);
  const close = matchingParen(s, open);
  const after = s.slice(close + 1).trim();
  // Options follow a colon; an empty list (`matched(h2o):`) takes the trace as its only option.
  return after === '' || after === ':' ? `${s.slice(0, close + 1)}:trace=${file}` : `${s},trace=${file}`;
}

/** Every policy and wrapper with its options and defaults (for help text). */
export function listPolicies(): PolicyInfo[] {
  return [...DEFS.map((d) => d.info), NAMM_INFO, ...WRAPPERS.map((w) => w.info)].map((i) => structuredClone(i));
}

/** listPolicies() as plain text, one block per policy. */
export function describePolicies(): string {
  const lines: string[] = [];
  for (const p of listPolicies()) {
    lines.push(`${p.usage}`, `    ${p.summary}${p.paper !== '-' ? ` (${p.paper})` : ''}`,
      `    acts: ${p.acts}; needs attention: ${p.needsAttention}`);
    for (const o of p.options) lines.push(`    ${o.key}=${o.value}  ${o.help} [${o.default}]`);
  }
  lines.push('* exactly one budget (ratio=, tokens=, or window= for streaming), except inside matched(...), where the trace sets it');
  return lines.join('\n');
}

function parseSpec(spec: string, forwarded: Options, ctx: Context): MemoryPolicy {
  const wrap = /^([A-Za-z0-9_-]+)\(/.exec(spec);
  if (wrap) {
    const name = wrap[1]!.toLowerCase();
    const wrapper = WRAPPERS.find((w) => w.info.name.startsWith(`${name}(`));
    if (!wrapper) throw new Error(`unknown policy wrapper "${wrap[1]}(...)"; known: ${WRAPPERS.map((w) => w.info.name).join(', ')}`);
    const close = matchingParen(spec, wrap[0].length - 1);
    const inner = spec.slice(wrap[0].length, close).trim();
    if (inner === '') throw new Error(`${name}(...) needs a policy inside the parentheses, e.g. ${name}(h2o)`);
    const after = spec.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) throw new Error(`unexpected "${after}" after ${name}(...); options follow a colon: ${name}(${inner}):key=value`);
    const innerName = /^[A-Za-z0-9_-]*/.exec(inner)![0].toLowerCase();
    if (innerName === 'full' || innerName === 'namm') {
      throw new Error(`${name}(...) wraps a scoring baseline (random, streaming, h2o, tova, l2, snapkv${name === 'matched' ? ', adakv(...)' : ''}), not ${innerName}`);
    }
    if (innerName === name) throw new Error(`${name}(...) cannot be nested: one ${name}(...) is enough`);
    if (name === 'adakv' && innerName === 'matched') throw new Error('adakv(matched(...)): write matched(adakv(...)) (matched(...) goes outside)');
    const opts = merge(parseOptions(name, after.slice(1)), forwarded, name);
    const own = new Map<string, string>(), rest = new Map<string, string>();
    for (const [k, v] of opts) (wrapper.keys.includes(k) ? own : rest).set(k, v);
    const outer = [...(ctx.outer ?? []), ...wrapper.keys.map((k) => `${k} of ${name}(...)`)];
    return wrapper.build(inner, own, rest, { ...ctx, outer });
  }
  const colon = spec.indexOf(':');
  const name = (colon < 0 ? spec : spec.slice(0, colon)).trim().toLowerCase();
  const body = colon < 0 ? '' : spec.slice(colon + 1);
  if (name === 'namm') {
    if (ctx.matched || forwarded.size > 0) throw new Error('namm cannot be wrapped in adakv(...) or matched(...): it sets its own cache size');
    const [path, ...items] = splitItems(body);
    const misplaced = path ? /^(.*[^:]):([A-Za-z]\w*=.*)$/.exec(path) : null;
    if (misplaced) {
      const meant = [misplaced[1], misplaced[2], ...items].join(',');
      throw new Error(`namm: options follow the checkpoint path after a comma, not a colon: namm:${meant}`);
    }
    // The first item is the path, unless it reads as an option (key=value with no folder in it): a path may hold
    // '=' (a sweep's folder, runs/lr=0.1/best.namm); a file named like an option is written ./a=b.namm.
    if (!path || path.trim() === '' || /^\s*[A-Za-z_]\w*=[^/\\]*$/.test(path)) {
      const fileLike = path && /^\s*[A-Za-z_]\w*=[^/\\]*\.namm\s*$/.test(path) ? ` (a file named like an option is written with its folder: namm:./${path.trim()})` : '';
      throw new Error(`namm needs a checkpoint path first: namm:PATH[,key=value...], e.g. namm:models/namm-tiny-llama.namm,selection=per-head${fileLike}`);
    }
    const overrides: Record<string, string> = {};
    for (const [k, v] of parseItems('namm', items, path)) overrides[k] = v;
    return loadNammPolicy(path.trim(), overrides);
  }
  const def = DEFS.find((d) => d.info.name === name);
  if (!def) throw new Error(`unknown memory policy "${name}"; known: ${KNOWN}`);
  const opts = merge(parseOptions(name, body), forwarded, name);
  // sinks= on a scoring baseline (streaming has its own): protect the first S positions whatever the rule says.
  const sinks = SINK_GUARDED.includes(name) ? opts.get('sinks') : undefined;
  if (sinks === undefined) return def.build(opts, ctx);
  opts.delete('sinks');
  const s = intValue(name, 'sinks', sinks, 0);
  // sinks=0 is the default written out: the published rule, under its plain name.
  return s === 0 ? def.build(opts, ctx) : withSinks(def.build(opts, ctx) as ScoredPolicy, s);
}

function matchingParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')' && --depth === 0) return i;
  }
  throw new Error(`unbalanced parentheses in memory policy spec "${s}"`);
}

function splitItems(body: string): string[] {
  return body === '' ? [] : body.split(',');
}

function parseOptions(name: string, body: string): Options {
  return parseItems(name, splitItems(body));
}

/** `before`: what came before the first item after a comma (namm's checkpoint path), for the hint below. */
function parseItems(name: string, items: string[], before?: string): Options {
  const out: Options = new Map();
  items.forEach((raw, i) => {
    const item = raw.trim();
    const eq = item.indexOf('=');
    if (eq > 0 && eq === item.length - 1) throw new Error(`${name}: option ${item.slice(0, eq).trim()}= has no value`);
    if (eq <= 0) {
      // Text without "=" after another option (or namm's path) is most likely the rest of a value cut at a comma.
      const prev = i > 0 ? items[i - 1] : before;
      const hint = prev !== undefined && eq < 0 && item !== '' ? ` (options are separated by commas, so a value cannot contain one: "${prev.trim()}" ends at the comma)` : '';
      throw new Error(`${name}: option "${item}" must look like key=value${hint}`);
    }
    const key = item.slice(0, eq).trim(), value = item.slice(eq + 1).trim();
    if (out.has(key)) throw new Error(`${name}: option ${key}= given twice`);
    out.set(key, value);
  });
  return out;
}

function merge(a: Options, b: Options, name: string): Options {
  const out = new Map(a);
  for (const [k, v] of b) {
    if (out.has(k)) throw new Error(`${name}: option ${k}= given twice`);
    out.set(k, v);
  }
  return out;
}

function allowOnly(name: string, o: Options, allowed: string[], ctx: Context): void {
  // sinks= is taken off before a scoring baseline's own options are checked (SinkGuard applies it), yet it is one.
  const shown = SINK_GUARDED.includes(name) && !allowed.includes('sinks') ? [...allowed, 'sinks'] : allowed;
  // A wrapper's options share the list after its colon with the inner policy's, so a misspelt floor= lands here.
  const outer = ctx.outer?.length ? `; and ${ctx.outer.join(', ')}` : '';
  for (const k of o.keys()) {
    if (!allowed.includes(k)) throw new Error(`${name}: unknown option "${k}"; allowed: ${shown.join(', ')}${outer}`);
  }
}

function noOptions(name: string, o: Options): void {
  if (o.size > 0) throw new Error(`${name} takes no options, got ${[...o.keys()].join(', ')}`);
}

function budgetOf(name: string, o: Options, ctx: Context, alt = ''): Budget | null {
  const hasRatio = o.has('ratio'), hasTokens = o.has('tokens');
  if (ctx.matched) {
    if (hasRatio || hasTokens) throw new Error(`matched(${name}): the trace sets the cache size; remove ${hasRatio ? 'ratio=' : 'tokens='}`);
    return null;
  }
  if (hasRatio && hasTokens) throw new Error(`${name}: give either ratio= or tokens=, not both`);
  if (hasRatio) {
    const r = numberValue(name, 'ratio', o.get('ratio')!);
    if (r < 0 || r >= 1) {
      // A decimal just below 1 that float64 rounds to 1 (0.99999999999999999) is quoted as written, with the reason.
      const text = o.get('ratio')!, rounded = r === 1 && /^\+?0*\./.test(text) ? ', which a float64 rounds to 1' : '';
      throw new Error(`${name}: ratio must satisfy 0 ≤ ratio < 1 (the fraction of tokens removed), got ${text}${rounded}`);
    }
    return ratioBudget(r);
  }
  if (hasTokens) return tokenBudget(intValue(name, 'tokens', o.get('tokens')!, 1));
  throw new Error(`${name} needs a budget: ${alt}ratio=R (fraction removed, 0 ≤ R < 1) or tokens=N (kept per layer and KV head)`);
}

function cadenceOf(name: string, o: Options, ctx: Context): Cadence | undefined {
  const v = o.get('every');
  if (v === undefined) return undefined;
  if (ctx.matched) throw new Error(`matched(${name}): the trace sets when to evict; remove every=`);
  try { return parseCadence(v); } catch (err) { throw new Error(`${name}: ${(err as Error).message}`); }
}

function numberValue(name: string, key: string, v: string): number {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(v)) throw new Error(`${name}: ${key} must be a number, got "${v}"`);
  return Number(v);
}

function intValue(name: string, key: string, v: string, min: number): number {
  if (!/^[+-]?\d+$/.test(v)) throw new Error(`${name}: ${key} must be an integer, got "${v}"`);
  const n = Number(v);
  if (n < min) throw new Error(`${name}: ${key} must be an integer ≥ ${min}, got ${v}`);
  if (!Number.isSafeInteger(n)) throw new Error(`${name}: ${key} must be an integer up to ${Number.MAX_SAFE_INTEGER} (2^53 − 1), got ${v}`);
  return n;
}
