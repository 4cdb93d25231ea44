#!/usr/bin/env python3
"""Writes test/fixtures/golden-tokenizers.json: small tokenizers built and trained with the real (Rust) Hugging Face
`tokenizers` library, each with its tokenizer.json and what Rust makes of a fixed list of awkward strings.

For each tokenizer: `json` (tokenizer.to_str()), and per string: the ids with and without the special tokens
(`add_special_tokens` True / False) and the decoding of the first with `skip_special_tokens` True and False.
test/models/golden-tokenizers.test.ts loads each tokenizer.json with namm's HfTokenizer (a JS port of the pipeline,
patched to behave as Rust's) and compares. CI has no Python: the fixture is committed.

The pipelines cover what namm claims to read: byte-level BPE (GPT-2's pre-tokenizer; Llama 3's Split + ByteLevel
without its regex), SentencePiece-style BPE (Metaspace with each prepend_scheme, split or not; Llama 2's
Prepend/Replace normalizer with byte_fallback and the ByteFallback/Fuse/Strip decoders), WordPiece (BERT's
normalizer, pre-tokenizer and processors), WordLevel, Unigram, every Split behaviour (and invert), Digits,
Punctuation, WhitespaceSplit, the common normalizers, added tokens of each kind and the post-processors.

Usage: python3 scripts/golden-tokenizers-fixture.py [--retrain] (needs `pip install tokenizers`; written with 0.23.2).
The trainers are not reproducible: the BPE and WordPiece trainers break ties between equally frequent pairs in hash
order, so a new training can write slightly other vocabularies (and other ids). So by default a tokenizer that the
committed fixture already holds (by name) is kept as it is there: its tokenizer.json is loaded into Rust from the
fixture, and only tokenizers new to the list are trained. Every case is computed afresh, through the tokenizer loaded
from its tokenizer.json (as namm loads it), so new strings (appended at the end of STRINGS) and new tokenizers
(appended at the end of build()) leave the existing comparisons as they were. `--retrain` trains every tokenizer
anew; the test's list of known differences names strings whose ids may then change: rerun the test after it.
"""
import json
import os
import sys

os.environ.setdefault('RAYON_NUM_THREADS', '1')
os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')

import tokenizers  # noqa: E402
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'test', 'fixtures', 'golden-tokenizers.json')

# The training text, written for this fixture.
CORPUS = """
The small lighthouse on the northern cliff was painted white and red in 1987, and again in 2014.
Every evening the keeper, a quiet woman named Oda, climbed 132 steps to light the lamp; she counted them aloud.
"Seventy-one, seventy-two..." she would say, and then: "Ninety-nine! One hundred!" Her dog, Pim, barked twice.
Visitors came from far away: a café owner from Lyon, a naïve student from Zürich, and a señora from Málaga.
They drank crème brûlée coffee (too sweet, said Oda) and paid €4.50 for a postcard of the rocks.
On stormy nights the waves reached 12 metres; the windows rattled, the kettle sang, and the radio crackled.
Oda wrote in her logbook: 03:15 wind NW 40 knots; 04:30 rain stopped; 05:45 sunrise, sky clear & cold.
A fisherman asked her once, "Don't you get lonely up here?" She laughed. "I've got Pim, the sea, and 10,000 books."
In spring, students of Japanese visited and taught her new words: 灯台 means lighthouse, 海 is the sea, 犬 is a dog.
東京から来た学生は、毎朝海を見て笑った。 They also drew little pictures: 🌊 for waves, 🐕 for Pim, ⚓ for the harbour.
Her niece sent messages full of emoji like 👍🏽 and 👩‍💻 and ❤️, which Oda found strange but charming.
The lamp itself was old: a Fresnel lens, 2.5 m tall, weighing 1,200 kg; it turned once every 30 seconds.
Ships passing at 18:00 or 23:59 saw its beam from 25 km away. Nobody had wrecked near the cliff since 1952!
Sometimes she wondered -- who would keep the light after her? Perhaps her niece; perhaps nobody at all.
Children from the village asked questions: why is the sea salty? where do the gulls sleep? what is 7 x 8?
She answered patiently, though she was not sure about the gulls. "They sleep on the water," she guessed.
Autumn brought fog, thick and grey, and the foghorn moaned every 20 seconds, day and night, for weeks.
Winter brought ice on the railings, snow on the steps, and long, long evenings of reading by the stove.
Ελληνικά γράμματα ήταν στα παλιά βιβλία της: ΣΟΦΙΑ, σοφία. Русские слова тоже были: маяк, море, собака.
Her favourite line was: "Keep the light burning; someone, somewhere, is looking for the shore."
At the end of each year she tallied the numbers: 365 nights, 48,180 steps, 3 broken bulbs, 1 happy dog.
""" * 2


