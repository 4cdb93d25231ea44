/** saveHfModel: a trained model's folder, which loadModel reads back; an existing model is never overwritten unasked. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModelFiles } from '../../src/models/load.js';
import { llamaConfig } from '../../src/models/random.js';
import { JsBackend } from '../../src/tensor/js.js';
import { bpeTokenizerConfig, bpeTokenizerJson, trainBpe } from '../../src/train/bpe.js';
import { saveHfModel } from '../../src/train/export.js';
import { createTrainableModel } from '../../src/train/family.js';
import { backendGemm } from '../../src/train/ops/gemm.js';
import { tempDir } from '../helpers/temp.js';

const gemm = backendGemm(new JsBackend());
const modelOf = (hiddenSize: number) => {
  const m = createTrainableModel(llamaConfig({ vocabSize: 300, hiddenSize, nLayers: 1, nHeads: 2, nKvHeads: 2, headDim: hiddenSize / 2, intermediateSize: 16, maxPositions: 64 }), gemm);
  m.params.initialize(1);
  return m;
};

test('saveHfModel writes a folder loadModel reads, and refuses to overwrite one unasked or leave stale files', async () => {
  const root = tempDir('namm-save-');
  try {
    const bpe = trainBpe(['the cat sat on the mat '.repeat(20)], { vocabSize: 300, minFrequency: 1 });
    const tokenizer = { json: bpeTokenizerJson(bpe), config: bpeTokenizerConfig(bpe, 64) };
    const dir = join(root, 'm');
    await saveHfModel(dir, modelOf(8), tokenizer);
    const files = await loadModelFiles(dir);
    assert.equal(files.config.hiddenSize, 8);
    assert.equal(files.tokenizer?.vocabSize, bpe.vocab.length);
    // It overwrote a model folder without a word (and, with no tokenizer given, left the old one's files there).
    await assert.rejects(saveHfModel(dir, modelOf(16), tokenizer), /saveHfModel: .*m already holds model\.safetensors, config\.json, generation_config\.json, tokenizer\.json, tokenizer_config\.json; pass \{ force: true \}/);
    await assert.rejects(saveHfModel(dir, modelOf(16), undefined, null, { force: true }), /holds tokenizer\.json, tokenizer_config\.json of another model, and no tokenizer is given/);
    assert.equal((await loadModelFiles(dir)).config.hiddenSize, 8, 'the folder is as it was');
    await saveHfModel(dir, modelOf(16), tokenizer, null, { force: true });
    assert.equal((await loadModelFiles(dir)).config.hiddenSize, 16);
    // A folder where the weights go: config.json was written first, beside the old weights.
    const other = join(root, 'o');
    mkdirSync(join(other, 'model.safetensors'), { recursive: true });
    writeFileSync(join(other, 'config.json'), '{"old": true}');
    await assert.rejects(saveHfModel(other, modelOf(8), tokenizer, null, { force: true }), /cannot write .*model\.safetensors: .* is a folder, not a file/);
    assert.equal(readFileSync(join(other, 'config.json'), 'utf8'), '{"old": true}');
    // Only tokenizer files and no tokenizer given: it advised { force: true }, which then refused them.
    const tokOnly = join(root, 't');
    mkdirSync(tokOnly);
    writeFileSync(join(tokOnly, 'tokenizer.json'), '{}');
    await assert.rejects(saveHfModel(tokOnly, modelOf(8)), /holds tokenizer\.json of another model, and no tokenizer is given/);
    assert.equal(existsSync(join(other, 'tokenizer.json')), false);
    // Another model's chat template and special tokens map, which a save with a tokenizer does not write: namm read
    // them with the new tokenizer (the old model's chat template, its special tokens).
    writeFileSync(join(dir, 'chat_template.jinja'), '{{ old }}');
    writeFileSync(join(dir, 'special_tokens_map.json'), '{"bos_token": "<old>"}');
    await assert.rejects(saveHfModel(dir, modelOf(8), tokenizer, null, { force: true }),
      /holds special_tokens_map\.json, chat_template\.jinja of another model, which this save does not write \(they would be read with the new model's tokenizer\); remove them$/);
    assert.equal((await loadModelFiles(dir)).config.hiddenSize, 16, 'nothing written');
  } finally { rmSync(root, { recursive: true, force: true }); }
});
