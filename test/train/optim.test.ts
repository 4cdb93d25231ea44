/** AdamW, the learning-rate schedule, gradient clipping, the config schema and the checkpoint codec. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdamW, clipGradNorm } from '../../src/train/adamw.js';
import { decodeTrainCheckpoint, encodeTrainCheckpoint, TRAIN_CHECKPOINT_FORMAT } from '../../src/train/checkpoint.js';
import { parseTrainConfig, readTrainConfig } from '../../src/train/config.js';
import { ParamStore } from '../../src/train/params.js';
import { learningRate } from '../../src/train/schedule.js';

function store(): ParamStore {
  const p = new ParamStore([
    { name: 'w', shape: [2, 2], decay: true, init: { kind: 'const', value: 1 } },
    { name: 'norm', shape: [2], decay: false, init: { kind: 'const', value: 1 } },
  ], 'f64');
  p.initialize(0);
  return p;
}

describe('AdamW', () => {
  it('first step moves every parameter by lr·sign(g) (bias correction), decays only decayed ones', () => {
    const p = store(), opt = new AdamW(p, { weightDecay: 0.5, eps: 1e-12 });
    p.grad.set([2, -3, 0.5, -0.1, 4, -4]);
    opt.update(0.1);
    // m̂ = g, v̂ = g², so the Adam step is lr·g/|g|; decay multiplies decayed weights by (1 − lr·λ) = 0.95 first.
    const want = [0.95 - 0.1, 0.95 + 0.1, 0.95 - 0.1, 0.95 + 0.1, 1 - 0.1, 1 + 0.1];
    for (let i = 0; i < 6; i++) assert.ok(Math.abs(p.data[i]! - want[i]!) < 1e-9, `param ${i}: ${p.data[i]} vs ${want[i]}`);
  });

  it('matches a hand-computed second step', () => {
    const p = new ParamStore([{ name: 'x', shape: [1], decay: true, init: { kind: 'const', value: 2 } }], 'f64');
    p.initialize(0);
    const o = { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 };
    const opt = new AdamW(p, o);
    let x = 2, m = 0, v = 0;
    for (let t = 1; t <= 2; t++) {
      const g = 2 * x; // gradient of x²
      p.grad[0] = g; opt.update(0.01);
      m = o.beta1 * m + (1 - o.beta1) * g; v = o.beta2 * v + (1 - o.beta2) * g * g;
      x = x * (1 - 0.01 * o.weightDecay) - 0.01 * (m / (1 - o.beta1 ** t)) / (Math.sqrt(v / (1 - o.beta2 ** t)) + o.eps);
      assert.ok(Math.abs(p.data[0]! - x) < 1e-12, `step ${t}`);
    }
    const state = opt.getState(), again = new AdamW(p, o);
    again.setState(state);
    assert.equal(again.step, 2);
    assert.throws(() => new AdamW(p, { beta1: 1 }), /betas/);
  });

  it('clipGradNorm scales to the max norm and reports the norm before', () => {
    const g = new Float64Array([3, 4]);
    assert.equal(clipGradNorm(g, 1), 5);
    assert.ok(Math.abs(Math.hypot(g[0]!, g[1]!) - 1) < 1e-9);
    const h = new Float64Array([0.3, 0.4]);
    clipGradNorm(h, 1);
    assert.deepEqual(Array.from(h), [0.3, 0.4]);
  });
});

describe('warm-up + cosine schedule', () => {
  const s = { peak: 1e-3, min: 1e-4, warmupSteps: 10, totalSteps: 110 };
  it('rises linearly, peaks, follows a half cosine to the minimum', () => {
    assert.ok(Math.abs(learningRate(s, 0) - 1e-4) < 1e-15);
    assert.ok(Math.abs(learningRate(s, 9) - 1e-3) < 1e-15);
    assert.ok(Math.abs(learningRate(s, 10) - 1e-3) < 1e-15);
    assert.ok(Math.abs(learningRate(s, 60) - 5.5e-4) < 1e-12, 'half way: the mean of peak and min');
    assert.ok(Math.abs(learningRate(s, 110) - 1e-4) < 1e-15);
    assert.ok(Math.abs(learningRate(s, 500) - 1e-4) < 1e-15);
    for (let t = 11; t < 110; t++) assert.ok(learningRate(s, t) < learningRate(s, t - 1), 'decreasing');
  });
});

describe('training config', () => {
  it('the shipped configs parse and describe the two target models', () => {
    const llama = readTrainConfig('configs/namm-tiny-llama.json'), gpt2 = readTrainConfig('configs/namm-tiny-gpt2.json');
    assert.equal(llama.model.arch, 'llama'); assert.equal(llama.model.nHeads, 8); assert.equal(llama.model.nKvHeads, 4);
    assert.ok(llama.model.maxPositions >= 4096);
    assert.equal(gpt2.model.arch, 'gpt2'); assert.ok(gpt2.model.maxPositions >= 2048);
    // The other phases and the toy that shows induction forming parse too.
    assert.equal(readTrainConfig('configs/namm-tiny-llama-induction.json').data.copyWeight, 0.6);
    assert.equal(readTrainConfig('configs/namm-tiny-llama-copy.json').data.copyWeight, 1);
    assert.equal(readTrainConfig('configs/namm-tiny-llama-retrieval.json').data.taskWeight, 0.6);
    const answers = readTrainConfig('configs/namm-tiny-llama-answers.json'), long = readTrainConfig('configs/namm-tiny-llama-long.json');
    assert.equal(answers.data.lossOn, 'answer'); assert.equal(long.data.lossOn, 'answer');
    assert.equal(Math.max(...long.data.taskLengths), 4096);
    // Phases 7 and 8: the same model, the answers of tasks drawn towards multi-key, kv_retrieval and vt.
    for (const f of ['configs/namm-tiny-llama-weighted.json', 'configs/namm-tiny-llama-keys.json']) {
      const c = readTrainConfig(f);
      assert.deepEqual(c.model, long.model); assert.equal(c.data.lossOn, 'answer');
      assert.equal(c.data.tasks.filter((t) => ['niah_multikey_1', 'kv_retrieval', 'vt'].includes(t)).length, 7);
    }
    assert.equal(Math.min(...readTrainConfig('configs/namm-tiny-llama-keys.json').data.taskLengths), 512);
    const mk = readTrainConfig('configs/namm-tiny-llama-multikey-experiment.json');
    assert.deepEqual(mk.data.tasks, ['niah_multikey_1']); assert.equal(Math.min(...mk.data.taskLengths), 384);
    // The recall experiment's four phases start from the shipped models' weights and change only the data mix.
    const recall = ['', '-gap2', '-gap3', '-keys'].map((k) => readTrainConfig(`configs/namm-tiny-llama-recall${k}-experiment.json`));
    for (const c of recall) { assert.equal(c.init, 'models/namm-tiny-llama'); assert.deepEqual(c.model, long.model); assert.ok(c.data.recallWeight! > 0); }
    assert.deepEqual(recall.map((c) => c.data.recallGaps), [[0, 1, 2, 3, 4], [1, 2, 2, 2, 3], [1, 2, 3, 3, 3], [1, 2, 3, 3]]);
    assert.deepEqual(readTrainConfig('configs/namm-tiny-llama-recall-query-experiment.json').data.recallQueryGaps, [0, 2, 4, 8]);
    assert.equal(readTrainConfig('configs/namm-tiny-gpt2-recall-experiment.json').init, 'models/namm-tiny-gpt2');
    // GPT-2's phases: pure copy with a wired previous-token head, longer copies, then the answers.
    assert.equal(gpt2.model.positionInit, 'sinusoidal'); assert.equal(gpt2.model.previousTokenHeads, 1); assert.equal(gpt2.data.copyWeight, 1);
    assert.equal(Math.max(...readTrainConfig('configs/namm-tiny-gpt2-copylong.json').data.copyLengths), 1024);
    const gpt2Answers = readTrainConfig('configs/namm-tiny-gpt2-answers.json');
    assert.equal(gpt2Answers.data.lossOn, 'answer'); assert.equal(Math.max(...gpt2Answers.data.taskLengths), 2048);
    assert.equal(readTrainConfig('configs/gpt2-first-attempt.json').model.positionInit, 'normal');
    const toy = readTrainConfig('configs/toy-induction.json');
    assert.equal(toy.data.copyWeight, 1); assert.equal(toy.data.taskWeight, 0);
  });
  it('rejects bad input with the field named', () => {
    const base = { model: { arch: 'llama', hiddenSize: 16, nLayers: 1, nHeads: 4, intermediateSize: 8, maxPositions: 64 }, training: { steps: 1 } };
    assert.equal(parseTrainConfig(base).data.lossOn, 'answer');
    assert.throws(() => parseTrainConfig({ ...base, extra: 1 }), /unknown field "extra"/);
    // A null is a value of the wrong type, not "use the default" (it trained at the default rate, tied, seed 0).
    assert.throws(() => parseTrainConfig({ ...base, optimizer: { lr: null } }), /optimizer\.lr must be a number > 0, got null/);
    assert.throws(() => parseTrainConfig({ ...base, model: { ...base.model, tieEmbeddings: null } }), /model\.tieEmbeddings must be true or false/);
    assert.throws(() => parseTrainConfig({ ...base, model: { ...base.model, activation: null } }), /model\.activation must be one of silu, gelu_tanh, gelu_erf, got null/);
    assert.throws(() => parseTrainConfig({ ...base, model: { ...base.model, nKvHeads: 3 } }), /multiple of nKvHeads/);
    assert.throws(() => parseTrainConfig({ ...base, training: { steps: 0 } }), /training\.steps must be an integer within 1\.\.2,147,483,647, got 0/);
    // Typos far past anything a CPU trains: an error, not an out-of-memory crash or a run that never ends.
    assert.throws(() => parseTrainConfig({ ...base, training: { steps: 1e300 } }), /training\.steps must be an integer within 1\.\.2,147,483,647, got 1e\+300/);
    assert.throws(() => parseTrainConfig({ ...base, model: { ...base.model, maxPositions: 1e9 } }), /model\.maxPositions must be an integer within 2\.\.1,048,576 \(2\^20\), got 1000000000/);
    assert.throws(() => parseTrainConfig({ ...base, data: { validationSamples: 1e9 } }), /data\.validationSamples must be an integer within 0\.\.100,000/);
    assert.throws(() => parseTrainConfig({ ...base, data: { textLengths: [128] } }), /exceeds the model's context 64/);
    // Validation takes text windows when no task is drawn: a copy-only run needs a text length for them.
    const copyOnly = { textWeight: 0, taskWeight: 0, copyWeight: 1, copyLengths: [32], textLengths: [] };
    assert.throws(() => parseTrainConfig({ ...base, data: copyOnly }), /data\.textLengths is empty, but validation takes held-out text windows of its longest length \(validationSamples 8\)/);
    assert.equal(parseTrainConfig({ ...base, data: { ...copyOnly, validationSamples: 0 } }).data.validationSamples, 0);
    assert.throws(() => parseTrainConfig({ ...base, optimizer: { lr: 1e-3, minLr: 1 } }), /minLr/);
    assert.throws(() => parseTrainConfig({ ...base, optimizer: { warmupSteps: 5 } }), /optimizer\.warmupSteps \(5\) is more than training\.steps \(1\)/);
    // The default warm-up (100) fits a shorter run: a tenth of its steps; 100 steps or more keep 100.
    assert.equal(parseTrainConfig({ ...base, training: { steps: 45 } }).optimizer.warmupSteps, 5);
    assert.equal(parseTrainConfig(base).optimizer.warmupSteps, 1);
    assert.equal(parseTrainConfig({ ...base, training: { steps: 100 } }).optimizer.warmupSteps, 100);
    assert.equal(parseTrainConfig({ ...base, training: { steps: 50 }, optimizer: { warmupSteps: 50 } }).optimizer.warmupSteps, 50);
    assert.throws(() => parseTrainConfig({ ...base, training: { steps: 1, seed: 1_000_000 } }), /training\.seed must be an integer within 0\.\.999,999/);
    // What the data mixer refuses is refused before a run writes into its folder.
    assert.throws(() => parseTrainConfig({ ...base, data: { taskWeight: 1, tasks: ['paskey'], taskLengths: [64] } }), /data\.tasks: unknown task "paskey"/);
    assert.throws(() => parseTrainConfig({ ...base, data: { taskWeight: 1, tasks: ['passkey'], taskLengths: [32] } }), /data\.taskLengths: 32 is below the shortest sample of its kind \(64 tokens\)/);
    assert.throws(() => parseTrainConfig({ ...base, data: { copyWeight: 1, textLengths: [32], copyLengths: [16] } }), /data\.copyLengths: 16 is below/);
    assert.throws(() => parseTrainConfig({ ...base, data: { textLengths: [1] } }), /data\.textLengths: 1 is below/);
    // Copy and recall lengths inherit the text lengths: an inherited length too short is refused as well.
    assert.throws(() => parseTrainConfig({ ...base, data: { textLengths: [16], copyWeight: 0.5 } }), /data\.copyLengths: 16 is below the shortest sample of its kind \(32 tokens\)/);
    assert.throws(() => parseTrainConfig({ ...base, data: { textLengths: [16], recallWeight: 0.5 } }), /data\.recallLengths: 16 is below the shortest sample of its kind \(32 tokens\)/);
    assert.throws(() => parseTrainConfig({ model: base.model }), /training\.steps is required/);
    // Sizes that would exhaust memory instead of failing, and a mix that draws nothing, are config errors.
    assert.throws(() => parseTrainConfig({ ...base, training: { steps: 1, tokensPerStep: 1e15 } }), /training\.tokensPerStep must be an integer within 1\.\.16777216/);
    assert.throws(() => parseTrainConfig({ ...base, tokenizer: { vocabSize: 1e9 } }), /tokenizer\.vocabSize must be an integer within 259\.\.262144/);
    assert.throws(() => parseTrainConfig({ ...base, data: { textWeight: 0, taskWeight: 0 } }), /data: textWeight, taskWeight, copyWeight and recallWeight are all 0/);
    assert.throws(() => parseTrainConfig({ ...base, model: { ...base.model, positionInit: 'sinusoidal' } }), /positionInit, positionStd and previousTokenHeads apply to gpt2 models/);
    const gpt2 = { ...base, model: { arch: 'gpt2', hiddenSize: 16, nLayers: 1, nHeads: 4, intermediateSize: 8, maxPositions: 64 } };
    assert.equal(parseTrainConfig(gpt2).model.positionInit, 'normal');
    assert.equal(parseTrainConfig({ ...gpt2, model: { ...gpt2.model, positionInit: 'sinusoidal' } }).model.positionInit, 'sinusoidal');
    assert.throws(() => parseTrainConfig({ ...gpt2, model: { ...gpt2.model, positionInit: 'rope' } }), /positionInit must be one of/);
    assert.throws(() => parseTrainConfig({ ...gpt2, model: { ...gpt2.model, previousTokenHeads: 1 } }), /previousTokenHeads needs "positionInit": "sinusoidal"/);
    const sinusoidal = { ...gpt2.model, positionInit: 'sinusoidal' };
    assert.throws(() => parseTrainConfig({ ...gpt2, model: { ...sinusoidal, previousTokenHeads: 5 } }), /at most nHeads/);
    assert.equal(parseTrainConfig({ ...gpt2, model: { ...sinusoidal, previousTokenHeads: 1 } }).model.previousTokenHeads, 1);
    // Shapes the initialisation cannot use are refused here, before the tokenizer is trained and files are written.
    assert.throws(() => parseTrainConfig({ ...gpt2, model: { ...sinusoidal, hiddenSize: 15, nHeads: 5 } }), /"positionInit": "sinusoidal" needs an even hiddenSize \(sine and cosine pairs\), got 15/);
    assert.throws(() => parseTrainConfig({ ...gpt2, model: { ...sinusoidal, hiddenSize: 12, nHeads: 4, previousTokenHeads: 1 } }), /previousTokenHeads needs an even head dimension \(frequency pairs\), got hiddenSize 12 \/ nHeads 4 = 3/);
    // Recall samples: fields only with a weight; gaps within 0..16; lengths within the context.
    assert.ok(!('recallWeight' in parseTrainConfig(base).data), 'no recall fields without recall samples');
    const recall = parseTrainConfig({ ...base, data: { textLengths: [32], recallWeight: 0.5 } }).data;
    assert.deepEqual([recall.recallWeight, recall.recallLengths, recall.recallGaps], [0.5, [32], [0, 1, 2, 3]]);
    assert.throws(() => parseTrainConfig({ ...base, data: { textLengths: [32], recallGaps: [1] } }), /need recallWeight > 0/);
    assert.throws(() => parseTrainConfig({ ...base, data: { textLengths: [32], recallWeight: 1, recallGaps: [17] } }), /recallGaps must be/);
    assert.deepEqual(parseTrainConfig({ ...base, data: { textLengths: [32], recallWeight: 1, recallQueryGaps: [0, 4] } }).data.recallQueryGaps, [0, 4]);
    assert.throws(() => parseTrainConfig({ ...base, data: { textLengths: [32], recallWeight: 1, recallQueryGaps: [] } }), /recallQueryGaps must be/);
    assert.throws(() => parseTrainConfig({ ...base, data: { textLengths: [32], recallQueryGaps: [1] } }), /need recallWeight > 0/);
    assert.throws(() => parseTrainConfig({ ...base, data: { textLengths: [32], recallWeight: 1, recallLengths: [128] } }), /exceeds the model's context 64/);
    // init: a model folder whose tokenizer is used unless one is named.
    assert.equal(parseTrainConfig(base).init, null);
    const init = parseTrainConfig({ ...base, init: 'models/x' });
    assert.deepEqual([init.init, init.tokenizer.path], ['models/x', 'models/x']);
    assert.equal(parseTrainConfig({ ...base, init: 'models/x', tokenizer: { path: 't.json' } }).tokenizer.path, 't.json');
    assert.throws(() => parseTrainConfig({ ...base, init: 3 }), /init must be a model folder/);
    // An empty path trained a BPE (and beside init replaced the tokenizer its weights were trained with).
    for (const path of ['', ' ']) {
      assert.throws(() => parseTrainConfig({ ...base, tokenizer: { path } }), /tokenizer\.path must be a file path or null/);
      assert.throws(() => parseTrainConfig({ ...base, init: 'models/x', tokenizer: { path } }), /tokenizer\.path must be a file path or null/);
    }
  });
});

describe('parameter init', () => {
  it('a sinusoidal table: hand-computed rows, the requested RMS, the same table for any seed', () => {
    const specs = [{ name: 'wpe', shape: [64, 8], decay: false, init: { kind: 'sinusoidal', rms: 0.01 } as const }];
    const a = new ParamStore(specs, 'f64'), b = new ParamStore(specs, 'f64');
    a.initialize(0); b.initialize(123);
    assert.deepEqual(Array.from(a.data), Array.from(b.data));
    const amp = Math.SQRT2 * 0.01, v = a.data;
    // Row 0: sin 0 = 0, cos 0 = 1 in every pair.
    assert.deepEqual(Array.from(v.subarray(0, 8)), [0, amp, 0, amp, 0, amp, 0, amp]);
    // Row 3, pair 1: frequency 10000^(−2/8) = 0.1.
    assert.ok(Math.abs(v[3 * 8 + 2]! - amp * Math.sin(0.3)) < 1e-15 && Math.abs(v[3 * 8 + 3]! - amp * Math.cos(0.3)) < 1e-15);
    let sq = 0;
    for (let i = 0; i < v.length; i++) sq += v[i]! * v[i]!;
    assert.ok(Math.abs(Math.sqrt(sq / v.length) - 0.01) < 1e-12);
    assert.throws(() => new ParamStore([{ ...specs[0]!, shape: [4, 3] }], 'f64').initialize(0), /even width/);
  });

  it('GPT-2 configs choose their position init; every other tensor keeps its draw', async () => {
    const { gpt2ParamSpecs } = await import('../../src/train/gpt2-train.js');
    const { gpt2Config } = await import('../../src/models/random.js');
    const c = gpt2Config({ vocabSize: 11, hiddenSize: 8, nLayers: 1, nHeads: 2, intermediateSize: 8, maxPositions: 16 });
    const normal = gpt2ParamSpecs(c), sinus = gpt2ParamSpecs(c, 0.02, 'sinusoidal');
    assert.deepEqual(normal.find((s) => s.name === 'wpe')!.init, { kind: 'normal', std: 0.01 });
    assert.deepEqual(sinus.find((s) => s.name === 'wpe')!.init, { kind: 'sinusoidal', rms: 0.01 });
    assert.deepEqual(sinus.filter((s) => s.name !== 'wpe'), normal.filter((s) => s.name !== 'wpe'));
    assert.deepEqual(gpt2ParamSpecs(c, 0.02, 'sinusoidal', 0.05).find((s) => s.name === 'wpe')!.init, { kind: 'sinusoidal', rms: 0.05 });
    const cfg = parseTrainConfig({ model: { arch: 'gpt2', hiddenSize: 8, nLayers: 1, nHeads: 2, intermediateSize: 8, maxPositions: 16, positionStd: 0.05 }, data: { taskWeight: 0 }, training: { steps: 1 } });
    assert.equal(cfg.model.positionStd, 0.05);
    assert.throws(() => parseTrainConfig({ model: { ...cfg.model, positionStd: 0 }, training: { steps: 1 } }), /positionStd must be a number > 0/);
  });
});

describe('training checkpoint codec', () => {
  it('round-trips header and arrays, rejects a wrong size', () => {
    const n = 5, params = Float32Array.from({ length: n }, (_, i) => i + 0.5);
    const header = {
      format: TRAIN_CHECKPOINT_FORMAT, step: 3, tokensSeen: 99, elapsedS: 1.5, adamStep: 3, paramCount: n,
      mixer: { rng: { s: [1, 2, 3, 4], spare: null }, textCursor: 7, taskIndex: 2, epoch: 0 },
      config: parseTrainConfig({ model: { arch: 'gpt2', hiddenSize: 8, nLayers: 1, nHeads: 2, intermediateSize: 8, maxPositions: 64 }, data: { textLengths: [32], taskLengths: [64] }, training: { steps: 1 } }),
    };
    const bytes = encodeTrainCheckpoint({ header, params, m: params.map((x) => -x), v: params.map((x) => x * x) });
    const back = decodeTrainCheckpoint(bytes);
    assert.deepEqual(back.header, header);
    assert.deepEqual(Array.from(back.m), Array.from(params, (x) => -x));
    assert.throws(() => decodeTrainCheckpoint(bytes.subarray(0, bytes.length - 4)), /expected 5 parameters/);
  });

  it('refuses a header of the wrong shape and non-finite weights or moments, naming the file and field', () => {
    const n = 3, params = Float32Array.from([0.5, -1, 2]);
    const header = {
      format: TRAIN_CHECKPOINT_FORMAT, step: 3, tokensSeen: 99, elapsedS: 1.5, adamStep: 3, paramCount: n,
      mixer: { rng: { s: [1, 2, 3, 4], spare: null }, textCursor: 7, taskIndex: 2, epoch: 0 },
      config: parseTrainConfig({ model: { arch: 'gpt2', hiddenSize: 8, nLayers: 1, nHeads: 2, intermediateSize: 8, maxPositions: 64 }, data: { textLengths: [32], taskLengths: [64] }, training: { steps: 1 } }),
    };
    const encode = (h: unknown, p = params, m = params, v = params.map((x) => x * x)) => encodeTrainCheckpoint({ header: h as typeof header, params: p, m, v });
    // A header that is not JSON: the frame passes, the header does not.
    const good = encode(header), len = new DataView(good.buffer).getUint32(0, true);
    const broken = good.slice(); broken[4 + len - 1] = 0x20; // the closing brace
    assert.throws(() => decodeTrainCheckpoint(broken, 'ck.bin'), /^Error: ck\.bin: the training checkpoint's header is not valid JSON \(/);
    for (const [edit, shown] of [
      [{ step: -5 }, /"step" must be an integer ≥ 0, got -5/],
      [{ step: '2' }, /"step" must be an integer ≥ 0, got "2"/],
      [{ tokensSeen: 1e20 }, /"tokensSeen" must be an integer ≥ 0, got 100000000000000000000/],
      [{ mixer: null }, /"mixer" must be an object, got null/],
      [{ mixer: { ...header.mixer, rng: 'x' } }, /"mixer\.rng" must be an object, got "x"/],
      [{ mixer: { ...header.mixer, rng: { s: [0, 0, 0, 0], spare: null } } }, /"mixer\.rng" is not a random generator's state \(bad Rng state: s is all zero/],
      [{ config: null }, /"config" must be an object, got null/],
      [{ config: { ...header.config, data: 3 } }, /"config\.data" must be an object, got 3/],
    ] as const) {
      assert.throws(() => decodeTrainCheckpoint(encode({ ...header, ...edit }), 'ck.bin'), new RegExp(`^Error: ck\\.bin: (the training checkpoint's header field )?${shown.source}`), JSON.stringify(edit));
    }
    assert.throws(() => decodeTrainCheckpoint(encode(header, Float32Array.from([0.5, NaN, 2])), 'ck.bin'), /^Error: ck\.bin: parameter 1 of 3 is NaN: the checkpoint is damaged$/);
    assert.throws(() => decodeTrainCheckpoint(encode(header, params, Float32Array.from([0, Infinity, 0])), 'ck.bin'), /AdamW's first moment 1 of 3 is Infinity/);
    assert.throws(() => decodeTrainCheckpoint(encode(header, params, params, Float32Array.from([0, 0, -1])), 'ck.bin'), /AdamW's second moment 2 of 3 is -1 \(negative\)/);
  });
});
