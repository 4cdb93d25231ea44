import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModelFiles } from '../../src/models/load.js';
import { Model } from '../../src/models/model.js';
import type { LayerObservation, MemoryPolicy } from '../../src/memory/policy.js';
import { referenceLlamaLogits } from '../helpers/reference-llama.js';
import { PatternPolicy } from '../helpers/pattern-policy.js';
import { JsBackend } from '../../src/tensor/js.js';
import { getBackend } from '../../src/tensor/index.js';
import { Rng } from '../../src/util/rng.js';

const MODEL = '../shared/models/tinystories-656k';
const GOLDEN = [147, 201, 282, 215, 286, 598, 1662, 356, 499, 826, 1363, 1145, 1652, 615, 242, 1482, 951, 628, 499, 826, 872, 921, 318, 385];

const files = await loadModelFiles(MODEL);

/** max |a − b| / max |b| over all entries. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < b.length; i++) { diff = Math.max(diff, Math.abs(a[i]! - b[i]!)); scale = Math.max(scale, Math.abs(b[i]!)); }
  return diff / scale;
}

for (const backend of [getBackend(), new JsBackend()]) {
  const model = new Model(files.config, files.weights, files.tokenizer, backend, MODEL);

  test(`[${backend.name}] greedy decoding from BOS reproduces the golden ids`, async () => {
    const s = await model.createSession();
    const r = await s.generate([1], { maxNewTokens: GOLDEN.length, stopTokens: [] });
    assert.deepEqual(r.outputTokens, GOLDEN);
    assert.match(r.text, /^Once upon a time, there was a little girl named Lily\./);
  });

  test(`[${backend.name}] chunked prefill gives the float64 reference logits at every position`, async () => {
    const ids = [1, ...GOLDEN, ...GOLDEN.slice(0, 20)];
    const s = await model.createSession({ chunkSize: 16 });
    const got = s.prefill(ids, { logits: 'all' });
    const ref = referenceLlamaLogits(files.config, files.weights, ids);
    assert.ok(relErr(got, ref) < 1e-4, `relative error ${relErr(got, ref)}`);
  });

  test(`[${backend.name}] prefill in chunks equals token-by-token decoding`, async () => {
    const ids = [1, ...GOLDEN];
    const a = await model.createSession({ chunkSize: 7 });
    const all = a.prefill(ids, { logits: 'all' });
    const b = await model.createSession();
    const V = files.config.vocabSize;
    for (let t = 0; t < ids.length; t++) {
      const l = b.decode(ids[t]!);
      assert.ok(relErr(l, all.subarray(t * V, (t + 1) * V)) < 1e-5, `position ${t}`);
    }
    assert.equal(b.totalTokens, ids.length);
  });
}

test('evicting through retain and continuing equals attending only to the kept tokens at their positions', async () => {
  const model = new Model(files.config, files.weights, files.tokenizer, getBackend(), MODEL);
  const ids = [1, ...GOLDEN, ...GOLDEN, ...GOLDEN.slice(0, 10)];
  const policy = new PatternPolicy([24, 40, 53], (pos, layer, head, totalTokens) => (pos * (layer + 2) + head + totalTokens) % 3 === 0);
  const s = model.createSessionWith(policy, { chunkSize: 8 });
  const V = files.config.vocabSize;
  const got = new Float32Array(ids.length * V);
  got.set(s.prefill(ids.slice(0, 48), { logits: 'all' }));
  for (let t = 48; t < ids.length; t++) got.set(s.decode(ids[t]!), t * V);
  assert.ok(policy.events.length > 0);
  const bytesBefore = 2 * files.config.nLayers * files.config.nKvHeads * ids.length * files.config.headDim * 4;
  assert.ok(s.cache.bytesUsed() < bytesBefore, 'cache holds fewer bytes after eviction');
  const ref = referenceLlamaLogits(files.config, files.weights, ids, policy.visible);
  assert.ok(relErr(got, ref) < 1e-4, `relative error ${relErr(got, ref)}`);
  // The same run without eviction differs, so the comparison above is sensitive to the evictions.
  const full = referenceLlamaLogits(files.config, files.weights, ids);
  assert.ok(relErr(got, full) > 1e-3);
  // Positions continue from the tokens seen, not from the cache length.
  const last = s.cache.store(0, 0);
  assert.equal(last.positions[last.len - 1], ids.length - 1);
  assert.ok(last.len < ids.length);
});

test('several sessions share one model without interfering', async () => {
  const model = new Model(files.config, files.weights, files.tokenizer, getBackend(), MODEL);
  const a = await model.createSession(), b = await model.createSession();
  const la: Float32Array[] = [], lb: Float32Array[] = [];
  for (let t = 0; t < 10; t++) { la.push(a.decode(GOLDEN[t]!)); lb.push(b.decode(GOLDEN[10 + t]!)); }
  const c = await model.createSession();
  for (let t = 0; t < 10; t++) assert.deepEqual(c.decode(GOLDEN[10 + t]!), lb[t]);
  assert.equal(a.totalTokens, 10);
});

test('generation options: stop strings, stop tokens, seeded sampling, streaming', async () => {
  const model = new Model(files.config, files.weights, files.tokenizer, getBackend(), MODEL);
  const s1 = await model.createSession();
  const pieces: string[] = [];
  const r1 = await s1.generate([1], { maxNewTokens: 40, stopStrings: ['Lily'], onToken: (t) => pieces.push(t) });
  assert.equal(r1.stoppedBy, 'stop-string');
  assert.equal(r1.text, 'Once upon a time, there was a little girl named ');
  assert.equal(pieces.join(''), r1.text);
  // A stop string spanning several tokens: the text of its first tokens is held back, never streamed (it used to
  // be: "named " reached onToken, then the result cut it); a held-back start that turns out to be no stop string is
  // streamed once the next tokens show it, and every piece joins to exactly the result's text.
  for (const [stop, before] of [['named Lily. She', 'Once upon a time, there was a little girl '], ['Lily. She had', 'Once upon a time, there was a little girl named ']]) {
    const streamed: string[] = [];
    const r = await (await model.createSession()).generate([1], { maxNewTokens: 30, stopStrings: [stop!], onToken: (t) => streamed.push(t) });
    assert.equal(r.stoppedBy, 'stop-string', stop);
    assert.equal(r.text, before, stop);
    assert.equal(streamed.join(''), r.text, stop);
  }
  const streamed: string[] = [];
  const r0 = await (await model.createSession()).generate([1], { maxNewTokens: 30, stopStrings: ['girl named Lily xyz'], onToken: (t) => streamed.push(t) });
  assert.equal(r0.stoppedBy, 'length');
  assert.ok(r0.text.includes('girl named Lily. She'));
  assert.equal(streamed.join(''), r0.text);
  // The token that completed the stop string is in the output, so it joins the sequence: the next call feeds it
  // first and the session holds the prompt and every output token (before, it ended one token behind).
  assert.equal(s1.totalTokens, r1.outputTokens.length, 'the prompt and every output token but the last, which waits');
  s1.decode(GOLDEN[r1.outputTokens.length]!);
  assert.equal(s1.totalTokens, 1 + r1.outputTokens.length + 1);
  const s2 = await model.createSession();
  const r2 = await s2.generate([1], { maxNewTokens: 10, stopTokens: [286] });
  assert.equal(r2.stoppedBy, 'eos');
  assert.deepEqual(r2.outputTokens, GOLDEN.slice(0, 4));
  const sample = async (seed: number) => (await (await model.createSession()).generate([1], { maxNewTokens: 20, temperature: 1, topK: 50, topP: 0.9, seed })).outputTokens;
  assert.deepEqual(await sample(7), await sample(7));
  assert.notDeepEqual(await sample(7), await sample(8));
  await assert.rejects(model.createSession().then((s) => s.generate([1], { temperature: -1 })), /temperature/);
});

test("a policy's tapPrecision sets how the session computes its attention probabilities (recording keeps it)", async () => {
  const { recordingPolicy, MemoryTraceRecorder } = await import('../../src/memory/matched.js');
  const { createNammPolicy, zeroNammParams } = await import('../../src/memory/namm/index.js');
  const model = new Model(files.config, files.weights, files.tokenizer, getBackend(), MODEL);
  /** Keeps every token; notes whether every probability it saw is a bfloat16 value, and their sum. */
  class Tap implements MemoryPolicy {
    readonly name = 'tap';
    readonly needsAttention = true;
    allBf16 = true;
    sum = 0;
    constructor(readonly tapPrecision?: 'fp32' | 'bf16') {}
    reset(): void {}
    observe(o: LayerObservation): null {
      const bits = new Uint32Array(1), f = new Float32Array(bits.buffer);
      for (let h = 0; h < o.lens.length; h++) {
        const a = o.attention![h]!.subarray(0, o.nQ * o.lens[h]!);
        for (const v of a) { f[0] = v; if (bits[0]! & 0xffff) this.allBf16 = false; this.sum += v; }
      }
      return null;
    }
  }
  const ids = [1, ...GOLDEN];
  const run = (p: MemoryPolicy) => model.createSessionWith(p).prefill(ids);
  const plain = new Tap(), fp32 = new Tap('fp32'), bf16 = new Tap('bf16'), recorded = new Tap('bf16');
  run(plain); run(fp32); run(bf16);
  const wrapped = recordingPolicy(recorded, new MemoryTraceRecorder());
  assert.equal(wrapped.tapPrecision, 'bf16');
  run(wrapped);
  assert.equal(plain.allBf16, false, 'float32 probabilities by default');
  assert.equal(fp32.allBf16, false);
  assert.equal(bf16.allBf16, true, 'every probability a bfloat16 value');
  assert.equal(recorded.allBf16, true, 'through recordingPolicy too');
  // Rows still sum to ~1 per query and layer (bf16 rounding moves each sum by well under 1%).
  const rows = ids.length * files.config.nLayers * files.config.nKvHeads;
  assert.ok(Math.abs(bf16.sum / rows - 1) < 0.01 && Math.abs(plain.sum / rows - 1) < 1e-5, `${bf16.sum / rows}, ${plain.sum / rows}`);
  // NAMM reads bf16 probabilities unless told otherwise, as the reference's bf16 model gives them.
  assert.equal(createNammPolicy({ params: zeroNammParams() }).tapPrecision, 'bf16');
  assert.equal(createNammPolicy({ params: zeroNammParams(), taps: 'fp32' }).tapPrecision, 'fp32');
  assert.throws(() => createNammPolicy({ params: zeroNammParams(), taps: 'fp16' as never }), /NAMM taps must be fp32 or bf16/);

  // Packed bf16 taps: exactly the upper halves of the float32 bf16 taps, delivered in attentionBf16.
  class PackedTap implements MemoryPolicy {
    readonly name = 'packed-tap';
    readonly needsAttention = true;
    readonly tapPrecision = 'bf16' as const;
    readonly packedTaps = true;
    seen: number[] = [];
    reset(): void {}
    observe(o: LayerObservation): null {
      assert.equal(o.attention, undefined, 'packed taps replace the float32 ones');
      for (let h = 0; h < o.lens.length; h++) this.seen.push(...o.attentionBf16![h]!.subarray(0, o.nQ * o.lens[h]!));
      return null;
    }
  }
  class WideTap extends Tap {
    seen: number[] = [];
    override observe(o: LayerObservation): null {
      for (let h = 0; h < o.lens.length; h++) {
        const bits = new Uint32Array(Float32Array.from(o.attention![h]!.subarray(0, o.nQ * o.lens[h]!)).buffer);
        for (const b of bits) this.seen.push(b >>> 16);
      }
      return null;
    }
  }
  const packed = new PackedTap(), wide = new WideTap('bf16');
  run(packed); run(wide);
  assert.ok(packed.seen.length > 1000);
  assert.deepEqual(packed.seen, wide.seen);
  assert.equal(recordingPolicy(packed, new MemoryTraceRecorder()).packedTaps, true, 'recordingPolicy keeps packedTaps');
  assert.equal(createNammPolicy({ params: zeroNammParams() }).packedTaps, true);
  assert.equal(createNammPolicy({ params: zeroNammParams(), taps: 'fp32' }).packedTaps, false);
});

