/** A session's state after a callback throws, or calls the session back, in the middle of its work. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/models/model.js';
import { Session } from '../../src/runtime/session.js';
import type { MemoryPolicy } from '../../src/memory/policy.js';
import { NativeBackend } from '../../src/tensor/native.js';
import { skipNative } from '../tensor/native-fixtures.js';

const model = await loadModel('../shared/models/tinystories-656k');
const prompt = 'Once upon a time, there was a little girl named Lily. She liked to play in the park with her ball. '.repeat(4).trim();

test('an onToken that throws leaves the session holding every token it was given, as a stop does', async () => {
  const s = await model.createSession();
  const seen: number[] = [];
  await assert.rejects(s.generate(prompt, {
    maxNewTokens: 20,
    onToken: (_text, id) => { seen.push(id); if (seen.length === 3) throw new Error('enough'); },
  }), /^Error: enough$/);
  assert.equal(seen.length, 3);
  // It went on from the prompt and the first two tokens only: the third, whose text the caller had, was dropped.
  const promptIds = model.tokenizer!.encode(prompt);
  const after = await s.generate(' Then', { maxNewTokens: 6 });
  const fresh = await model.createSession();
  fresh.prefill([...promptIds, ...seen]);
  assert.deepEqual(after.outputTokens, (await fresh.generate(' Then', { maxNewTokens: 6 })).outputTokens);
  assert.equal(s.totalTokens, fresh.totalTokens);
});

test('an async onToken is awaited, and its rejection ends generate as a throw does (it crashed the process)', async () => {
  const s = await model.createSession();
  const pieces: string[] = [];
  let inFlight = 0, overlapped = false;
  const ok = await s.generate(prompt, {
    maxNewTokens: 8,
    onToken: async (text) => {
      overlapped ||= inFlight > 0;
      inFlight++;
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
      pieces.push(text);
    },
  });
  assert.equal(overlapped, false, 'one callback at a time: the next token waits for the last one');
  assert.ok(pieces.length > 1);
  assert.equal(pieces.join(''), ok.text, 'every piece arrived before generate returned');
  const s2 = await model.createSession();
  const got: number[] = [];
  await assert.rejects(s2.generate(prompt, {
    maxNewTokens: 20,
    onToken: async (_text, id) => { got.push(id); await Promise.resolve(); if (got.length === 3) throw new Error('async enough'); },
  }), /^Error: async enough$/);
  // As with a synchronous throw: the session holds the prompt and the three tokens the caller was given.
  const fresh = await model.createSession();
  fresh.prefill([...model.tokenizer!.encode(prompt), ...got]);
  assert.deepEqual((await s2.generate(' Then', { maxNewTokens: 4 })).outputTokens, (await fresh.generate(' Then', { maxNewTokens: 4 })).outputTokens);
});

test('an async onEviction is refused with an error, not left to reject unhandled', async () => {
  const s = await model.createSession({ memory: 'streaming:sinks=4,window=16', chunkSize: 16, onEviction: async () => { throw new Error('late'); } });
  assert.throws(() => s.prefill(model.tokenizer!.encode(prompt)), /^TypeError: onEviction returned a promise: it runs inside the forward/);
  // The rejection was handled: the process is still here after it settles.
  await new Promise((r) => setImmediate(r));
});

test('a session refuses calls from inside its own forward (onEviction), and works normally after', async () => {
  const attempts: [string, (s: Session) => unknown][] = [
    ['fork', (s) => s.fork()],
    ['reset', (s) => s.reset()],
    ['prefill', (s) => s.prefill([5, 6])],
    ['decode', (s) => s.decode(5)],
    ['generate', (s) => s.generate('x', { maxNewTokens: 1 })],
  ];
  for (const [what, call] of attempts) {
    const errors: unknown[] = [];
    let s: Session | null = null;
    s = await model.createSession({
      memory: 'streaming:sinks=4,window=16', chunkSize: 16,
      onEviction: () => {
        try { const r = call(s!); if (r instanceof Promise) r.catch((e: unknown) => errors.push(e)); } catch (e) { errors.push(e); }
      },
    });
    // A fork taken there copied a cache updated in layer 0 only; a reset left an unusable session with an error
    // about keep lists.
    const logits = s.prefill(model.tokenizer!.encode(prompt));
    await new Promise((r) => setImmediate(r));
    assert.ok(errors.length > 0, `${what} was attempted`);
    for (const e of errors) {
      assert.match(String(e), new RegExp(`^Error: ${what}: the session is in the middle of a forward \\(called from a callback such as onEviction, or from the memory policy\\)`), what);
    }
    // The refusals changed nothing: the same logits and cache as a session without the callback.
    const plain = await model.createSession({ memory: 'streaming:sinks=4,window=16', chunkSize: 16 });
    assert.deepEqual(Array.from(logits), Array.from(plain.prefill(model.tokenizer!.encode(prompt))), what);
    assert.deepEqual(Array.from(s.cache.lens(1)), Array.from(plain.cache.lens(1)), what);
  }
});

test('a forward of another session of the same model, from inside a forward, is refused (they share the scratch buffers)', async () => {
  // B.decode from A's onEviction overwrote A's activations between two layers: A's logits were off by up to 1.5 and
  // its cache kept the wrong keys, with no error.
  const ids = model.tokenizer!.encode(prompt);
  const b = await model.createSession();
  b.prefill([1]);
  const errors: unknown[] = [];
  const a = await model.createSession({
    memory: 'h2o:tokens=16', chunkSize: 16,
    onEviction: () => { try { b.decode(42); } catch (e) { errors.push(e); } },
  });
  const logits = a.prefill(ids);
  assert.ok(errors.length > 0);
  for (const e of errors) assert.match(String(e), /^Error: decode: another session of this model is in the middle of a forward \(this call came from its onEviction callback or its memory policy\)/);
  const plain = await model.createSession({ memory: 'h2o:tokens=16', chunkSize: 16 });
  assert.deepEqual(Array.from(logits), Array.from(plain.prefill(ids)));
  assert.deepEqual(Array.from(a.decode(42)), Array.from(plain.decode(42)));
  // B is untouched and runs once A's forward is over; another model's sessions were never affected.
  assert.equal(b.totalTokens, 1);
  const fresh = await model.createSession();
  fresh.prefill([1]);
  assert.deepEqual(Array.from(b.decode(42)), Array.from(fresh.decode(42)));
});

test('unknown option names are refused with the name meant, not ignored', async () => {
  // `{ memroy: … }` ran the full cache and `{ max_new_tokens: 3 }` generated 128 tokens, without a word.
  await assert.rejects(model.createSession({ memroy: 'h2o:tokens=4' } as never), /^TypeError: createSession: unknown option "memroy" \(did you mean "memory"\?\); the options are memory, chunkSize, forwardTokens, onEviction$/);
  const s = await model.createSession();
  await assert.rejects(s.generate('Once', { max_new_tokens: 3 } as never), /generate: unknown option "max_new_tokens" \(did you mean "maxNewTokens"\?\)/);
  await assert.rejects(s.generate('Once', { stop: ['e'] } as never), /generate: unknown option "stop" \(did you mean "stopTokens" or "stopStrings"\?\)/);
  assert.throws(() => s.prefill([1, 2], { logit: 'all' } as never), /prefill: unknown option "logit" \(did you mean "logits"\?\)/);
  assert.throws(() => s.fork({ memory: 'full' } as never), /^TypeError: fork: unknown option "memory"; the options are chunkSize, forwardTokens, onEviction$/);
  assert.throws(() => model.createSessionWith(null, { chunk: 4 } as never), /createSessionWith: unknown option "chunk" \(did you mean "chunkSize"\?\)/);
  // The exported constructors check their option names too (these ran the full cache / every core).
  assert.throws(() => new Session(model.arch, model.backend, model.tokenizer, { memroy: null } as never), /^TypeError: Session: unknown option "memroy" \(did you mean "memory"\?\)/);
  if (!skipNative) assert.throws(() => new NativeBackend({ thread: 2 } as never), /^TypeError: NativeBackend: unknown option "thread" \(did you mean "threads"\?\)/);
  // A flag that is not a boolean ('false' and 0 read as true: SnapKV compressed the context) is refused.
  for (const bad of ['false', 0, null]) {
    assert.throws(() => s.prefill([1, 2], { endOfPrefill: bad } as never), new RegExp(`^TypeError: prefill: endOfPrefill must be true or false, got ${JSON.stringify(bad)}$`));
  }
  // Nothing ran: the session is as new, and the known names work.
  assert.equal(s.totalTokens, 0);
  assert.equal((await s.generate('Once', { maxNewTokens: 3, stopStrings: ['zzz'], topK: 0, seed: 1 })).outputTokens.length, 3);
});

test('a custom policy whose keep lists are not lists is refused by name, head and layer', async () => {
  const lists = (o: { lens: Int32Array }, bad: unknown) => Array.from(o.lens, (_, h) => (h === o.lens.length - 1 ? bad : Int32Array.of(0)));
  for (const [bad, shown] of [[undefined, 'undefined'], [null, 'null'], ['0', '"0"'], [Float32Array.of(0), 'a Float32Array']] as const) {
    const policy = { name: 'mine', needsAttention: false, reset() {}, observe: (o: { lens: Int32Array }) => lists(o, bad) } as never;
    const s = model.createSessionWith(policy);
    // It failed with "Cannot read properties of undefined (reading 'length')".
    assert.throws(() => s.prefill([1, 5, 6]), new RegExp(`^TypeError: memory policy mine returned ${shown} as the keep list of layer 0 head ${model.config.nKvHeads - 1}; each must be an Int32Array \\(or an array\\) of the rows to keep$`));
  }
  const notArray = { name: 'mine', needsAttention: false, reset() {}, observe: () => 7 } as never;
  assert.throws(() => model.createSessionWith(notArray).prefill([1, 5]), /^TypeError: memory policy mine returned 7 for layer 0; observe\(\) returns null or one keep list per KV head$/);
});

/**
 * A memory policy that keeps everything and, when a forward brings the sequence to `total` tokens, sets an immediate
 * that aborts `ac`: an abort from outside generate's callbacks, run at the next turn generate gives the event loop
 * (before the next token is fed), at a known token. Its clones do nothing.
 */
