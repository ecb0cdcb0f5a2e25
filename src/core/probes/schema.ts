import { z } from 'zod';
import type { ProbesReport } from './report';

/**
 * A probes report (report.ts) as it crosses a process boundary: the worker's result of `runProbes`
 * and the panel's `probes/end`. Zod only (the panel's page imports it), texts bounded.
 */
const Text = z.string().max(1_000_000);
const Label = z.string().max(4096);
const Count = z.number().int().nonnegative();

const ProbeFlipSchema = z.object({
  caseIndex: Count,
  evaluator: Label,
  reference: z.boolean(),
  swapped: z.boolean(),
  new: z.boolean().optional(),
});

const SwapReportSchema = z.object({
  label: Label,
  applies: Count,
  changed: z.array(z.object({ caseIndex: Count, reference: Text, output: Text })),
  flips: z.array(ProbeFlipSchema),
  deltaLogProb: z.number().nullable(),
  divergence: z.number().min(0).max(1).nullable(),
});

export const ProbesReportSchema = z.object({
  probes: z.array(
    z.object({
      name: Label,
      kind: z.enum(['variable', 'words']),
      swaps: Label,
      labels: z.array(Label),
      applies: Count,
      cases: Count,
      variants: z.array(z.object({ variant: Label, swaps: z.array(SwapReportSchema), flips: Count })),
    }),
  ),
  flips: z.record(z.string(), z.object({ total: Count, new: Count.nullable() })),
});

/** The schema and the report type agree both ways (a compile-time check). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const agree: Same<z.infer<typeof ProbesReportSchema>, DeepMutable<ProbesReport>> = true;
void agree;

type DeepMutable<T> = T extends readonly (infer U)[] ? DeepMutable<U>[] : T extends object ? { -readonly [K in keyof T]: DeepMutable<T[K]> } : T;