test('NAMM evicts the same tokens and the model gives the same logits with packed and float32 bf16 taps', async () => {
  const { createNammPolicy, NAMM_PARAM_COUNT } = await import('../../src/memory/namm/index.js');
  const rng = new Rng(11);
  const params = Float32Array.from({ length: NAMM_PARAM_COUNT }, () => 0.065 * rng.normal());
  const ids = [1, ...GOLDEN, ...GOLDEN, ...GOLDEN].slice(0, 200);
  for (const backend of [getBackend(), new JsBackend()]) {
    const model = new Model(files.config, files.weights, files.tokenizer, backend, MODEL);
    const run = (unpack: boolean) => {
      const namm = createNammPolicy({ params, updateEvery: 32, backend: backend.name === 'js' ? null : backend });
      const evictions: { at: string; keep: number[] }[] = [];
      // The same policy, told to take float32 taps: the session then writes the bf16 values as float32.
      const policy: MemoryPolicy = unpack
        ? { name: namm.name, needsAttention: true, tapPrecision: 'bf16', chunkBoundary: namm.chunkBoundary, reset: (s) => namm.reset(s), observe: (o) => namm.observe(o) }
        : namm;
      const s = model.createSessionWith(policy, { onEviction: (e) => evictions.push({ at: `${e.totalTokens}/${e.layer}`, keep: e.keep.flatMap((k) => Array.from(k)) }) });
      const logits = s.prefill(ids);
      // NAMM lets the session run several chunks through a layer at once (layerwise) and the wrapper does not, so
      // the layers' evictions interleave differently: compare them by (tokens, layer).
      evictions.sort((x, y) => (x.at < y.at ? -1 : x.at > y.at ? 1 : 0));
      return { logits, evictions };
    };
    const a = run(false), b = run(true);
    assert.ok(a.evictions.length > 0, 'the policy evicted');
    assert.deepEqual(a.evictions, b.evictions, backend.name);
    assert.deepEqual(a.logits, b.logits, backend.name);
  }
});

