/** The BPE trainer (standard tokenizer.json, round trip, determinism) and the seeded data mixer. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HfTokenizer } from '../../src/models/tokenizers/hf.js';
import { loadHfTokenizer } from '../../src/models/tokenizer.js';
import { bpeTokenizerConfig, bpeTokenizerJson, byteToUnicode, trainBpe } from '../../src/train/bpe.js';
import { brownDocuments, corpusSplit, wordnetGlosses } from '../../src/train/corpus.js';
import { DataMixer, recallSample, tokenStream, TRAIN_SEED_BASE, VALIDATION_INDEX_BASE } from '../../src/train/data.js';
import { Rng } from '../../src/util/rng.js';
import { IGNORE } from '../../src/train/ops/cross-entropy.js';

const texts = brownDocuments().slice(0, 8).map((d) => d.text);

function tokenizerOf(vocabSize: number): HfTokenizer {
  const bpe = trainBpe(texts, { vocabSize });
  return new HfTokenizer({ tokenizerJson: bpeTokenizerJson(bpe), tokenizerConfig: bpeTokenizerConfig(bpe, 512), origin: 'test' });
}

describe('byte-level BPE training', () => {
  it('GPT-2 byte alphabet: 256 distinct printable characters, printable ASCII kept', () => {
    const t = byteToUnicode();
    assert.equal(new Set(t).size, 256);
    assert.equal(t[65], 'A'); assert.equal(t[32], 'Ġ'); assert.equal(t[10], 'Ċ');
  });

  it('reaches the vocabulary size, is deterministic, and merges frequent pairs first', () => {
    const a = trainBpe(texts, { vocabSize: 600 }), b = trainBpe(texts, { vocabSize: 600 });
    assert.equal(a.vocab.length, 600);
    assert.deepEqual(a.merges, b.merges);
    assert.deepEqual(a.vocab.slice(0, 3), ['<|pad|>', '<|bos|>', '<|eos|>']);
    assert.ok(a.vocab.includes('Ġthe'), '" the" is learnt');
    assert.throws(() => trainBpe(texts, { vocabSize: 100 }), /vocabSize must be/);
  });

  it('tokenizer.json loads in @huggingface/tokenizers and round-trips text, unicode and digits', () => {
    const tok = tokenizerOf(700);
    assert.equal(tok.vocabSize, 700);
    assert.equal(tok.bosTokenId, 1); assert.deepEqual(tok.eosTokenIds, [2]);
    for (const text of [...texts.slice(0, 3), "Don't  stop -- 'mon!\n\n\tÉté 日本語 😀 the pass key is 71432.", '   leading and trailing   ']) {
      const ids = tok.encode(text, { addBos: false });
      assert.equal(tok.decode(ids), text);
    }
    const withBos = tok.encode('hello');
    assert.equal(withBos[0], 1);
    // Digits are single tokens: a number of n digits is n tokens.
    assert.equal(tok.encode('71432', { addBos: false }).length, 5);
    // Frequent words are single tokens after training.
    assert.equal(tok.encode(' the', { addBos: false }).length, 1);
  });
});

describe('corpus and data mixer', () => {
  it('corpus: Brown without tags, WordNet glosses, a fixed held-out split', () => {
    assert.ok(!/\/(at|nn|vbd)\b/.test(texts[0]!), 'no /tag suffixes');
    const glosses = wordnetGlosses('noun');
    assert.ok(glosses.length > 80000);
    assert.match(glosses[0]!, /^that which is perceived/);
    const split = corpusSplit();
    assert.ok(split.validation.length > 100 && split.train.length > 20 * split.validation.length);
    assert.ok(!split.train.some((d) => split.validation.some((v) => v.name === d.name)));
  });

  const tok = tokenizerOf(500);
  const stream = tokenStream(brownDocuments().slice(0, 4), tok, 1, 2);
  const options = { textWeight: 1, taskWeight: 1, textLengths: [16, 32], taskLengths: [360], tasks: ['passkey', 'niah_single_1'], lossOn: 'answer' as const, seed: 0 };

  it('is deterministic and resumes from its state', () => {
    const a = new DataMixer(options, stream, tok, 1, 2, 512), b = new DataMixer(options, stream, tok, 1, 2, 512);
    const first = Array.from({ length: 6 }, () => a.next());
    const state = a.getState();
    const more = Array.from({ length: 4 }, () => a.next());
    for (const s of first) assert.deepEqual(b.next(), s);
    const c = new DataMixer(options, stream, tok, 1, 2, 512);
    c.setState(state);
    for (const s of more) assert.deepEqual(c.next(), s);
    assert.ok(first.some((s) => s.kind === 'text') && [...first, ...more].some((s) => s.kind === 'task'), 'both kinds drawn');
  });

  it('a resume makes the same task samples: the sizing memo is part of the state', async () => {
    // Which of the sizes within tolerance a record gets depends on the rates learnt from earlier records; with the
    // shipped tokenizer and these lengths a mixer restored without them makes a different 11th-40th sample set.
    const shipped = await loadHfTokenizer('models/namm-tiny-llama/tokenizer.json');
    const long = { ...options, textWeight: 0, taskLengths: [512, 1024, 2048], tasks: ['passkey', 'niah_single_1', 'niah_single_2', 'vt'] };
    const s = tokenStream(brownDocuments().slice(0, 4), shipped, 1, 2);
    const a = new DataMixer(long, s, shipped, 1, 2, 4096);
    for (let i = 0; i < 10; i++) a.next();
    const state = JSON.parse(JSON.stringify(a.getState())) as ReturnType<DataMixer['getState']>; // as a checkpoint holds it
    assert.ok(state.memo && state.memo.length > 0, 'the memo is saved');
    const rest = Array.from({ length: 30 }, () => a.next());
    const same = (m: DataMixer) => rest.filter((r) => { const x = m.next(); return x.ids.length === r.ids.length && x.ids.every((v, j) => v === r.ids[j]); }).length;
    const resumed = new DataMixer(long, s, shipped, 1, 2, 4096);
    resumed.setState(state);
    assert.equal(same(resumed), 30);
    const forgetful = new DataMixer(long, s, shipped, 1, 2, 4096);
    forgetful.setState({ ...state, memo: undefined });
    assert.ok(same(forgetful) < 30, 'without the memo some sample differs (what resumes did before)');
  });

  it('text windows train on every token; task samples on the answer and EOS only', () => {
    const m = new DataMixer(options, stream, tok, 1, 2, 512);
    for (let i = 0; i < 12; i++) {
      const s = m.next();
      assert.equal(s.ids.length, s.targets.length);
      assert.ok(s.ids.length <= 512);
      if (s.kind === 'text') {
        assert.ok(s.targets.every((t) => t !== IGNORE));
        assert.deepEqual(Array.from(s.targets.subarray(0, s.targets.length - 1)), Array.from(s.ids.subarray(1)));
      } else {
        assert.equal(s.ids[0], 1);
        assert.equal(s.targets[s.targets.length - 1], 2, 'EOS is the last target');
        const kept = Array.from(s.targets).filter((t) => t !== IGNORE);
        assert.ok(kept.length >= 2 && kept.length < 20, `answer tokens only (${kept.length})`);
        const answer = tok.decode(kept);
        assert.match(answer, /^ ?[\w\d, -]+$/);
      }
    }
  });

  it('a record that cannot be sized is skipped for the next index', () => {
    // With this tokenizer, vt records 0-2 and 4 cannot be sized to 288 tokens (their smallest prompts are a little
    // longer than others'); 3 and 5 can.
    const vt = { ...options, textWeight: 0, tasks: ['vt'], taskLengths: [288] };
    const a = new DataMixer(vt, stream, tok, 1, 2, 512);
    const samples = Array.from({ length: 2 }, () => a.next());
    assert.ok(samples.every((s) => s.source === 'vt'));
    assert.equal(a.getState().taskIndex, 6);
    assert.deepEqual(samples[0], a.taskSample('vt', 288, 3));
    const b = new DataMixer(vt, stream, tok, 1, 2, 512);
    assert.deepEqual(Array.from({ length: 2 }, () => b.next()), samples, 'skipping is deterministic');
    // A length no record reaches is refused when the mixer is made (test/train/audit-checks.test.ts), not at a draw.
    assert.throws(() => new DataMixer({ ...vt, tasks: ['kv_retrieval'], taskLengths: [70] }, stream, tok, 1, 2, 512), /data\.taskLengths: 70 tokens cannot hold a kv_retrieval sample/);
  });

  it('validation samples skip a record that cannot be sized, as training does, instead of failing the run at its start', () => {
    const vt = { ...options, textWeight: 0, tasks: ['vt'], taskLengths: [288] };
    const m = new DataMixer(vt, stream, tok, 1, 2, 512);
    const count = 4;
    const fails = (index: number): boolean => { try { m.taskSample('vt', 288, index); return false; } catch { return true; } };
    const failing = Array.from({ length: count }, (_, i) => i).filter((i) => fails(VALIDATION_INDEX_BASE + i));
    assert.ok(failing.length > 0, 'some validation index cannot be sized (the case this checks)');
    const samples = DataMixer.validationSamples(m, stream, count);
    assert.equal(samples.length, count);
    samples.forEach((s, i) => {
      // Index i, else i + count, i + 2·count, ...: the first that can be sized, and no other sample's.
      let k = 0;
      while (fails(VALIDATION_INDEX_BASE + i + count * k)) k++;
      assert.deepEqual(s, m.taskSample('vt', 288, VALIDATION_INDEX_BASE + i + count * k), `sample ${i}`);
    });
    assert.deepEqual(DataMixer.validationSamples(m, stream, count), samples, 'deterministic');
  });

  it('validation alternates text windows with every task in turn, whatever the number of tasks', () => {
    const four = { ...options, tasks: ['passkey', 'niah_single_1', 'niah_single_2', 'vt'], taskLengths: [512] };
    const samples = DataMixer.validationSamples(new DataMixer(four, stream, tok, 1, 2, 512), stream, 10);
    assert.deepEqual(samples.map((s) => s.source), ['text', 'passkey', 'text', 'niah_single_1', 'text', 'niah_single_2', 'text', 'vt', 'text', 'passkey']);
  });

  it('training and validation task seeds are disjoint from evaluation seeds (< 1,000,000)', () => {
    assert.equal(TRAIN_SEED_BASE, 1_000_000);
    const m = new DataMixer(options, stream, tok, 1, 2, 512);
    const train = m.taskSample('passkey', 360, 0), val = m.taskSample('passkey', 360, VALIDATION_INDEX_BASE);
    assert.notDeepEqual(Array.from(train.ids), Array.from(val.ids));
    assert.throws(() => new DataMixer({ ...options, taskLengths: [600] }, stream, tok, 1, 2, 512), /task length 600/);
  });
  it('copy samples: BOS + one segment repeated, every token a target, text or random segments', () => {
    const m = new DataMixer({ ...options, textWeight: 0, taskWeight: 0, copyWeight: 1, copyLengths: [64, 96] }, stream, tok, 1, 2, 512);
    let random = 0;
    for (let i = 0; i < 20; i++) {
      const s = m.next();
      assert.equal(s.kind, 'copy');
      assert.ok(s.ids.length === 64 || s.ids.length === 96);
      assert.equal(s.ids[0], 1);
      assert.ok(s.targets.every((t) => t !== IGNORE));
      assert.deepEqual(Array.from(s.targets.subarray(0, s.targets.length - 1)), Array.from(s.ids.subarray(1)));
      // The smallest period p with seq[i] = seq[i - p] for all i is within 8..L/2, and the body repeats at least twice.
      const body = Array.from(s.ids.subarray(1)).concat(s.targets[s.targets.length - 1]!);
      let p = 1;
      while (!body.every((x, j) => j < p || x === body[j - p])) p++;
      assert.ok(p <= s.ids.length / 2, `period ${p}`);
      if (!body.slice(0, p).every((x) => Array.from(stream).includes(x))) random++;
    }
    assert.ok(random > 0, 'some segments are random ids');
    assert.throws(() => new DataMixer({ ...options, copyWeight: 1, copyLengths: [16] }, stream, tok, 1, 2, 512), /copy length 16/);
  });
  it('recall samples: records, then the same records shuffled as queries, only the queries\' values are targets', () => {
    const rng = new Rng('recall-test');
    for (const gap of [0, 1, 3]) {
      for (let trial = 0; trial < 6; trial++) {
        const L = [64, 100, 256][trial % 3]!;
        const s = recallSample(rng, 500, 1, L, gap);
        assert.equal(s.kind, 'recall'); assert.equal(s.source, `recall-gap${gap}`);
        // The sample's last token (the final separator) predicts nothing and is not part of it.
        const seq = [...Array.from(s.ids), -1];
        assert.equal(seq[0], 1);
        // The value length is the run of consecutive target rows; the record size follows from the length.
        const rows = Array.from(s.targets.keys()).filter((t) => s.targets[t] !== IGNORE);
        const valueLen = rows[1] === rows[0]! + 1 ? 2 : 1;
        const body = seq.slice(1), half = body.length / 2;
        assert.ok(Number.isInteger(half));
        // The first target row precedes the first asked value: seq index 1 + half + keyLen + gap.
        const keyLen = rows[0]! - half - gap, size = keyLen + gap + valueLen + 1;
        assert.ok(keyLen === 1 || keyLen === 2, `key length ${keyLen}`);
        assert.equal(half, Math.floor((L - 1) / (2 * size)) * size, 'as many records as fit twice');
        const records = (from: number) => Array.from({ length: half / size }, (_, i) => body.slice(from + i * size, from + (i + 1) * size));
        const stored = records(0), asked = records(half);
        const filler = stored[0]!.slice(keyLen, keyLen + gap), sep = stored[0]![size - 1];
        for (const r of stored) {
          assert.deepEqual(r.slice(keyLen, keyLen + gap), filler, 'one filler for every record');
          assert.equal(r[size - 1], sep, 'one separator');
          assert.ok(r.every((x) => x >= 3 && x < 500), 'no special tokens');
        }
        assert.equal(new Set(stored.map((r) => r.slice(0, keyLen).join())).size, stored.length, 'distinct keys');
        const noSep = (r: number[]) => r.slice(0, size - 1).join();
        assert.deepEqual(asked.map(noSep).sort(), stored.map(noSep).sort(), 'every record asked once');
        assert.ok(asked.slice(0, -1).every((r) => r[size - 1] === sep), 'asked records end in the separator');
        // Targets: exactly the rows before each asked record's value tokens, holding those tokens.
        const want: number[] = [];
        asked.forEach((_, i) => { for (let v = 0; v < valueLen; v++) want.push(half + i * size + keyLen + gap + v); });
        assert.deepEqual(rows, want);
        for (const t of rows) assert.equal(s.targets[t], seq[t + 1]);
      }
    }
    assert.throws(() => recallSample(rng, 500, 1, 10, 8), /cannot hold a record/);
    // With a query gap, every query is "key · q · filler · value · sep" with one q for all; records stay as they were.
    for (let trial = 0; trial < 6; trial++) {
      const gap = trial % 3, m = 1 + trial;
      const s = recallSample(rng, 500, 1, 200, gap, m);
      assert.equal(s.source, `recall-gap${gap}-query${m}`);
      const seq = [...Array.from(s.ids), -1];
      const rows = Array.from(s.targets.keys()).filter((t) => s.targets[t] !== IGNORE);
      const valueLen = rows[1] === rows[0]! + 1 ? 2 : 1;
      // P records of `size` tokens, then P queries of size + m: P·(2·size + m) + 1 tokens.
      let found = false;
      for (const keyLen of [1, 2]) {
        const size = keyLen + gap + valueLen + 1, P = Math.floor(199 / (2 * size + m));
        if (seq.length !== 1 + P * (2 * size + m)) continue;
        const stored = Array.from({ length: P }, (_, i) => seq.slice(1 + i * size, 1 + (i + 1) * size));
        const queries = Array.from({ length: P }, (_, i) => seq.slice(1 + P * size + i * (size + m), 1 + P * size + (i + 1) * (size + m)));
        const q = queries[0]!.slice(keyLen, keyLen + m), filler = stored[0]!.slice(keyLen, keyLen + gap);
        if (!queries.every((x) => x.slice(keyLen, keyLen + m).join() === q.join() && x.slice(keyLen + m, keyLen + m + gap).join() === filler.join())) continue;
        // The record with the query's key holds the query's value.
        const want: number[] = [];
        queries.forEach((x, i) => {
          const r = stored.find((y) => y.slice(0, keyLen).join() === x.slice(0, keyLen).join())!;
          assert.deepEqual(x.slice(keyLen + m + gap, keyLen + m + gap + valueLen), r.slice(keyLen + gap, keyLen + gap + valueLen));
          for (let v = 0; v < valueLen; v++) want.push(P * size + i * (size + m) + keyLen + m + gap + v);
        });
        assert.deepEqual(rows, want, 'targets: the queries\' values');
        found = true;
      }
      assert.ok(found, `layout with query gap ${m}`);
    }
  });
  it('recall samples in the mix: drawn by weight, deterministic, validated', () => {
    const recall = { ...options, textWeight: 0, taskWeight: 0, recallWeight: 1, recallLengths: [64, 128], recallGaps: [2] };
    const a = new DataMixer(recall, stream, tok, 1, 2, 512), b = new DataMixer(recall, stream, tok, 1, 2, 512);
    for (let i = 0; i < 10; i++) {
      const x = a.next(), y = b.next();
      assert.equal(x.kind, 'recall'); assert.equal(x.source, 'recall-gap2');
      assert.ok(x.ids.length <= 128 && x.ids.length > 32);
      assert.deepEqual(Array.from(x.ids), Array.from(y.ids));
    }
    // With no recall weight the mix draws exactly as before recall samples existed.
    const plain = new DataMixer(options, stream, tok, 1, 2, 512), zero = new DataMixer({ ...options, recallWeight: 0 }, stream, tok, 1, 2, 512);
    for (let i = 0; i < 10; i++) assert.deepEqual(Array.from(plain.next().ids), Array.from(zero.next().ids));
    assert.throws(() => new DataMixer({ ...recall, recallLengths: [16] }, stream, tok, 1, 2, 512), /recall length 16/);
    assert.throws(() => new DataMixer({ ...recall, recallGaps: [17] }, stream, tok, 1, 2, 512), /recall gap 17/);
    assert.throws(() => new DataMixer({ ...recall, recallGaps: [] }, stream, tok, 1, 2, 512), /recallGaps is empty/);
    const asked = new DataMixer({ ...recall, recallQueryGaps: [4] }, stream, tok, 1, 2, 512);
    assert.equal(asked.next().source, 'recall-gap2-query4');
    assert.throws(() => new DataMixer({ ...recall, recallQueryGaps: [-1] }, stream, tok, 1, 2, 512), /recall query gap -1/);
  });
});
