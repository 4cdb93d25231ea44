/**
 * Japanese filler text and key phrases, composed from word and phrase lists written for namm (no Japanese prose
 * package exists on npm). Sentences follow a few plain grammatical patterns, split into short phrases (bunsetsu)
 * so that a haystack can grow a few characters at a time.
 */
import type { Rng } from '../../util/rng.js';

const CONNECTORS = ['それから、', 'しかし、', 'そのあと、', 'ところで、', 'やがて、', 'そして、', 'たまに、', 'ふだんは、'];
const TIMES = [
  '朝、', '昨日、', '先週の日曜日、', '夕方、', '今朝、', '夏休みに、', '雨の日には、', '週末になると、', '冬のあいだ、',
  '春になると、', '夜おそく、', '昼休みに、', '去年の秋、', '毎日のように、', '月曜日の午後、', '祭りの日に、',
];
const SUBJECTS = [
  '私の兄は', '近所の子どもたちは', '山田さんは', '祖母は', '町の人々は', '新しい先生は', '友人は', '店の主人は', '妹は',
  '隣の家の人は', '若い医者は', '村の漁師たちは', '駅員さんは', '学生たちは', '父は', '母は', '旅人は', '画家の佐藤さんは',
];
const PLACES = [
  '公園で', '駅の近くで', '図書館で', '台所で', '川のほとりで', '海辺で', '市場で', '小さな喫茶店で', '学校の裏で',
  '畑のそばで', '商店街で', '丘の上で', '港の近くで', '広場で', '家の前で', '橋の下で', '田んぼの横で', '庭先で',
];
/** Object and verb pairs, so that what is done fits what it is done to. */
const ACTIONS: ReadonlyArray<readonly [string, string]> = [
  ['本を', '読みました。'], ['手紙を', '書きました。'], ['料理を', '作りました。'], ['写真を', '撮りました。'],
  ['歌を', '歌いました。'], ['野菜を', '育てました。'], ['絵を', '描きました。'], ['友だちを', '待ちました。'],
  ['新聞を', '広げました。'], ['お茶を', '飲みました。'], ['道を', '掃除しました。'], ['魚を', '釣りました。'],
  ['昔の話を', '聞きました。'], ['荷物を', '運びました。'], ['ピアノを', '練習しました。'], ['パンを', '焼きました。'],
  ['日記を', 'つけました。'], ['子犬の世話を', 'しました。'], ['古い家具を', '直しました。'], ['夕日を', '眺めました。'],
];
const SCENES = [
  '空は', '風は', '海は', '町は', '道は', '部屋は', '川の水は', '夜空は', '山の空気は', '駅の周りは', '教室は', '森は',
];
const DESCRIPTIONS = [
  '静かでした。', '明るかったです。', 'とても美しかったです。', '少し寒かったです。', 'にぎやかでした。',
  '澄んでいました。', 'いつもより暖かかったです。', 'おだやかでした。', 'ひっそりとしていました。', 'きらきらと光っていました。',
];
const REFLECTIONS = [
  ['だれもが', 'その日のことを', 'よく', '覚えています。'],
  ['それは', 'とても', '楽しい', '一日でした。'],
  ['みんなは', '少しだけ', '疲れていました。'],
  ['次の日も', '同じように', '過ごしました。'],
  ['特に', '変わったことは', 'ありませんでした。'],
];

/** One sentence as a list of phrases; the last phrase ends in "。". */
export function japaneseSentence(rng: Rng): string[] {
  const kind = rng.int(10);
  if (kind < 6) {
    const pieces: string[] = [];
    if (rng.int(4) === 0) pieces.push(rng.pick(CONNECTORS));
    if (rng.int(2) === 0) pieces.push(rng.pick(TIMES));
    const [object, verb] = rng.pick(ACTIONS);
    pieces.push(rng.pick(SUBJECTS), rng.pick(PLACES), object, verb);
    return pieces;
  }
  if (kind < 9) return [rng.pick(SCENES), rng.pick(DESCRIPTIONS)];
  return [...rng.pick(REFLECTIONS)];
}

/** A paragraph of 3 to 6 sentences, its last phrase ending in a line break. */
export function japaneseParagraph(rng: Rng): string[] {
  const sentences = 3 + rng.int(4);
  const pieces: string[] = [];
  for (let s = 0; s < sentences; s++) pieces.push(...japaneseSentence(rng));
  pieces[pieces.length - 1] += '\n';
  return pieces;
}

const KEY_ADJECTIVES = [
  '青い', '赤い', '静かな', '古い', '新しい', '小さな', '大きな', '明るい', '白い', '黒い', '優しい', '速い', '重い',
  '軽い', '冷たい', '温かい', '甘い', '丸い', '細い', '広い', '美しい', '不思議な', '賢い', '元気な', '有名な', '珍しい',
  '懐かしい', '楽しい', '寂しい', '強い', '緑の', '金色の', '銀色の', '眠そうな', '透明な', '四角い',
];
/** Nouns that never occur in the filler lists above, so a key cannot appear there by accident. */
const KEY_NOUNS = [
  'りんご', '時計', '猫', '山羊', '船', '傘', '鍵', '窓', '机', '椅子', '帽子', '花瓶', '星', '月', '塔', '湖', '島',
  '自転車', '灯台', '指輪', '宝石', '地図', '辞書', '鉛筆', '財布', '箱', '扉', '城', '神社', '池', '雲', '桜', '竹',
  '松', '石', '貝', '馬', '羊', '狐', '狸', '熊', '兎', '亀', '蛙', '蝶', '蜂', '龍', '人形', '太鼓', '笛', '鈴',
  '扇子', '提灯', '茶碗', '急須', '皿', '箸', '鍋', '本棚', '絵本', '手袋', '靴', '鞄', '眼鏡', '風鈴', '植木鉢',
  '封筒', '切手', '硬貨', '宝箱', '望遠鏡', '羅針盤', '砂時計', '万年筆', '蝋燭', '風車', '凧', '独楽', '毛布',
  '花火', '貯金箱', '地球儀', '双眼鏡', '鏡', '櫛', '団扇', '草履', '暖炉', '梯子', '籠', '瓶', '壺', '琴',
];

/** A Japanese key phrase such as "青い時計" (adjective + noun; 36 × 93 = 3,348 combinations, JAPANESE_KEY_COUNT). */
export function japaneseKey(rng: Rng): string {
  return rng.pick(KEY_ADJECTIVES) + rng.pick(KEY_NOUNS);
}

/** The number of distinct Japanese key phrases `japaneseKey` can draw. */
export const JAPANESE_KEY_COUNT = KEY_ADJECTIVES.length * KEY_NOUNS.length;