test('a generation whose first token is a stop token returns empty text (the tokenizer decodes nothing)', async () => {
  const model = new Model(files.config, files.weights, files.tokenizer, getBackend(), MODEL);
  const s = await model.createSession();
  // The greedy first token after BOS is GOLDEN[0]: make it the stop token.
  const r = await s.generate([1], { maxNewTokens: 4, stopTokens: [GOLDEN[0]!] });
  assert.equal(r.stoppedBy, 'eos');
  assert.deepEqual(r.outputTokens, []);
  assert.equal(r.text, '');
});

test('a sequence past a RoPE model\'s context runs, with one warning per model (none up to it, none for dynamic NTK)', async () => {
  const warnings: Error[] = [];
  const listener = (w: Error) => { if ((w as Error & { code?: string }).code === 'NAMM_PAST_CONTEXT') warnings.push(w); };
  process.on('warning', listener);
  try {
    const short = new Model({ ...files.config, maxPositions: 12 }, files.weights, files.tokenizer, getBackend(), MODEL);
    // A generate whose maxNewTokens would pass the context, but that stops short of it, says nothing (its up-front
    // check spent the model's one warning, and a run that really passed the context then got none).
    const g = await short.createSession();
    const stopped = await g.generate([1, 5], { maxNewTokens: 1000, stopTokens: [], stopStrings: ['\u0000never'], onToken: () => { if (g.totalTokens >= 4) throw new Error('enough'); } }).catch((e: Error) => e);
    assert.match(String(stopped), /enough/);
    const s = await short.createSession({ chunkSize: 4 });
    s.prefill([1, ...GOLDEN.slice(0, 11)]);
    await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    assert.equal(warnings.length, 0, 'up to the context: nothing to say');
    s.decode(5);
    s.decode(6);
    await short.createSession().then((t) => t.prefill([1, ...GOLDEN]));
    await new Promise((r) => setImmediate(r));
    assert.equal(warnings.length, 1, 'once for the model, whatever its sessions do');
    assert.match(warnings[0]!.message, /^namm: the sequence would reach 13 tokens, past this model's 12-token context \(its max_position_embeddings\); its output past that is not what it was trained for$/);
    const dynamic = new Model({ ...files.config, maxPositions: 12, ropeScaling: { type: 'dynamic', factor: 2, originalMaxPositions: 12 } }, files.weights, files.tokenizer, getBackend(), MODEL);
    (await dynamic.createSession()).prefill([1, ...GOLDEN]);
    await new Promise((r) => setImmediate(r));
    assert.equal(warnings.length, 1, 'dynamic NTK is made to run past it');
  } finally {
    process.off('warning', listener);
  }
});

test('bad calls leave a session as it was, or unusable until reset(), never silently wrong', async () => {
  const model = new Model(files.config, files.weights, files.tokenizer, getBackend(), MODEL);
  const A = [1, 34, 72, 110, 300, 21, 9, 87, 402, 5, 66, 77, 88, 99, 100, 101, 102, 103, 104, 105];
  const B = [12, 13, 14, 15, 16];
  const fresh = model.createSessionWith(null, { chunkSize: 4 });
  fresh.prefill(A);
  const want = fresh.prefill(B);
  // Bad token ids are refused before anything runs, whichever chunk they are in.
  const s = model.createSessionWith(null, { chunkSize: 4 });
  for (const bad of [[...A.slice(0, 13), 99999], [1.5], [Number.NaN], ['5' as unknown as number], [null as unknown as number], [-1]]) {
    assert.throws(() => s.prefill(bad), /token id at index \d+ must be an integer in 0\.\.\d+/);
  }
  assert.throws(() => s.prefill(5 as unknown as number[]), /token ids must be an array/);
  assert.throws(() => s.decode(1.5), /token id at index 0/);
  await assert.rejects(s.generate([1, 2.5]), /token id at index 1/);
  assert.equal(s.totalTokens, 0);
  s.prefill(A);
  assert.deepEqual(Array.from(s.prefill(B)), Array.from(want), 'refused calls changed nothing');
  // A policy that throws part-way through the layers: the session refuses everything until reset().
  let armed = true;
  const bomb: MemoryPolicy = {
    name: 'bomb', needsAttention: false, reset() {}, clone() { return this; },
    observe(o: LayerObservation) { if (armed && o.layer === 1) { armed = false; throw new Error('boom'); } return null; },
  };
  const t = model.createSessionWith(bomb, { chunkSize: 4 });
  assert.throws(() => t.prefill(A), /boom/);
  assert.throws(() => t.prefill(A), /unusable: a chunk failed part-way through the layers \(boom\); call reset\(\)/);
  assert.throws(() => t.fork(), /unusable/);
  await assert.rejects(t.generate(B), /unusable/);
  t.reset();
  t.prefill(A);
  assert.deepEqual(Array.from(t.prefill(B)), Array.from(want), 'after reset() the session is exact again');
  // A pending generated token survives a refused call, and logits: 'all' gives one row per id given.
  const g = model.createSessionWith(null), h = model.createSessionWith(null);
  const r = await g.generate(A, { maxNewTokens: 3, stopTokens: [] });
  assert.throws(() => g.prefill([99999]));
  const rows = g.prefill(B, { logits: 'all' });
  assert.equal(rows.length, B.length * model.config.vocabSize);
  const ref = h.prefill([...A, ...r.outputTokens, ...B], { logits: 'all' });
  assert.ok(relErr(rows, ref.subarray(ref.length - rows.length)) < 1e-5, 'the rows of B, after A and the generated tokens (other chunking)');
  // Two overlapping generate() calls on one session: the second is refused (fork for concurrent questions).
  const busy = model.createSessionWith(null);
  const first = busy.generate(A, { maxNewTokens: 40, stopTokens: [] });
  await assert.rejects(busy.generate(B, { maxNewTokens: 4 }), /busy \(a generate\(\) call is in progress\)/);
  assert.throws(() => busy.prefill(B), /busy/);
  await first;
  assert.equal(busy.totalTokens, A.length + 39);
});

test('minNewTokens masks the stop tokens until that many tokens are out (transformers\' min_length)', async () => {
  const model = new Model(files.config, files.weights, files.tokenizer, getBackend(), MODEL);
  // Make the greedy first token a stop token: without minNewTokens generation ends at once.
  const first = (await model.createSessionWith(null).generate([1], { maxNewTokens: 1, stopTokens: [] })).outputTokens[0]!;
  const stopped = await model.createSessionWith(null).generate([1], { maxNewTokens: 4, stopTokens: [first] });
  assert.equal(stopped.outputTokens.length, 0);
  assert.equal(stopped.stoppedBy, 'eos');
  const held = await model.createSessionWith(null).generate([1], { maxNewTokens: 4, stopTokens: [first], minNewTokens: 1 });
  assert.ok(held.outputTokens.length >= 1);
  assert.notEqual(held.outputTokens[0], first, 'the stop token could not be the first');
  await assert.rejects(model.createSessionWith(null).generate([1], { minNewTokens: -1 }), /minNewTokens must be an integer/);
});

test('several chunks through each layer at once (forwardTokens) give exactly the results of one chunk at a time', async () => {
  const { createNammPolicy, NAMM_PARAM_COUNT } = await import('../../src/memory/namm/index.js');
  const { parsePolicySpec } = await import('../../src/memory/spec.js');
  const rng = new Rng(5);
  const params = Float32Array.from({ length: NAMM_PARAM_COUNT }, () => 0.065 * rng.normal());
  // 513 tokens: the last chunk holds one token (it stays alone), and a second prefill continues the sequence.
  const ids = Array.from({ length: 513 }, (_, i) => 1 + ((i * 37) % 500));
  const more = Array.from({ length: 200 }, (_, i) => 2 + ((i * 11) % 400));
  /** Observes like a layerwise policy and records what each layer saw, in the order it saw it. */
  const watcher = (layerwise: boolean) => {
    const seen: string[][] = [];
    const order: number[] = [];
    const policy: MemoryPolicy = {
      name: 'watch', needsAttention: true, layerwise, reset() { seen.length = 0; order.length = 0; },
      observe(o: LayerObservation) {
        (seen[o.layer] ??= []).push(`${o.nQ}@${o.totalTokens}:${o.endOfPrefill}:${Array.from(o.lens)}:${o.attention![0]![o.nQ * o.lens[0]! - 1]}`);
        order.push(o.layer);
        // Evict the oldest row of every head at every 64th token, so later chunks see what earlier ones left.
        return o.totalTokens % 64 === 0 ? Array.from(o.lens, (len) => Int32Array.from({ length: len - 1 }, (_, i) => i + 1)) : null;
      },
    };
    return { policy, seen, order };
  };
  for (const backend of [getBackend(), new JsBackend()]) {
    const model = new Model(files.config, files.weights, files.tokenizer, backend, MODEL);
    const run = (policy: () => MemoryPolicy | null, forwardTokens: number) => {
      const events: string[] = [];
      const s = model.createSessionWith(policy(), { chunkSize: 32, forwardTokens, onEviction: (e) => events.push(`${e.totalTokens}/${e.layer}:${e.keep.map((k) => k.length)}`) });
      const a = Array.from(s.prefill(ids, { logits: 'all' }));
      const b = Array.from(s.prefill(more));
      const lens = Array.from({ length: files.config.nLayers }, (_, l) => Array.from(s.cache.lens(l)));
      return { a, b, lens, events: events.sort(), snapshots: s.stats.snapshots.map((x) => `${x.totalTokens}+${x.chunkTokens}:${Array.from(x.held)}`) };
    };
    // Every built-in policy is layerwise; a matched baseline follows a trace recorded on the same two prefills.
    const { MemoryTraceRecorder: Recorder, recordingPolicy: recording, matchedPolicy } = await import('../../src/memory/matched.js');
    const evictingParams = params.slice();
    evictingParams[NAMM_PARAM_COUNT - 1] = -0.1;
    const rec = new Recorder('namm');
    run(() => recording(createNammPolicy({ params: evictingParams, updateEvery: 64 }), rec), 1);
    const trace = rec.toTrace();
    const cases: [string, () => MemoryPolicy | null][] = [
      ['full cache', () => null],
      ['NAMM', () => createNammPolicy({ params, updateEvery: 64, backend: backend.name === 'js' ? null : backend })],
      ...['full', 'h2o:ratio=0.5', 'tova:tokens=100', 'l2:ratio=0.5,sinks=2', 'snapkv:ratio=0.5,window=16', 'streaming:sinks=4,window=64',
        'random:ratio=0.5,seed=3', 'adakv(snapkv):ratio=0.5'].map((spec): [string, () => MemoryPolicy] => [spec, () => parsePolicySpec(spec)]),
      ['matched(h2o)', () => matchedPolicy(parsePolicySpec('h2o:ratio=0.5') as import('../../src/memory/scored.js').ScoredPolicy, trace)],
    ];
    // The TypeScript backend runs the kinds of path there are (no policy, NAMM's TypeScript stages, a baseline on the
    // attention taps, one without, a matched trace); every policy runs on the native backend. (All eleven on both
    // took a tenth of the suite.)
    const onThisBackend = backend.name === 'js'
      ? cases.filter(([what]) => ['full cache', 'NAMM', 'h2o:ratio=0.5', 'streaming:sinks=4,window=64', 'matched(h2o)'].includes(what))
      : cases;
    for (const [what, policy] of onThisBackend) {
      const made = policy();
      assert.ok(made === null || made.layerwise === true, `${what} is layerwise`);
      const one = run(policy, 1), together = run(policy, 512);
      assert.deepEqual(together, one, `${backend.name}: ${what}`);
      if (what !== 'full cache' && what !== 'full') assert.ok(one.events.length > 0, `${what} evicted`);
    }
    // A recorded NAMM runs several chunks at once too, and its trace is the same as one chunk at a time.
    const { MemoryTraceRecorder, recordingPolicy } = await import('../../src/memory/matched.js');
    // A negative final bias: evictions at many update points, several inside each group of chunks.
    const evicting = params.slice();
    evicting[NAMM_PARAM_COUNT - 1] = -0.1;
    const traces = [1, 512].map((forwardTokens) => {
      const rec = new MemoryTraceRecorder('namm');
      const wrapped = recordingPolicy(createNammPolicy({ params: evicting, updateEvery: 32, backend: backend.name === 'js' ? null : backend }), rec);
      assert.equal(wrapped.layerwise, true);
      model.createSessionWith(wrapped, { chunkSize: 16, forwardTokens }).prefill(ids);
      return rec.toTrace();
    });
    assert.ok(traces[0]!.sequences[0]!.length >= 8, `the NAMM evicted at several points (${JSON.stringify(traces[0])})`);
    assert.deepEqual(traces[1], traces[0]);
    // A policy that sees every chunk: each layer sees the same chunks, caches and taps in the same order; only the
    // interleaving of the layers changes (layer 0 takes several chunks before layer 1 takes the first).
    const w1 = watcher(true), w2 = watcher(true);
    const s1 = model.createSessionWith(w1.policy, { chunkSize: 32, forwardTokens: 1 });
    const s2 = model.createSessionWith(w2.policy, { chunkSize: 32, forwardTokens: 256 });
    assert.deepEqual(Array.from(s2.prefill(ids)), Array.from(s1.prefill(ids)));
    assert.deepEqual(w2.seen, w1.seen);
    assert.equal(w1.seen[0]!.filter((x) => x.includes(':true:')).length, 1, 'the last chunk alone is the end of the prefill');
    const L = files.config.nLayers;
    assert.deepEqual(w1.order.slice(0, L + 1), [...Array.from({ length: L }, (_, l) => l), 0], 'one chunk at a time: layer after layer');
    assert.deepEqual(w2.order.slice(0, 3), [0, 0, 0], 'together: a layer takes several chunks first');
    // A policy that does not say it is layerwise is run one chunk at a time whatever forwardTokens says.
    const w3 = watcher(false);
    model.createSessionWith(w3.policy, { chunkSize: 32, forwardTokens: 256 }).prefill(ids);
    assert.deepEqual(w3.order, w1.order);
  }
  const model = new Model(files.config, files.weights, files.tokenizer, getBackend(), MODEL);
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => model.createSessionWith(null, { forwardTokens: bad }), /forwardTokens must be a positive integer/);
  }
});

