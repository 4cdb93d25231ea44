/**
 * namm's HfTokenizer against the real (Rust) Hugging Face tokenizers library: small tokenizers built and trained with
 * it (scripts/golden-tokenizers-fixture.py, committed as test/fixtures/golden-tokenizers.json), each loaded here from
 * its tokenizer.json, and every string of the fixture encoded with and without the special tokens and decoded with
 * and without skipping them. The differences namm knowingly keeps are named in KNOWN, each with its reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { HfTokenizer } from '../../src/models/tokenizers/hf.js';

interface Case { ids: number[]; ids_plain: number[]; decoded: string; decoded_with_special: string }
const FIXTURE = JSON.parse(readFileSync(new URL('../fixtures/golden-tokenizers.json', import.meta.url), 'utf8')) as {
  library: string; strings: string[];
  tokenizers: { name: string; note: string; json: Record<string, unknown>; cases: Case[] }[];
};

type Check = 'ids' | 'ids_plain' | 'decoded' | 'decoded_with_special';
/**
 * Known differences from Rust: `tokenizer name|string|check` (check * for all four) → the reason. A listed case that
 * comes to agree with Rust fails too, so that the list stays true.
 */
const KNOWN: Record<string, string> = {};
const known = (name: string, strings: string[], checks: (Check | '*')[], reason: string) => {
  for (const s of strings) for (const c of checks) KNOWN[`${name}|${s}|${c}`] = reason;
};
// Listed in README's gaps: the library lowercases Σ as ς at a word's end (JS toLowerCase); Rust lowercases per character (σ).
const sigma = 'Greek final sigma: Lowercase in context (README gap)';
known('normalizers-nfkc-lowercase', ['ΣΟΦΙΑ σοφία ΟΔΟΣ'], ['ids', 'ids_plain'], sigma);
known('spm-bpe-metaspace-first-normalized-added', ['ΣΟΦΙΑ σοφία ΟΔΟΣ'], ['ids', 'ids_plain'], sigma);
// Listed in README's gaps: "<SEP>" (special, normalized) normalizes to "<sep>", the content of another added token
// (not normalized). Rust matches "<SEP>" in the normalized text as the first; the library keeps one token for each
// string, the content and the normalized content of all added tokens alike, and encodes it as the second.
known('spm-bpe-metaspace-first-normalized-added', ['RAWx <SEP>y <sep>z lighthouse keeperX'], ['ids', 'ids_plain'], 'an added token whose normalized content is another added token\'s content (README gap)');
// Listed in README: Rust 0.23 drops with skip_special_tokens the tokens whose decoded text is a special token's, and
// decodes a normalized one as its normalized content, so Llama 2's "<s>" marked normalized ("▁<s>") stays ("<s> Hello");
// namm drops the special tokens by their own text, as 0.22 and transformers do (TinyStories' tokenizer.json is such a
// one). Every string: the template adds <s>.
known('spm-bpe-llama2-normalized-specials', FIXTURE.strings, ['decoded'], 'a normalized special token whose normalized content is not its content: dropped by skipSpecial (README)');

test('the fixture covers the pipelines it claims (a regenerated fixture that lost one fails here)', () => {
  assert.ok(FIXTURE.tokenizers.length >= 30, `${FIXTURE.tokenizers.length} tokenizers`);
  assert.ok(FIXTURE.strings.length >= 30);
  const all = JSON.stringify(FIXTURE.tokenizers.map((t) => t.json));
  for (const s of ['"BPE"', '"WordPiece"', '"WordLevel"', '"Unigram"', '"Metaspace"', '"ByteFallback"', '"Fuse"', '"Strip"', '"BertNormalizer"',
    '"BertPreTokenizer"', '"BertProcessing"', '"RobertaProcessing"', '"TemplateProcessing"', '"Split"', '"Digits"', '"Punctuation"',
    '"WhitespaceSplit"', '"Whitespace"', '"NFC"', '"NFKC"', '"Lowercase"', '"Replace"', '"Prepend"', '"MergedWithPrevious"', '"MergedWithNext"',
    '"Contiguous"', '"Isolated"', '"Removed"', '"invert":true', '"prepend_scheme":"first"', '"prepend_scheme":"never"', '"split":false',
    '"lstrip":true', '"rstrip":true', '"normalized":false', '"special":false', '"byte_fallback":true', '"fuse_unk":true']) {
    assert.ok(all.includes(s), s);
  }
  // Added later (appended, so that the existing entries kept their vocabularies): fuse_unk and Unigram after a split
  // into words, Metaspace "first" after normalized added tokens, normalized special tokens, ByteLevel over added tokens.
  for (const name of ['spm-bpe-fuse-unk-words', 'unigram-whitespace-split', 'spm-bpe-metaspace-first-normalized-added', 'spm-bpe-llama2-normalized-specials', 'bpe-bytelevel-added-bytes']) {
    assert.ok(FIXTURE.tokenizers.some((t) => t.name === name), name);
  }
  for (const s of ['HELLOworld HELLO world HELLO', '☃☃ ∮ ✈ᚠ a☃b ☃', 'xĠOda ĠOda ▁x<|sys|>y']) {
    assert.ok(FIXTURE.strings.includes(s), s);
  }
});

for (const tok of FIXTURE.tokenizers) {
  test(`${tok.name} (${tok.note}) encodes and decodes as Rust's tokenizers (${FIXTURE.library})`, () => {
    // clean_up_tokenization_spaces off: Rust's decode never cleans up (transformers does, after it); a decoder's own
    // `cleanup` (WordPiece) still applies.
    const t = new HfTokenizer({ tokenizerJson: tok.json, tokenizerConfig: { clean_up_tokenization_spaces: false }, origin: `golden-tokenizers.json: ${tok.name}` });
    const failures: string[] = [], stale: string[] = [];
    let compared = 0;
    FIXTURE.strings.forEach((s, i) => {
      const want = tok.cases[i]!;
      let got: Record<Check, unknown>;
      try {
        got = {
          ids: t.encode(s), ids_plain: t.encode(s, { addBos: false }),
          decoded: t.decode(want.ids, { skipSpecial: true }), decoded_with_special: t.decode(want.ids, { skipSpecial: false }),
        };
      } catch (err) {
        failures.push(`${JSON.stringify(s)}: threw ${(err as Error).message}`);
        return;
      }
      for (const check of ['ids', 'ids_plain', 'decoded', 'decoded_with_special'] as Check[]) {
        compared++;
        const key = `${tok.name}|${s}|${check}`, known = KNOWN[key] ?? KNOWN[`${tok.name}|${s}|*`];
        const same = JSON.stringify(got[check]) === JSON.stringify(want[check]);
        if (same && known !== undefined) stale.push(`${key}: listed as known (${known}) but agrees with Rust now`);
        if (!same && known === undefined) failures.push(`${JSON.stringify(s)} ${check}: namm ${JSON.stringify(got[check])}, Rust ${JSON.stringify(want[check])}`);
      }
    });
    assert.ok(compared > 0);
    assert.deepEqual([...failures, ...stale], [], `${tok.name}: ${failures.length} differences from Rust, ${stale.length} stale known entries`);
  });
}