def bpe_bytelevel_train(tok, vocab_size=420, specials=()):
    tr = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=list(specials),
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([CORPUS], trainer=tr)
    return tok


def byte_level_bpe(pre, normalizer=None, specials=('<|endoftext|>',), vocab_size=420):
    tok = Tokenizer(models.BPE())
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    return bpe_bytelevel_train(tok, vocab_size, specials)


def spm_bpe(pre=None, normalizer=None, decoder=None, fuse_unk=False, byte_fallback=True, vocab_size=260, limit_alphabet=70,
            normalized_specials=False):
    """A SentencePiece-style BPE: <unk>/<s>/</s>, the 256 byte pieces after them (byte_fallback); the three special
    tokens `normalized` (matched in the normalized text, decoded as their normalized content) when asked."""
    tok = Tokenizer(models.BPE(unk_token='<unk>'))
    if normalizer is not None:
        tok.normalizer = normalizer
    if pre is not None:
        tok.pre_tokenizer = pre
    tr = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=['<unk>', '<s>', '</s>'],
                             limit_alphabet=limit_alphabet, show_progress=False)
    tok.train_from_iterator([CORPUS], trainer=tr)
    j = json.loads(tok.to_str())
    vocab = j['model']['vocab']
    rest = sorted((t for t in vocab if t not in ('<unk>', '<s>', '</s>')), key=lambda t: vocab[t])
    new = {'<unk>': 0, '<s>': 1, '</s>': 2}
    for b in range(256):
        new[f'<0x{b:02X}>'] = len(new)
    for t in rest:
        if t not in new:
            new[t] = len(new)
    j['model']['vocab'] = new
    j['model']['byte_fallback'] = byte_fallback
    j['model']['fuse_unk'] = fuse_unk
    for a in j['added_tokens']:
        a['id'] = new[a['content']]
        a['normalized'] = normalized_specials
    out = Tokenizer.from_str(json.dumps(j))
    if decoder is not None:
        out.decoder = decoder
    out.post_processor = processors.TemplateProcessing(single='<s> $A', pair='<s> $A </s> <s> $B', special_tokens=[('<s>', 1), ('</s>', 2)])
    return out


def wordpiece(post):
    tok = Tokenizer(models.WordPiece(unk_token='[UNK]'))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tr = trainers.WordPieceTrainer(vocab_size=300, min_frequency=2, limit_alphabet=80,
                                   special_tokens=['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'], show_progress=False)
    tok.train_from_iterator([CORPUS], trainer=tr)
    cls, sep = tok.token_to_id('[CLS]'), tok.token_to_id('[SEP]')
    tok.post_processor = post(cls, sep)
    return tok