test('a layerwise policy that throws in the middle of a group of chunks leaves the session refusing until reset()', async () => {
  const model = new Model(files.config, files.weights, files.tokenizer, getBackend(), MODEL);
  let calls = 0;
  const policy: MemoryPolicy = {
    name: 'fails', needsAttention: false, layerwise: true, reset() { calls = 0; },
    observe() { if (++calls === 3) throw new Error('boom'); return null; },
  };
  const s = model.createSessionWith(policy, { chunkSize: 16 });
  assert.throws(() => s.prefill(GOLDEN.concat(GOLDEN)), /boom/);
  assert.throws(() => s.prefill([1]), /unusable: a chunk failed part-way through the layers \(boom\)/);
  s.reset();
  calls = -1e9;
  assert.doesNotThrow(() => s.prefill(GOLDEN));
  assert.equal(s.totalTokens, GOLDEN.length);
});

test('grouped prefill is bit-identical for MLP widths that are no multiple of the SIMD width (the activation tail)', async () => {
  const { llamaConfig, gpt2Config, randomWeights } = await import('../../src/models/random.js');
  const configs = [
    llamaConfig({ vocabSize: 300, hiddenSize: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, intermediateSize: 20, maxPositions: 2048 }),
    gpt2Config({ vocabSize: 300, hiddenSize: 30, nLayers: 2, nHeads: 2, maxPositions: 2048 }),
  ];
  for (const config of configs) {
    const model = new Model(config, randomWeights(config, 1, 0.5), null, getBackend());
    const ids = Array.from({ length: 300 }, (_, i) => (i * 37) % 300);
    for (const offset of [1, 3, 21]) {
      const run = (forwardTokens: number) => {
        const s = model.createSessionWith(null, { forwardTokens, chunkSize: 7 });
        s.prefill(Array.from({ length: offset }, (_, i) => 7 + i));
        return Array.from(s.prefill(ids, { logits: 'all' }));
      };
      assert.deepEqual(run(512), run(1), `${config.arch}, ${offset} tokens first`);
    }
  }
});

