/** namm: Neural Attention Memory Models for transformers in Node.js. Public API. */

// Kernels
export { getBackend, JsBackend } from './tensor/index.js';
export { NativeBackend, type SimdPath } from './tensor/native.js';
export type { Backend, AttentionArgs, RopeLayout, GeluKind } from './tensor/index.js';

// Models and runtime
export { Model, loadModel } from './models/model.js';
export type { LoadModelOptions, CreateSessionOptions } from './models/model.js';
export type { ModelConfig, GemmaOptions, Tensor, WeightMap, Tokenizer, Architecture, RopeScaling } from './models/types.js';
export type { DecoderArch, AttendFn } from './models/arch.js';
export type { ChatMessage } from './models/tokenizers/chat.js';
export { llamaConfig, gpt2Config, randomWeights } from './models/random.js';
export { Session } from './runtime/session.js';
export type { SessionOptions, PrefillOptions, GenerateOptions, GenerateResult, ForkedState } from './runtime/session.js';
export { KVCache, HeadStore, type RetainResult, type CacheKernels } from './runtime/kvcache.js';
export { CacheStats } from './runtime/stats.js';
export type { CacheStatsSummary, CacheSnapshot } from './runtime/stats.js';
export { Sampler, argmax } from './runtime/sampling.js';
export { decodeAfter, IncrementalDecoder } from './runtime/detokenize.js';
export type { SamplingOptions } from './runtime/sampling.js';

// Memory policies
export { policyStateBytes, rowsBehindWindow } from './memory/policy.js';
export type { MemoryPolicy, LayerObservation, KeepLists, CacheShape, TapPrecision, PolicyPositionSpan } from './memory/policy.js';

// Utilities
export { Rng } from './util/rng.js';
export { parsePolicySpec, listPolicies, describePolicies, type PolicyInfo, type PolicyOptionInfo } from './memory/spec.js';
export { type Budget, ratioBudget, tokenBudget, budgetTarget, budgetWant, type Cadence, everyTokens, AT_PREFILL_END, AT_CONTEXT_END_AND_DECODE, parseCadence, selectTopK } from './memory/budget.js';
export { ScoredPolicy, perHeadSelect, isTargetedPolicy, withSinks, type TokenScorer, type Selector, type TargetedPolicy, type ScoredPolicyOptions } from './memory/scored.js';
export { FullPolicy, fullPolicy } from './memory/full.js';
export { randomPolicy, RandomScorer, type RandomOptions } from './memory/random.js';
export { streamingPolicy, streamingWindowBudget, StreamingScorer, type StreamingOptions } from './memory/streaming.js';
export { h2oPolicy, H2OScorer, type H2OOptions } from './memory/h2o.js';
export { tovaPolicy, TOVAScorer, type TOVAOptions } from './memory/tova.js';
export { l2Policy, L2Scorer, type L2Options } from './memory/l2.js';
export { snapkvPolicy, SnapKVScorer, type SnapKVOptions, type SnapKVPool } from './memory/snapkv.js';
export { adakvPolicy, adaKvSelect, type AdaKVOptions } from './memory/adakv.js';
export { MatchedPolicy, matchedPolicy, MemoryTraceRecorder, recordingPolicy, parseMemoryTrace, loadMemoryTrace, saveMemoryTrace, type MemoryTrace, type MemoryTraceEvent, type MemoryTraceShape } from './memory/matched.js';
export * from './memory/namm/index.js';

// Model files
export { parseHfConfig, toHfConfig, validateModelConfig } from './models/config.js';
export { loadModelFiles, type LoadedModelFiles, type ModelFileFormat, type LoadModelOptions as LoadModelFilesOptions } from './models/load.js';
export { loadTokenizer, HfTokenizer, type LoadTokenizerOptions } from './models/tokenizer.js';
export { SpmTokenizer } from './models/tokenizers/spm.js';
export { readSafetensors, writeSafetensors, type SafetensorsFile, type SafetensorsWriteTensor } from './models/safetensors.js';
export { loadGguf, writeGguf, readGgufHeader, convertRopeLayout, type GgufHeader } from './models/gguf.js';
export { loadLlama2c, loadLlama2cTokenizer } from './models/llama2c.js';
export { convertModel } from './cli/convert.js';
export { WEIGHT_STORAGES, convertWeights, packMatrix, quantizeQ4_0, tensorValues, widenTensor, type WeightStorage } from './models/pack.js';
export { PACKED_FORMATS, PackedMatrix, unpackRows, unpackMatrix, type PackedFormat, type Weight } from './tensor/packed.js';