def split_bpe(pattern, behavior, invert):
    return byte_level_bpe(pre_tokenizers.Sequence([pre_tokenizers.Split(pattern, behavior, invert=invert),
                                                   pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
                          vocab_size=330)


LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
          r"|\s+(?!\S)|\s+")


def build():
    out = []

    def add(name, tok, note):
        out.append((name, tok, note))

    # Byte-level BPE, GPT-2 style, with a ByteLevel post-processor.
    t = byte_level_bpe(pre_tokenizers.ByteLevel(add_prefix_space=False))
    t.post_processor = processors.ByteLevel(trim_offsets=True)
    add('bpe-bytelevel-gpt2', t, 'GPT-2: ByteLevel pre-tokenizer (its regex), decoder and post-processor')

    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    t.decoder = decoders.ByteLevel()
    bpe_bytelevel_train(t, 420, ('<s>', '<pad>', '</s>', '<mask>'))
    t.post_processor = processors.RobertaProcessing(('</s>', t.token_to_id('</s>')), ('<s>', t.token_to_id('<s>')))
    t.add_special_tokens([AddedToken('<mask>', lstrip=True, special=True)])
    add('bpe-bytelevel-roberta', t, 'RoBERTa: ByteLevel with add_prefix_space, RobertaProcessing, <mask> with lstrip')

    # Llama 3 style: Split by its regex, then ByteLevel without its own.
    t = byte_level_bpe(pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3), 'isolated'),
                                                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
                       specials=('<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>'))
    t.post_processor = processors.TemplateProcessing(single='<|begin_of_text|> $A', special_tokens=[('<|begin_of_text|>', t.token_to_id('<|begin_of_text|>'))])
    t.add_tokens([AddedToken('lighthouse keeper', normalized=False)])
    add('bpe-llama3-split', t, 'Llama 3: Split(regex, isolated) + ByteLevel(use_regex=false), BOS template, a non-special added token')

    # SentencePiece-style BPE.
    t = spm_bpe(normalizer=normalizers.Sequence([normalizers.Prepend('▁'), normalizers.Replace(' ', '▁')]),
                decoder=decoders.Sequence([decoders.Replace('▁', ' '), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(' ', 1, 0)]))
    add('spm-bpe-llama2', t, 'Llama 2: Prepend/Replace normalizer, byte_fallback, Replace/ByteFallback/Fuse/Strip decoders')
    t = spm_bpe(normalizer=normalizers.Sequence([normalizers.Prepend('▁'), normalizers.Replace(' ', '▁')]),
                decoder=decoders.Sequence([decoders.Replace('▁', ' '), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(' ', 1, 0)]),
                fuse_unk=True, byte_fallback=False)
    add('spm-bpe-fuse-unk', t, 'Llama 2 pipeline without byte_fallback, fuse_unk true (unknown characters become <unk>)')
    for scheme in ('always', 'first', 'never'):
        for split in (True, False):
            t = spm_bpe(pre=pre_tokenizers.Metaspace(prepend_scheme=scheme, split=split),
                        decoder=decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(prepend_scheme=scheme, split=split)]))
            add(f'spm-bpe-metaspace-{scheme}-{"split" if split else "nosplit"}', t, f'Metaspace pre-tokenizer and decoder, prepend_scheme {scheme}, split {split}, byte_fallback')
    t = spm_bpe(pre=pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.Metaspace(prepend_scheme='first')]),
                decoder=decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(prepend_scheme='first')]))
    add('spm-bpe-digits-metaspace-first', t, 'Sequence[Digits(individual), Metaspace(first)]')

    # WordPiece (BERT).
    add('wordpiece-bert-processing', wordpiece(lambda cls, sep: processors.BertProcessing(('[SEP]', sep), ('[CLS]', cls))),
        'BERT: BertNormalizer(lowercase), BertPreTokenizer, BertProcessing, WordPiece decoder')
    t = wordpiece(lambda cls, sep: processors.TemplateProcessing(single='[CLS] $A [SEP]', pair='[CLS] $A [SEP] $B:1 [SEP]:1',
                                                                 special_tokens=[('[CLS]', cls), ('[SEP]', sep)]))
    t.add_special_tokens([AddedToken('[MASK]', lstrip=True, rstrip=False, special=True)])
    t.add_tokens([AddedToken('Oda', normalized=False), AddedToken('LAMP', normalized=True)])
    add('wordpiece-template', t, 'BERT pipeline with TemplateProcessing, [MASK] lstrip, added tokens normalized and not')

    # WordLevel.
    t = Tokenizer(models.WordLevel(unk_token='<unk>'))
    t.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(), normalizers.Strip()])
    t.pre_tokenizer = pre_tokenizers.Whitespace()
    t.train_from_iterator([CORPUS], trainer=trainers.WordLevelTrainer(vocab_size=200, min_frequency=2, special_tokens=['<unk>', '<eos>'], show_progress=False))
    t.post_processor = processors.TemplateProcessing(single='$A <eos>', special_tokens=[('<eos>', t.token_to_id('<eos>'))])
    t.add_special_tokens([AddedToken('<sep>', rstrip=True, special=True)])
    add('wordlevel-whitespace', t, 'WordLevel, Whitespace, NFKC/Lowercase/Strip, EOS template, <sep> with rstrip')

    # Unigram.
    t = Tokenizer(models.Unigram())
    t.normalizer = normalizers.NFKC()
    t.pre_tokenizer = pre_tokenizers.Metaspace()
    t.decoder = decoders.Metaspace()
    t.train_from_iterator([CORPUS], trainer=trainers.UnigramTrainer(vocab_size=250, special_tokens=['<pad>', '</s>', '<unk>'], unk_token='<unk>', show_progress=False))
    t.post_processor = processors.TemplateProcessing(single='$A </s>', special_tokens=[('</s>', t.token_to_id('</s>'))])
    add('unigram-metaspace', t, 'Unigram (T5-like): NFKC, Metaspace, EOS template')

    # Split: each behaviour, with a regex and (once) a string pattern, plain and inverted.
    for behavior in ('removed', 'isolated', 'merged_with_previous', 'merged_with_next', 'contiguous'):
        for invert in (False, True):
            add(f'split-{behavior}{"-invert" if invert else ""}', split_bpe(Regex(r'\s+|[.,;:!?]'), behavior, invert),
                f'Split(regex whitespace-or-punctuation, {behavior}, invert {invert}) + ByteLevel(use_regex=false)')
    add('split-string-merged-with-previous', split_bpe(' ', 'merged_with_previous', False),
        'Split(string " ", merged_with_previous) + ByteLevel(use_regex=false) (Gemma-like)')

    # Other pre-tokenizers.
    for ind in (True, False):
        t = byte_level_bpe(pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Digits(individual_digits=ind),
                                                    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), vocab_size=330)
        add(f'digits-{"individual" if ind else "grouped"}', t, f'WhitespaceSplit + Digits(individual_digits {ind}) + ByteLevel(use_regex=false)')
    t = byte_level_bpe(pre_tokenizers.Sequence([pre_tokenizers.Punctuation(), pre_tokenizers.Whitespace(),
                                                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), vocab_size=330)
    add('punctuation-whitespace', t, 'Punctuation + Whitespace + ByteLevel(use_regex=false)')

    # Normalizers and added tokens.
    t = byte_level_bpe(pre_tokenizers.ByteLevel(add_prefix_space=False),
                       normalizer=normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r'\d'), '#'), normalizers.Replace('--', '—'),
                                                        normalizers.Strip(left=True, right=False), normalizers.Prepend('>')]),
                       vocab_size=330)
    t.add_special_tokens([AddedToken('<|sys|>', special=True, lstrip=True, rstrip=True)])
    t.add_tokens([AddedToken('Lamp', normalized=True), AddedToken('ZZ', normalized=False, rstrip=True)])
    add('normalizers-nfc-replace-strip-prepend', t, 'NFC, Replace (regex and string), Strip(left), Prepend; added tokens special/not, lstrip/rstrip, normalized/not')
    t = byte_level_bpe(pre_tokenizers.ByteLevel(add_prefix_space=False), normalizer=normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()]),
                       vocab_size=330)
    t.add_tokens([AddedToken('HELLO', normalized=True), AddedToken('WoRLD', normalized=False)])
    add('normalizers-nfkc-lowercase', t, 'NFKC + Lowercase; added tokens normalized (HELLO) and not (WoRLD)')

    # Added later (kept apart from the ones above, whose vocabularies the committed fixture keeps).
    # fuse_unk across words: Rust fuses the unknown characters of one word (the model sees each word alone).
    t = spm_bpe(pre=pre_tokenizers.WhitespaceSplit(), decoder=decoders.Sequence([decoders.ByteFallback(), decoders.Fuse()]),
                fuse_unk=True, byte_fallback=False)
    add('spm-bpe-fuse-unk-words', t, 'BPE with fuse_unk (no byte_fallback) after WhitespaceSplit: unknown characters fused within a word only')
    t = Tokenizer(models.Unigram())
    t.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    t.train_from_iterator([CORPUS], trainer=trainers.UnigramTrainer(vocab_size=250, special_tokens=['<pad>', '</s>', '<unk>'], unk_token='<unk>', show_progress=False))
    add('unigram-whitespace-split', t, 'Unigram (which fuses unknown characters) after WhitespaceSplit')
    # Metaspace "first" after a normalized added token, and such tokens decoded.
    t = spm_bpe(pre=pre_tokenizers.Metaspace(prepend_scheme='first'), normalizer=normalizers.Lowercase(),
                decoder=decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(prepend_scheme='first')]))
    t.add_tokens([AddedToken('HELLO', normalized=True), AddedToken('RAW', normalized=False), AddedToken('lighthouse keeper', normalized=True)])
    t.add_special_tokens([AddedToken('<SEP>', special=True, normalized=True), AddedToken('<sep>', special=True, normalized=False)])
    add('spm-bpe-metaspace-first-normalized-added', t, 'Lowercase, Metaspace(first) after normalized added tokens (special and not), a special token normalized into another one')
    t = spm_bpe(normalizer=normalizers.Sequence([normalizers.Prepend('▁'), normalizers.Replace(' ', '▁')]),
                decoder=decoders.Sequence([decoders.Replace('▁', ' '), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(' ', 1, 0)]),
                normalized_specials=True)
    t.add_tokens([AddedToken('lighthouse keeper', normalized=True), AddedToken('ZZ', normalized=False)])
    add('spm-bpe-llama2-normalized-specials', t, 'Llama 2 pipeline whose <unk>/<s>/</s> are normalized, a normalized added token with a space')
    t = byte_level_bpe(pre_tokenizers.ByteLevel(add_prefix_space=False), normalizer=normalizers.NFC(), vocab_size=330)
    t.add_tokens([AddedToken('lighthouse keeper', normalized=True), AddedToken('ĠOda', normalized=False), AddedToken('▁x', normalized=False)])
    t.add_special_tokens([AddedToken('<|sys|>', special=True, normalized=True)])
    add('bpe-bytelevel-added-bytes', t, 'ByteLevel decoder over added tokens: one spelt in its byte alphabet (ĠOda), others not, a normalized special one')
    return out