test('a keep list as long as the rows held must be every row in order: a policy repeating a row is refused, the session then unusable', () => {
  const model = new Model(files.config, files.weights, files.tokenizer, getBackend(), MODEL);
  const bad = (list: (n: number) => number[]): MemoryPolicy => ({
    name: 'bad-keep', needsAttention: false, reset() {},
    observe: (o: LayerObservation) => Array.from(o.lens, (n) => Int32Array.from(list(n))),
  });
  // Row 1 twice and row 2 lost, yet as many entries as rows: before, a list of that length was taken for "keep all".
  const s = model.createSessionWith(bad((n) => [0, ...Array.from({ length: n - 1 }, (_, i) => (i === 0 ? 0 : i))]));
  assert.throws(() => s.prefill([1, 2, 3, 4]), /memory policy bad-keep: layer 0 head 0: a keep list as long as the 4 rows held must list each row once, in order; entry 1 is 0/);
  assert.throws(() => s.prefill([5]), /unusable/);
  // A bad list in a later head is found before any head of the layer is compacted and before onEviction sees them.
  const seen: number[] = [];
  const lateBad: MemoryPolicy = {
    name: 'late-bad', needsAttention: false, reset() {},
    observe: (o: LayerObservation) => Array.from(o.lens, (n, h) => Int32Array.from(h === o.lens.length - 1 ? [1, 0] : [0, n - 1])),
  };
  const late = new Model(files.config, files.weights, files.tokenizer, getBackend(), MODEL).createSessionWith(lateBad, { onEviction: (e) => { seen.push(e.layer); } });
  assert.throws(() => late.prefill([1, 2, 3, 4]), new RegExp(`^RangeError: memory policy late-bad: layer 0 head ${files.config.nKvHeads - 1}: a keep list must hold strictly ascending rows below 4 \\(the rows held\\); entry 1 is 0$`));
  assert.deepEqual(seen, []);
  assert.deepEqual(Array.from(late.cache.lens(0)), Array(files.config.nKvHeads).fill(4), 'no head of the layer was compacted');
  // The identity list changes nothing and is accepted.
  const ok = model.createSessionWith(bad((n) => Array.from({ length: n }, (_, i) => i)));
  const full = model.createSessionWith(null);
  assert.deepEqual(ok.prefill([1, 2, 3, 4]), full.prefill([1, 2, 3, 4]));
});
