/**
 * One evaluation sample in the LongBench record format. Generated tasks use the same format plus the name of
 * their metric, so one loader and one evaluation path serve real and generated data.
 */
export interface TaskRecord {
  /** The question / instruction (LongBench `input`). */
  input: string;
  /** The long context to be compressed. */
  context: string;
  /** Gold answers; a sample scores the maximum over them. */
  answers: string[];
  /** LongBench: words of the context; generated tasks: tokens of the whole filled prompt (BOS included), measured with the tokenizer they were sized for. */
  length: number;
  /** Task name, e.g. "passage_retrieval_en" or "niah_single_1". */
  dataset: string;
  language: string;
  /** Class labels for classification tasks, else null. */
  all_classes: string[] | null;
  _id: string;
  /** Metric name (generated tasks always carry it; LongBench records get it from their dataset). */
  metric?: string;
  /** Generated tasks: the full prompt template with {context} and {input}, and the max new tokens. */
  prompt_template?: string;
  max_new_tokens?: number;
  /**
   * Generated tasks: the length in tokens the record was made for (`length` is what it came to), and the needle
   * depth asked for, in percent, where one was (absent: a random depth). `namm eval --by` groups results by them.
   */
  target_length?: number;
  depth_percent?: number;
}

/**
 * The answer text a model is trained to produce after a record's prompt (all gold answers, comma-separated, for
 * multi-answer tasks), and the text whose likelihood `score: 'likelihood'` measures.
 */
/**
 * A record without the fields that only label it for grouping (target_length, depth_percent): what evolution's
 * pool fingerprints and reference-score keys hash, so records generated before the labels existed keep their
 * fingerprints and cached scores.
 */
export function recordContent(r: TaskRecord): TaskRecord {
  if (r.target_length === undefined && r.depth_percent === undefined) return r;
  const { target_length: _t, depth_percent: _d, ...rest } = r;
  return rest;
}

export function answerText(answers: readonly string[]): string {
  return ' ' + answers.join(', ');
}