STRINGS = [
    '',
    ' ',
    'Hello world',
    '  leading spaces',
    'trailing spaces   ',
    'multiple    spaces   inside',
    'tab\there\tand\nnewline\n\nand\r\nCRLF',
    '\n',
    ' \t \n ',
    '1234567890 and 3.14159 and 10,000',
    'x1y22z333',
    '!!!??? ... ;-) (a,b)[c]{d} "quoted" \'single\'',
    "Don't you've I'll WE'RE",
    'café naïve Zürich señora Málaga',
    'cafe\u0301 decomposed e\u0301 and n\u0303',
    'ﬁne ﬂow ① ² Ｆｕｌｌｗｉｄｔｈ',
    'ΣΟΦΙΑ σοφία ΟΔΟΣ',
    '灯台 海 犬 東京から来た学生',
    '🌊🐕⚓ 👍🏽 👩‍💻 ❤️ 🏳️‍🌈',
    'The lighthouse keeper, Oda, climbed 132 steps.',
    'unknown: ☃ ∮ ก ✈ ᚠ',
    '<|endoftext|>',
    'before<|endoftext|>after',
    '<s>Hello</s> <s> x </s>',
    '[CLS] hello [SEP] [MASK] world [MASK]',
    'a <mask> b<mask>c',
    'the lighthouse keeper and the Lighthouse Keeper',
    'HELLO hello WoRLD world WORLD',
    'x <|sys|> y<|sys|>z  <|sys|>  ',
    'Lamp lamp LAMP ZZ zz ZZ  top',
    '<sep> a <sep>  b<sep>',
    '<|begin_of_text|>hi<|eot_id|>',
    '▁already▁has▁metaspace ▁',
    'a--b -- c',
    '<0x41> <unk> [UNK]',
    # Added later (appended: the cases are compared by their place in this list).
    'HELLOworld HELLO world HELLO',
    'RAWx <SEP>y <sep>z lighthouse keeperX',
    '☃☃ ∮ ✈ᚠ a☃b ☃',
    'xĠOda ĠOda ▁x<|sys|>y',
]


