/**
 * Learning-rate schedules as transformers defines them (optimization.py): each gives the multiplier
 * of the base rate at a step, counted from 0, for `total` steps with `warmup` warm-up steps.
 */
import type { ScheduleName } from '../recipes/vocabulary';

export type { ScheduleName };

export interface Schedule {
  readonly name: ScheduleName;
  readonly warmupSteps: number;
  readonly totalSteps: number;
}

type Lambda = (step: number, warmup: number, total: number) => number;

const warm = (step: number, warmup: number) => step / Math.max(1, warmup);

/** One entry per schedule; warm-up is linear from 0 in all of them, as in transformers. */
export const SCHEDULES: Readonly<Record<ScheduleName, Lambda>> = {
  // get_constant_schedule_with_warmup
  constant: (step, warmup) => (step < warmup ? warm(step, warmup) : 1),
  // get_linear_schedule_with_warmup
  linear: (step, warmup, total) => (step < warmup ? warm(step, warmup) : Math.max(0, (total - step) / Math.max(1, total - warmup))),
  // get_cosine_schedule_with_warmup, num_cycles = 0.5
  cosine: (step, warmup, total) => {
    if (step < warmup) return warm(step, warmup);
    const progress = (step - warmup) / Math.max(1, total - warmup);
    return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 2 * 0.5 * progress)));
  },
};

export function learningRate(baseLr: number, schedule: Schedule, step: number): number {
  return baseLr * SCHEDULES[schedule.name](step, schedule.warmupSteps, schedule.totalSteps);
}