// Tasks, metrics and evaluation
export * from './tasks/metrics/index.js';
export * from './tasks/longbench.js';
export type { TaskRecord } from './tasks/record.js';
export { checkScorable, runRecord, type RecordResult, type RunRecordOptions, type RecordScore } from './eval/runner.js';
export { summarize, formatSummary, withTaskAverages, AVERAGE_ROW, type SummaryRow, type SummaryKey } from './eval/summary.js';
export { perplexity, type PerplexityResult } from './eval/perplexity.js';
export { TASKS, listTasks, getTask, generateRecord, generateRecords, iterateRecords, checkRecordOptions } from './tasks/registry.js';
export type { TaskDefinition, TaskMetric, RecordOptions, RecordsOptions } from './tasks/registry.js';
export { fitToLength, fillTemplate, countPromptTokens, LENGTH_TOLERANCE } from './tasks/generate/sizing.js';
export type { SizingMemo, FitOptions, FitResult } from './tasks/generate/sizing.js';
export { resolveHaystack, renderHaystack, NOISE_SENTENCES, HAYSTACK_NAMES } from './tasks/haystack.js';
export type { HaystackSource, HaystackStream, Needle, Language } from './tasks/haystack.js';
export { calibrateNamm, type CalibrateOptions } from './eval/calibrate.js';

// Evolution
export { CmaEs, cmaParameters, hansenEigenGap } from './evolve/cmaes.js';
export type { CmaOptions, CmaMode, CmaVariant, CmaParameters, ResolvedCmaOptions } from './evolve/cmaes.js';
export { symmetricEigen, symmetricEigenInPlace } from './evolve/eigen.js';
export { runEvolution, loadEvolutionCheckpoint } from './evolve/loop.js';
export type { RunEvolutionOptions, EvolutionStage, EvaluationContext, EvaluationResult, GenerationRecord, EvolutionResult, LoopMeta, StoredRecord, ValidationContext, ValidationRecord } from './evolve/loop.js';
export { writeFileAtomic, writeCheckpointFile, readCheckpointFile } from './evolve/checkpoint.js';
export { evolveNamm, EVOLVED_FILE, MEMBERS_FILE, SVG_FILE, type EvolveNammOptions, type EvolveNammResult, type MemberReport } from './evolve/namm-evolution.js';
export { computeFitness, samplePromptIndices, REFERENCE_EPSILON, FITNESS_NORMALISATIONS, type FitnessNormalisation, type TaskScores, type FitnessOptions, type FitnessResult } from './evolve/fitness.js';
export { parseCurriculum, loadCurriculum, resolveTaskPools, curriculumFingerprints, MIN_TRAINING_SEED, CURRICULUM_DEFAULTS, type Curriculum, type StageSpec, type TaskSpec, type GeneratedTaskSpec, type JsonlTaskSpec, type CmaSettings, type NammSettings, type RunSettings } from './evolve/curriculum.js';
export { ReferenceScoreCache, referenceKey, referenceSettings, modelFingerprint, REFERENCE_SCORES_FILE, type ReferenceEntry } from './evolve/reference-scores.js';
export { createEvaluator, loadSharedModel, shareWeights, runEvaluationJob, type Evaluator, type EvaluationBatch, type JobResult, type NammRunSettings, type SharedModel } from './evolve/workers.js';
export { renderFitnessSvg, readEvolutionLog, niceTicks } from './evolve/plot.js';
export { renderLineChart, type LineChartOptions, type LineSeries } from './util/chart.js';
export { renderLossSvg, readTrainLog } from './train/plot.js';
export { renderScoreVsKvSvg, type ScoreVsKvPoint } from './eval/plot.js';

// Training
export { runTraining, modelConfigFor, type TrainRunOptions, type TrainRunResult, type StepInfo } from './train/trainer.js';
export { parseTrainConfig, readTrainConfig, type TrainConfig } from './train/config.js';
export { trainBpe, bpeTokenizerJson, bpeTokenizerConfig, type BpeModel } from './train/bpe.js';
export { createTrainableModel } from './train/family.js';
export type { TrainableModel } from './train/model.js';
export { AdamW, clipGradNorm } from './train/adamw.js';
export { learningRate } from './train/schedule.js';
export { DataMixer, TRAIN_SEED_BASE, type Sample, type MixerOptions, type MixerState } from './train/data.js';
export { corpusSplit } from './train/corpus.js';
export { saveHfModel } from './train/export.js';
