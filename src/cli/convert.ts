/** `namm convert`: between Hugging Face folders, GGUF files and llama2.c checkpoints (as sources). */
import type { Command } from 'commander';
import { copyFileSync, existsSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { toHfConfig } from '../models/config.js';
import { convertRopeLayout, isGgufFile, writeGguf, type GgufWriteDtype } from '../models/gguf.js';
import { loadModelFiles, tiedNames } from '../models/load.js';
import { hfCheckpointWeights } from '../models/phi3.js';
import { buildArch } from '../models/model.js';
import { writeSafetensors, type SafetensorsDtype, type SafetensorsWriteTensor } from '../models/safetensors.js';
import { HfTokenizer } from '../models/tokenizers/hf.js';
import { HF_TOKENIZER_FILES } from '../models/tokenizer.js';
import { isSentencePieceStyle } from '../models/tokenizers/gguf-vocab.js';
import { checkOutputPath, makeFolders, writeFileVia, type ImpliedInput } from '../util/files.js';
import { checkOptionKeys, showValue } from '../util/show.js';
import type { ModelConfig } from '../models/types.js';

export interface ConvertOptions {
  from: string;
  to: 'gguf' | 'safetensors';
  out: string;
  /** f32 (default), f16, q8_0 and q4_0 (GGUF only), bf16 (safetensors only). */
  dtype?: string;
  /** llama2.c sources: the tokenizer.bin (default: beside the checkpoint). */
  tokenizer?: string;
  /** Overwrite an existing output (never the source itself). */
  force?: boolean;
}

export interface ConvertReport {
  out: string;
  tensors: number;
  tokenizer: 'embedded' | 'copied' | 'written' | 'none';
  notes: string[];
}

/** Files of a HF folder that travel with the tokenizer: copied from a HF source, refused when stale in an output folder. */
const TOKENIZER_FILES = HF_TOKENIZER_FILES;
/** Files a safetensors conversion may write into its output folder. */
const HF_OUTPUT_FILES = ['model.safetensors', 'config.json', ...TOKENIZER_FILES];

export async function convertModel(o: ConvertOptions): Promise<ConvertReport> {
  if (o === null || typeof o !== 'object') throw new TypeError(`convertModel: options must be an object { from, to, out, dtype?, tokenizer?, force? }, got ${showValue(o)}`);
  checkOptionKeys(o, ['from', 'to', 'out', 'dtype', 'tokenizer', 'force'], 'convertModel');
  for (const key of ['from', 'out'] as const) {
    if (typeof o[key] !== 'string' || o[key] === '') throw new TypeError(`convertModel: ${key} must be a path, got ${showValue(o[key])}`);
  }
  for (const key of ['dtype', 'tokenizer'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'string') throw new TypeError(`convertModel: ${key} must be a string, got ${showValue(o[key])}`);
  }
  if (o.force !== undefined && typeof o.force !== 'boolean') throw new TypeError(`convertModel: force must be true or false, got ${showValue(o.force)}`);
  const dtype = (o.dtype ?? 'f32').toUpperCase();
  if (o.to === 'gguf' && !['F32', 'F16', 'Q8_0', 'Q4_0'].includes(dtype)) throw new Error(`--dtype ${o.dtype} is not available for GGUF output (f32, f16, q8_0, q4_0)`);
  if (o.to === 'safetensors' && !['F32', 'F16', 'BF16'].includes(dtype)) throw new Error(`--dtype ${o.dtype} is not available for safetensors output (f32, f16, bf16)`);
  if (o.to !== 'gguf' && o.to !== 'safetensors') throw new Error(`--to must be gguf or safetensors, got "${String(o.to)}"`);
  // Before anything is read: the output must not be the source (or lie inside its folder), nor replace existing
  // files unasked. Every file is written whole beside its target and renamed over it (writeFileVia).
  const inputs = [o.from, ...(o.tokenizer ? [o.tokenizer] : []), ...readBeside(o.from, o.tokenizer)];
  // As a file: a device or FIFO there is refused at once (it said "exists; pass --force", which then refused it too).
  if (o.to === 'gguf') checkOutputPath(o.out, { force: o.force, inputs, file: true });
  else {
    checkOutputPath(o.out, { force: true, inputs });
    // Here, not after the source is loaded (minutes, for a large model).
    if (existsSync(o.out) && !statSync(o.out).isDirectory()) throw new Error(`${o.out}: exists and is not a folder (safetensors output is a HF folder); choose another --out`);
    for (const f of HF_OUTPUT_FILES) {
      checkOutputPath(join(o.out, f), { force: true, inputs });
      // A folder where a file goes failed its write only after the files before it had replaced the old model's.
      if (existsSync(join(o.out, f)) && statSync(join(o.out, f)).isDirectory()) throw new Error(`cannot write ${join(o.out, f)}: it is a folder, not a file`);
    }
    const held = existsSync(o.out) && statSync(o.out).isDirectory() ? HF_OUTPUT_FILES.filter((f) => existsSync(join(o.out, f))) : [];
    if (held.length > 0 && !o.force) throw new Error(`${o.out} already holds ${held.join(', ')}; pass --force to overwrite them`);
    // A sharded model's index (and its shards) would stay beside the new model.safetensors, a second set of weights
    // for whoever reads the folder by its index.
    if (existsSync(join(o.out, 'model.safetensors.index.json'))) {
      throw new Error(`${o.out} holds model.safetensors.index.json, another model's sharded weights, which this conversion would not replace; remove it and its shards, or choose another --out`);
    }
  }
  const src = await loadModelFiles(o.from, { tokenizerPath: o.tokenizer });
  // Only a llama2.c checkpoint reads its tokenizer from beside it; other sources carry their own, and the option
  // was ignored without a word.
  if (o.tokenizer !== undefined && src.format !== 'llama2c') {
    throw new Error(`--tokenizer applies to a llama2.c checkpoint (its tokenizer.bin); ${o.from} is a ${src.format === 'gguf' ? 'GGUF file' : 'Hugging Face model'}, whose own tokenizer is converted`);
  }
  // Every weight the config reads, there and of its shape, before anything is written: a folder whose config.json
  // disagrees with its weights was converted into files the loader then refused.
  buildArch(src.config, src.weights, src.source);
  const notes: string[] = [];
  if (o.to === 'safetensors') {
    // --force replaces a folder's model files; a tokenizer file of the old model that this conversion does not
    // write would stay beside the new weights and be loaded with them, so it is refused before anything is written.
    const fromHfFolder = src.format === 'safetensors' && TOKENIZER_FILES.some((f) => existsSync(join(src.source, f)));
    const written = fromHfFolder ? TOKENIZER_FILES.filter((f) => existsSync(join(src.source, f)))
      : src.tokenizer instanceof HfTokenizer ? ['tokenizer.json', 'tokenizer_config.json'] : [];
    const stale = existsSync(o.out) ? TOKENIZER_FILES.filter((f) => !written.includes(f) && existsSync(join(o.out, f))) : [];
    if (stale.length > 0) {
      throw new Error(`${o.out} holds ${stale.join(', ')}, which this conversion would not replace (${written.length ? `it writes only ${written.join(', ')}` : 'the source has no tokenizer to write'}), ` +
        'so they would describe another model; remove them or choose another --out');
    }
  }

  if (o.to === 'gguf') {
    // Written whole beside --out and renamed over it, as every file namm writes (writeGguf does so itself).
    const f16 = writeGguf(o.out, src.config, src.weights, src.tokenizer, { dtype: dtype as GgufWriteDtype }).f16Instead;
    if (f16.length) {
      notes.push(`${f16.length} ${f16.length === 1 ? 'matrix' : 'matrices'} whose rows are no multiple of 32 values went out as F16, not ${dtype.toUpperCase()} (as llama.cpp writes them): ${f16.slice(0, 3).join(', ')}${f16.length > 3 ? ', …' : ''}`);
    }
    if (!src.tokenizer) notes.push('the source has no tokenizer; the GGUF file has no vocabulary');
    if (src.tokenizer instanceof HfTokenizer && isSentencePieceStyle(src.tokenizer.json)) {
      const first = prependsFirst(src.tokenizer.json.pre_tokenizer);
      notes.push(`the SentencePiece-style vocabulary tokenizes as llama.cpp reads it, which differs from tokenizer.json around special tokens (the text after one, and a special token's text written in plain text)${first ? ' and, with its Metaspace prepend_scheme "first", for text that begins with a space' : ''}; plain text otherwise tokenizes the same`);
    }
    return { out: resolve(o.out), tensors: src.weights.size, tokenizer: src.tokenizer ? 'embedded' : 'none', notes };
  }

  // A HF folder: weights back in rotate-half layout (HF config.json cannot say "interleaved").
  const config = { ...src.config, ropeLayout: 'half' as const };
  // Formed first: a config that config.json cannot say is refused before anything is written.
  const configJson = JSON.stringify({ ...toHfConfig(config), torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype] }, null, 2) + '\n';
  // The folders this conversion makes (--out and any missing parents) go again, as far as they are empty, if it
  // fails (they were left behind).
  let firstMade: string | null = null;
  for (let p = resolve(o.out); !existsSync(p); p = dirname(p)) firstMade = p;
  makeFolders(o.out, 'output folder');
  try {
    return writeHfFolder(o, src, config, configJson, dtype, notes);
  } catch (err) {
    if (firstMade !== null) {
      for (let p = resolve(o.out); existsSync(p) && readdirSync(p).length === 0; p = dirname(p)) {
        rmdirSync(p);
        if (p === firstMade) break;
      }
    }
    throw err;
  }
}