function abortWhenFed(total: number, ac: AbortController | null): MemoryPolicy {
  return {
    name: 'abort-when-fed', needsAttention: false, reset() {},
    observe(obs) { if (obs.layer === 0 && obs.totalTokens === total && ac) setImmediate(() => ac.abort()); return null; },
    clone: () => abortWhenFed(total, null),
  };
}

test('generate with a signal gives the event loop a turn before the prefill and before each token is fed', async () => {
  // An abort from a timer or I/O can only run in such a turn. Before, the loop gave one every 16 tokens only, so a
  // short generation never saw AbortSignal.timeout, and a longer one saw it 16–32 tokens late.
  const long = 'Lily played with a red ball in the park. '.repeat(60);
  const s = await model.createSession();
  const ac = new AbortController();
  setImmediate(() => ac.abort());
  const seen: string[] = [];
  await assert.rejects(s.generate(long, { maxNewTokens: 8, signal: ac.signal, onToken: (t) => { seen.push(t); } }), { name: 'AbortError' });
  assert.equal(seen.length, 0, 'seen before the prefill');
  assert.equal(s.totalTokens, 0, 'nothing fed');
  // A timer that expires during the prefill (which takes far longer than 1 ms) fires at the turn before the first token is fed.
  const t = await model.createSession();
  await assert.rejects(t.generate(long, { maxNewTokens: 8, signal: AbortSignal.timeout(1) }), { name: 'TimeoutError' });
  // Mid-decoding: scheduled from the third token's callback, seen before that token is fed.
  const u = await model.createSession();
  const ac2 = new AbortController();
  const got: number[] = [];
  await assert.rejects(u.generate(long, { maxNewTokens: 8, minNewTokens: 8, signal: ac2.signal, onToken: (_t, id) => { got.push(id); if (got.length === 3) setImmediate(() => ac2.abort()); } }), { name: 'AbortError' });
  assert.equal(got.length, 3);
});

