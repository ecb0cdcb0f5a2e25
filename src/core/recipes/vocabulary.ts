/**
 * The words a recipe may use for its dataset format and learning-rate schedule. They belong to the
 * recipe file; the trainer's tables (train/data.ts FORMATS, train/schedule.ts SCHEDULES) are keyed
 * by them, so the compiler checks that every word has its implementation. Defining them here keeps
 * the arrow one way: train reads recipes, recipes never import train.
 */
export const DATASET_FORMATS = ['text', 'prompt-completion', 'messages', 'alpaca'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

export const SCHEDULE_NAMES = ['constant', 'linear', 'cosine'] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];
