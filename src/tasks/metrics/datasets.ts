import type { MetricName } from './index.js';
import { checkArg } from '../../util/args.js';

/** LongBench's `dataset2metric` (eval.py), all 21 tasks. */
export const LONGBENCH_DATASET_METRICS: Readonly<Record<string, MetricName>> = {
  narrativeqa: 'qa_f1', qasper: 'qa_f1', multifieldqa_en: 'qa_f1', multifieldqa_zh: 'qa_f1_zh',
  hotpotqa: 'qa_f1', '2wikimqa': 'qa_f1', musique: 'qa_f1',
  dureader: 'rouge_zh', gov_report: 'rouge', qmsum: 'rouge', multi_news: 'rouge', vcsum: 'rouge_zh',
  trec: 'classification', triviaqa: 'qa_f1', samsum: 'rouge', lsht: 'classification',
  passage_retrieval_en: 'retrieval', passage_count: 'count', passage_retrieval_zh: 'retrieval_zh',
  lcc: 'code_sim', 'repobench-p': 'code_sim',
};

/**
 * ChouBun (the NAMM paper's Japanese benchmark). Its metrics tokenise Japanese with MeCab through fugashi; no npm
 * package reproduces that segmentation, so these metric names are known but raise a clear error when scored.
 */
export const CHOUBUN_DATASET_METRICS: Readonly<Record<string, MetricName>> = {
  wiki_qa: 'qa_f1_ja', edinet_qa: 'qa_f1_ja', corp_sec_qa: 'qa_f1_ja', corp_sec_sum: 'rouge_ja',
};

/** Generated tasks (RULER- and InfiniteBench-style); their records also carry `metric` themselves. */
export const GENERATED_DATASET_METRICS: Readonly<Record<string, MetricName>> = {
  niah_single_1: 'string_match_all', niah_single_2: 'string_match_all', niah_single_3: 'string_match_all',
  niah_multikey_1: 'string_match_all', niah_multikey_2: 'string_match_all', niah_multikey_3: 'string_match_all',
  niah_multivalue: 'string_match_all', niah_multiquery: 'string_match_all',
  vt: 'string_match_all', cwe: 'string_match_all', fwe: 'string_match_all',
  qa_1: 'string_match_part', qa_2: 'string_match_part',
  passkey: 'passkey', number_string: 'passkey', kv_retrieval: 'kv_retrieval',
  needle_in_haystack: 'string_match_all', niah_ja: 'string_match_all', niah_multikey_ja: 'string_match_all',
  kv_retrieval_ja: 'kv_retrieval', needle_in_haystack_ja: 'string_match_all',
};

/** Tasks whose prediction LongBench cuts to its first line before scoring (few-shot tasks that keep going). */
export const FIRST_LINE_DATASETS: ReadonlySet<string> = new Set(['trec', 'triviaqa', 'samsum', 'lsht']);

/** The metric of a dataset, from the tables above; undefined for an unknown dataset. */
export function metricForDataset(dataset: string): MetricName | undefined {
  checkArg('metricForDataset', 'dataset', dataset, 'string');
  return LONGBENCH_DATASET_METRICS[dataset] ?? CHOUBUN_DATASET_METRICS[dataset] ?? GENERATED_DATASET_METRICS[dataset];
}
