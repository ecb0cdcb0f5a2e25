/**
 * The words a recipe may use for its dataset format, learning-rate schedule and base weights' type.
 * They belong to the recipe file; the trainer's tables (train/data.ts FORMATS, train/schedule.ts
 * SCHEDULES) are keyed by them, so the compiler checks that every word has its implementation.
 * Defining them here keeps the arrow one way: train reads recipes, recipes never import train.
 */
export const DATASET_FORMATS = ['text', 'prompt-completion', 'messages', 'alpaca'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

export const SCHEDULE_NAMES = ['constant', 'linear', 'cosine'] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];

/** How the frozen base weights are held during training (`training.base_dtype`); int8 is symmetric per-channel. */
export const BASE_DTYPES = ['fp32', 'bf16', 'int8'] as const;
export type BaseDtype = (typeof BASE_DTYPES)[number];

/**
 * How a teacher's behaviour reaches the student (`teacher.kind`): `sequence`, the teacher's outputs
 * become the student's training rows (sequence-level knowledge distillation, Kim and Rush 2016);
 * `token`, the rows also carry the teacher's top-k log-probabilities at each answer token, and the
 * student learns them with a soft cross-entropy at a temperature (Hinton et al. 2015).
 */
export const DISTILL_KINDS = ['sequence', 'token'] as const;

/** The teacher's tokens per position that token-level distillation learns: the top 5 generation records (infer/generate.ts TOP_ALTERNATIVES). */
export const DISTILL_TOP_K = 5;
export type DistillKind = (typeof DISTILL_KINDS)[number];

/** What a contamination check does when a training input overlaps a held-out test case. */
export const CONTAMINATION_ACTIONS = ['refuse', 'warn'] as const;
export type ContaminationAction = (typeof CONTAMINATION_ACTIONS)[number];