def main():
    retrain = '--retrain' in sys.argv[1:]
    kept = {}
    if not retrain and os.path.exists(OUT):
        with open(OUT, encoding='utf-8') as f:
            kept = {t['name']: t['json'] for t in json.load(f)['tokenizers']}
    fixture = {'library': f'tokenizers {tokenizers.__version__} (Python, Rust core)', 'strings': STRINGS, 'tokenizers': []}
    for name, trained, note in build():
        # The committed tokenizer.json where there is one (its ids unchanged), else the one trained now; either way
        # the cases come from the tokenizer as loaded from its tokenizer.json.
        stored = kept[name] if name in kept else json.loads(trained.to_str())
        tok = Tokenizer.from_str(json.dumps(stored))
        print(f'{"kept" if name in kept else "new "} {name}')
        cases = []
        for s in STRINGS:
            with_special = tok.encode(s, add_special_tokens=True).ids
            plain = tok.encode(s, add_special_tokens=False).ids
            cases.append({
                'ids': with_special,
                'ids_plain': plain,
                'decoded': tok.decode(with_special, skip_special_tokens=True),
                'decoded_with_special': tok.decode(with_special, skip_special_tokens=False),
            })
        fixture['tokenizers'].append({'name': name, 'note': note, 'json': stored, 'cases': cases})
    with open(OUT, 'w', encoding='utf-8') as f:
        json.dump(fixture, f, ensure_ascii=False, separators=(',', ':'))
        f.write('\n')
    print(f'{len(fixture["tokenizers"])} tokenizers, {len(STRINGS)} strings, {os.path.getsize(OUT)} bytes -> {OUT}')


if __name__ == '__main__':
    main()