/** The safetensors output's files (convertModel has checked every target and made the folder). */
function writeHfFolder(o: ConvertOptions, src: Awaited<ReturnType<typeof loadModelFiles>>, config: ModelConfig, configJson: string, dtype: string, notes: string[]): ConvertReport {
  // Phi-3's config.json reads fused projections (src/models/phi3.ts).
  const weights = hfCheckpointWeights(config, convertRopeLayout(src.config, src.weights, 'half'));
  const { embed, head } = tiedNames(config);
  const tensors = new Map<string, SafetensorsWriteTensor>();
  const tied = weights.get(embed) === weights.get(head);
  for (const [name, t] of weights) {
    if (tied && name === embed) continue; // stored once, as transformers does, with an alias in __metadata__
    tensors.set(name, { dtype: dtype as SafetensorsDtype, shape: t.shape, data: t.data });
  }
  const write = (name: string, data: string) => writeFileVia(join(o.out, name), (tmp) => writeFileSync(tmp, data));
  writeFileVia(join(o.out, 'model.safetensors'), (tmp) => writeSafetensors(tmp, tensors, tied ? { format: 'pt', [embed]: head } : { format: 'pt' }));
  write('config.json', configJson);

  let tokenizer: ConvertReport['tokenizer'] = 'none';
  const present = src.format === 'safetensors' ? TOKENIZER_FILES.filter((f) => existsSync(join(src.source, f))) : [];
  if (present.length > 0) {
    // Every one there, tokenizer.json or not: a folder with only a slow tokenizer (tokenizer.model, vocab.json and
    // merges.txt) lost it in the conversion.
    for (const f of present) writeFileVia(join(o.out, f), (tmp) => copyFileSync(join(src.source, f), tmp));
    if (present.some((f) => f !== 'generation_config.json')) tokenizer = 'copied';
    if (tokenizer === 'copied' && !present.includes('tokenizer.json')) {
      notes.push(`the source has no tokenizer.json: its ${present.filter((f) => f !== 'generation_config.json').join(', ')} were copied as they are (transformers reads them; namm reads a tokenizer.json)`);
    }
  } else if (src.tokenizer instanceof HfTokenizer) {
    // GGUF byte-level vocabularies become a tokenizer.json in memory; write it out.
    write('tokenizer.json', JSON.stringify(src.tokenizer.json));
    write('tokenizer_config.json', JSON.stringify(src.tokenizer.tokenizerConfig, null, 2) + '\n');
    tokenizer = 'written';
  } else if (src.tokenizer) {
    notes.push('SentencePiece-style vocabularies (GGUF "llama", llama2.c tokenizer.bin) are not written as tokenizer.json yet; keep the source file for its tokenizer');
  }
  return { out: resolve(o.out), tensors: tensors.size, tokenizer, notes };
}