test('generate with an AbortSignal: cancelled between tokens or while onToken is pending; the session goes on', async () => {
  const promptIds = model.tokenizer!.encode(prompt);
  // Aborted from onToken after three tokens: the call rejects with the AbortError, the session holds what it made.
  const s = await model.createSession();
  const ac = new AbortController();
  const seen: number[] = [];
  await assert.rejects(s.generate(prompt, { maxNewTokens: 20, signal: ac.signal, onToken: (_t, id) => { seen.push(id); if (seen.length === 3) ac.abort(); } }), { name: 'AbortError' });
  assert.equal(seen.length, 3);
  const after = await s.generate(' Then', { maxNewTokens: 5 });
  const fresh = await model.createSession();
  fresh.prefill([...promptIds, ...seen]);
  assert.deepEqual(after.outputTokens, (await fresh.generate(' Then', { maxNewTokens: 5 })).outputTokens);
  // generate([]) takes an aborted generation up again from its last token, whether the abort came from a synchronous
  // onToken, during an async one, or from a timer (seen at the turn generate with a signal gives other work before
  // each token is fed): the tokens are those of one uninterrupted run.
  const whole = (await (await model.createSession()).generate(prompt, { maxNewTokens: 24, minNewTokens: 24 })).outputTokens;
  for (const how of ['sync', 'async', 'timer'] as const) {
    const r = await model.createSession();
    const abort = new AbortController();
    const got: number[] = [];
    const onToken = (_t: string, id: number) => {
      got.push(id);
      if (got.length === 3) {
        if (how === 'timer') setImmediate(() => abort.abort());
        else abort.abort();
      }
      return how === 'async' ? new Promise<void>((res) => setImmediate(res)) : undefined;
    };
    await assert.rejects(r.generate(prompt, { maxNewTokens: 24, minNewTokens: 24, signal: abort.signal, onToken }), { name: 'AbortError' });
    assert.equal(got.length, 3, how);
    const rest = await r.generate([], { maxNewTokens: 24 - got.length, minNewTokens: 24 - got.length });
    assert.deepEqual([...got, ...rest.outputTokens], whole, how);
  }
  // What the stream held back when the abort came (here the beginning of a stop string that never completes) begins
  // the stream and the text of the call that takes the generation up: the two streams join as the uninterrupted one.
  const plainRun = await (await model.createSession()).generate(prompt, { maxNewTokens: 24, minNewTokens: 24 });
  const tail = model.tokenizer!.decode(plainRun.outputTokens.slice(0, 16)).slice(model.tokenizer!.decode(plainRun.outputTokens.slice(0, 14)).length);
  assert.ok(tail.length > 0);
  const stopStrings = [`${tail}\u0001`];
  const wholeStream: string[] = [];
  const one = await (await model.createSession()).generate(prompt, { maxNewTokens: 24, minNewTokens: 24, stopStrings, onToken: (t) => { wholeStream.push(t); } });
  // The abort comes from elsewhere while no text is streamed: set up by a memory policy as token 14 is fed, it runs at
  // the turn before token 15 is fed, with tokens 14 and 15 held back.
  const heldAbort = new AbortController();
  const held = model.createSessionWith(abortWhenFed(plainRun.promptTokens.length + 15, heldAbort));
  const pieces: string[] = [];
  await assert.rejects(held.generate(prompt, { maxNewTokens: 24, minNewTokens: 24, stopStrings, signal: heldAbort.signal,
    onToken: (t) => { pieces.push(t); } }), { name: 'AbortError' });
  assert.ok(!pieces.join('').endsWith(tail), 'the tail was held back when the abort came');
  const firstPieces = pieces.length;
  const taken = await held.generate([], { maxNewTokens: 8, minNewTokens: 8, stopStrings, onToken: (t) => { pieces.push(t); } });
  assert.ok(taken.text.startsWith(tail), 'the held-back text begins the next call\'s text');
  assert.equal(pieces.slice(firstPieces).join(''), taken.text);
  assert.equal(pieces.join(''), wholeStream.join(''));
  assert.equal(pieces.join(''), one.text);
  // An abort from the last token's onToken rejects as any other (it resolved), and the token waits for generate([]).
  const last = await model.createSession();
  const lastAbort = new AbortController();
  let calls = 0;
  await assert.rejects(last.generate(prompt, { maxNewTokens: 3, minNewTokens: 3, signal: lastAbort.signal, onToken: () => { if (++calls === 3) lastAbort.abort(); } }), { name: 'AbortError' });
  assert.deepEqual([...plainRun.outputTokens.slice(0, 3), ...(await last.generate([], { maxNewTokens: 3, minNewTokens: 3 })).outputTokens], plainRun.outputTokens.slice(0, 6));
  // An onToken whose promise never settles held the session for good (busy: not even reset()); now abort ends it.
  const stuck = await model.createSession();
  const ac2 = new AbortController();
  const run = stuck.generate(prompt, { maxNewTokens: 20, signal: ac2.signal, onToken: () => new Promise(() => {}) });
  setTimeout(() => ac2.abort(new Error('user left')), 20);
  await assert.rejects(run, /^Error: user left$/);
  assert.equal((await stuck.generate(' Then', { maxNewTokens: 2 })).outputTokens.length, 2);
  stuck.reset();
  // Already aborted: refused before anything runs; a signal that is not one is refused by type.
  const idle = await model.createSession();
  await assert.rejects(idle.generate(prompt, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  assert.equal(idle.totalTokens, 0);
  await assert.rejects(idle.generate(prompt, { signal: { aborted: false } as never }), /^TypeError: generate: signal must be an AbortSignal, got/);
  // A signal that never fires changes nothing.
  const a = await (await model.createSession()).generate(prompt, { maxNewTokens: 6, signal: new AbortController().signal });
  const b = await (await model.createSession()).generate(prompt, { maxNewTokens: 6 });
  assert.deepEqual(a.outputTokens, b.outputTokens);
});

test('generate([]) after an abort: held text joins as the uninterrupted stream (a clean-up across the seam, a stop string spanning the calls, a fork, no tokenizer)', async () => {
  const promptIds = model.tokenizer!.encode(prompt);
  const ids = (await (await model.createSession()).generate(promptIds, { maxNewTokens: 24, minNewTokens: 24 })).outputTokens;
  // Two output tokens that occur nowhere else in the sequence, read by a tokenizer that cleans " 's" up to "'s".
  const seen = [...promptIds, ...ids], once = (x: number) => seen.filter((y) => y === x).length === 1;
  const k = ids.findIndex((x, i) => i >= 3 && i + 2 < ids.length && once(x) && once(ids[i + 1]!) && x !== ids[i + 1]);
  assert.ok(k > 0);
  const table = new Map([[ids[k]!, "x '"], [ids[k + 1]!, 's']]);
  const cleaning = {
    vocabSize: model.config.vocabSize, bosTokenId: null, eosTokenIds: model.tokenizer!.eosTokenIds, cleansUpSpaces: true,
    encode: () => { throw new Error('not needed'); },
    decode: (xs: readonly number[]) => xs.map((x) => table.get(x) ?? 'w').join('').replace(/ 's/g, "'s"),
  };
  const sessionWith = (tok: unknown) => new Session(model.arch, model.backend, tok as never, {});
  const run = async (tok: unknown, stopStrings: string[], abortAt: 'elsewhere' | ((text: string, id: number) => boolean), fork: boolean) => {
    const whole: string[] = [];
    const one = await sessionWith(tok).generate(promptIds, { maxNewTokens: 24, minNewTokens: 24, stopStrings, onToken: (t) => { whole.push(t); } });
    const ac = new AbortController(), pieces: string[] = [];
    // 'elsewhere': an abort set up by a memory policy as token 14 is fed, seen before token 15 is fed (when tokens 14
    // and 15 may be held back); else one from this call's onToken.
    let s = abortAt === 'elsewhere' ? new Session(model.arch, model.backend, tok as never, { memory: abortWhenFed(promptIds.length + 15, ac) }) : sessionWith(tok);
    await assert.rejects(s.generate(promptIds, { maxNewTokens: 24, minNewTokens: 24, stopStrings, signal: ac.signal,
      onToken: (t, id) => {
        pieces.push(t);
        if (abortAt !== 'elsewhere' && abortAt(pieces.join(''), id)) ac.abort();
      } }), { name: 'AbortError' });
    if (fork) s = s.fork();
    const first = pieces.join('');
    const done = s.totalTokens + 1 - promptIds.length;  // the tokens out: those fed, and the one waiting
    const rest = await s.generate([], { maxNewTokens: 24 - done, minNewTokens: 24 - done, stopStrings, onToken: (t) => { pieces.push(t); } });
    return { one, whole: whole.join(''), joined: pieces.join(''), rest, first };
  };
  // Aborted when "x '" is out ("x" streamed, " '" held back: clean-up may take its space away), taken up by
  // generate([]).
  const r = await run(cleaning, [], (_t, id) => id === ids[k], false);
  assert.equal(r.joined, r.whole);
  assert.ok(r.whole.includes("x'sw"), `the clean-up happened (the case this checks): ${JSON.stringify(r.whole)}`);
  // A stop string that the abort cut in two (tokens 15 and 16 held back, 17 to come): the second call (on the
  // session or a fork of it) finds it, and the texts join as one run's.
  const text = (xs: number[]) => model.tokenizer!.decode(xs);
  const stop = text(ids.slice(0, 17)).slice(text(ids.slice(0, 14)).length);
  for (const fork of [false, true]) {
    const spanning = await run(model.tokenizer, [stop], 'elsewhere', fork);
    assert.ok(!spanning.first.endsWith(text(ids.slice(0, 15)).slice(text(ids.slice(0, 14)).length)), 'the abort came while the stop string\'s beginning was held back (the case this checks)');
    assert.equal(spanning.one.stoppedBy, 'stop-string');
    assert.equal(spanning.rest.stoppedBy, 'stop-string', `fork ${fork}`);
    assert.equal(spanning.joined, spanning.whole, `fork ${fork}`);
  }
  // Without a tokenizer the text is the ids, space-separated, across the seam as well.
  const plainStop = `${ids[k]} ${ids[k + 1]}`;
  const plain = await run(null, [plainStop], (_t, id) => id === ids[k], false);
  assert.equal(plain.one.stoppedBy, 'stop-string');
  assert.equal(plain.rest.stoppedBy, 'stop-string');
  assert.equal(plain.joined, plain.whole);
});

test('a generation stopped right after a byte that is no whole character, taken up by generate([]): the texts join as one run (an invalid byte kept, half a character completed)', async () => {
  // A byte-level tokenizer of the model's own greedy output: one chosen token is a byte, the next either completes a
  // character with it (0xC3 then 0xA9: "é") or is a byte that no character begins with (0x81 then "x"). Decoded with
  // the same rule as the byte-level decoders (TextDecoder, non-fatal: U+FFFD per invalid sequence).
  const promptIds = model.tokenizer!.encode(prompt);
  const ids = (await (await model.createSession()).generate(promptIds, { maxNewTokens: 24, minNewTokens: 24 })).outputTokens;
  const seen = [...promptIds, ...ids], once = (x: number) => seen.filter((y) => y === x).length === 1;
  const k = ids.findIndex((x, i) => i >= 15 && i + 2 < ids.length && once(x) && once(ids[i + 1]!) && x !== ids[i + 1]);
  assert.ok(k >= 15, 'two tokens of the output that occur once');
  const utf8 = new TextDecoder();
  const bytesTokenizer = (first: number[], second: number[]) => {
    const table = new Map([[ids[k]!, first], [ids[k + 1]!, second]]);
    return {
      vocabSize: model.config.vocabSize, bosTokenId: null, eosTokenIds: model.tokenizer!.eosTokenIds, cleansUpSpaces: false,
      encode: () => { throw new Error('not needed'); },
      decode: (xs: readonly number[]) => utf8.decode(Uint8Array.from(xs.flatMap((x) => table.get(x) ?? [0x77]))),
    };
  };
  const cases = [{ name: 'an invalid byte', tok: bytesTokenizer([0x81], [0x78]), seam: '\uFFFDx' }, { name: 'half a character', tok: bytesTokenizer([0xc3], [0xa9]), seam: 'é' }];
  for (const { name, tok, seam } of cases) {
    const whole = (await new Session(model.arch, model.backend, tok as never, {}).generate(promptIds, { maxNewTokens: 24, minNewTokens: 24 })).text;
    assert.ok(whole.includes(`w${seam}w`), `${name}: the seam reads ${JSON.stringify(seam)} in one run (the case this checks)`);
    // Stopped by length with the byte as its last token.
    const s = new Session(model.arch, model.backend, tok as never, {});
    const a = await s.generate(promptIds, { maxNewTokens: k + 1, minNewTokens: k + 1 });
    assert.equal(a.stoppedBy, 'length');
    assert.ok(!a.text.endsWith('\uFFFD'), `${name}: the stopped text holds the byte back`);
    const b = await s.generate([], { maxNewTokens: 23 - k, minNewTokens: 23 - k });
    assert.equal(a.text + b.text, whole, `${name}: length stop`);
    // Stopped by an abort (seen before token k + 1 is fed, so the byte waits with the text it ended held back).
    const ac = new AbortController(), pieces: string[] = [];
    const t = new Session(model.arch, model.backend, tok as never, { memory: abortWhenFed(promptIds.length + k, ac) });
    await assert.rejects(t.generate(promptIds, { maxNewTokens: 24, minNewTokens: 24, signal: ac.signal, onToken: (p) => { pieces.push(p); } }), { name: 'AbortError' });
    assert.equal(t.totalTokens, promptIds.length + k, `${name}: the abort came with the byte waiting (the case this checks)`);
    await t.generate([], { maxNewTokens: 24 - k - 1, minNewTokens: 24 - k - 1, onToken: (p) => { pieces.push(p); } });
    assert.equal(pieces.join(''), whole, `${name}: abort`);
  }
});