/**
 * What a conversion of `from` reads besides it and `--tokenizer` (as loadModelFiles does), inputs too: the folder of
 * a .safetensors file (its config.json and tokenizer files: `--out` that folder with --force rewrote the source's
 * config.json, dropping the keys namm does not read), and the tokenizer.bin beside a llama2.c checkpoint.
 */
function readBeside(from: string, tokenizer: string | undefined): ImpliedInput[] {
  if (!existsSync(from) || !statSync(from).isFile()) return [];
  const abs = resolve(from);
  if (basename(abs).endsWith('.safetensors')) {
    return [{ path: dirname(abs), why: `the folder of --from ${from}, whose config.json and tokenizer files are read` }];
  }
  let llama2c = false;
  try { llama2c = tokenizer === undefined && !/\.gguf$/i.test(abs) && !isGgufFile(abs); } catch { /* unreadable: the load says so */ }
  return llama2c ? [{ path: join(dirname(abs), 'tokenizer.bin'), why: `the tokenizer of the llama2.c checkpoint --from ${from}` }] : [];
}

/** Whether a tokenizer.json pre-tokenizer (or one in its Sequence) is a Metaspace with prepend_scheme "first". */
function prependsFirst(pre: unknown): boolean {
  if (pre === null || typeof pre !== 'object') return false;
  const p = pre as { type?: unknown; prepend_scheme?: unknown; pretokenizers?: unknown };
  if (p.type === 'Metaspace') return p.prepend_scheme === 'first';
  return Array.isArray(p.pretokenizers) && p.pretokenizers.some(prependsFirst);
}

export function register(program: Command): void {
  program
    .command('convert')
    .description('convert a model: HF folder, .gguf or llama2.c .bin → GGUF file or HF safetensors folder')
    .requiredOption('--from <path>', 'source: HF folder (config.json + safetensors), .gguf file or llama2.c .bin')
    .requiredOption('--to <format>', 'gguf | safetensors')
    .requiredOption('--out <path>', 'output .gguf file, or folder for safetensors')
    .option('--dtype <type>', 'f32 | f16 | q8_0, q4_0 (GGUF) | bf16 (safetensors)', 'f32')
    .option('--tokenizer <path>', 'llama2.c source: its tokenizer.bin (default: beside the checkpoint)')
    .option('--force', 'overwrite an existing output file (or the model files of an output folder); never the source')
    .action(async (opts: ConvertOptions) => {
      const r = await convertModel(opts);
      process.stdout.write(`wrote ${r.out}: ${r.tensors} tensors, tokenizer ${r.tokenizer}\n`);
      for (const n of r.notes) process.stderr.write(`note: ${n}\n`);
    });
}
