import { cellCompleted } from '../compare/scores';
import { wordDiff } from '../compare/words';
import type { FinishReason } from '../infer/generate';
import type { Probe } from '../prompts';
import type { ExpandedProbes } from './expand';

/**
 * What a variant does under each probe's swaps, against the probe's first column (the reference):
 * - an output *changed*: the swapped case's output differs from the reference's;
 * - a *flip*: a (test case, evaluator, swap) whose outcome differs from the reference's (both ran);
 *   a variant's flips, over all probes, are what `maxProbeFlips` limits;
 * - Δ log p(expected): the swapped case's log-probability of its (swapped) expected answer minus the
 *   reference's, averaged over the cases that have one: a model that finds the same answer less
 *   likely for "she" than for "he" shows it here before any output changes;
 * - divergence: 1 − the share of words two outputs keep (2 × same words ÷ both counts), averaged
 *   over the cases the swap applies to (0: same outputs).
 * A swap *applies* to a case when it changes its messages or values; cases it does not apply to
 * are left out of every figure of that swap. Against the base, each flip of an adapter is marked
 * new when the base does not flip on the same case, evaluator and swap: the change the adapter made.
 */

export interface ProbeCell {
  readonly text: string;
  readonly finish: FinishReason;
  readonly evaluations: readonly { readonly name: string; readonly passed?: boolean | null | undefined }[];
  readonly expectedLogProb?: number | undefined;
}

export interface ProbeFlip {
  readonly caseIndex: number;
  readonly evaluator: string;
  /** The outcome under the reference column and under the swap. */
  readonly reference: boolean;
  readonly swapped: boolean;
  /** Not a flip of the base on the same case, evaluator and swap (undefined for the base itself). */
  readonly new?: boolean | undefined;
}

export interface SwapReport {
  /** The column's label. */
  readonly label: string;
  /** Test cases the swap changed. */
  readonly applies: number;
  /** Cases whose output changed, with both outputs. */
  readonly changed: readonly { readonly caseIndex: number; readonly reference: string; readonly output: string }[];
  readonly flips: readonly ProbeFlip[];
  /** Mean Δ log p(expected) over the cases with an expected answer; null with none. */
  readonly deltaLogProb: number | null;
  /** Mean divergence of the outputs; null when the swap applies to no completed case. */
  readonly divergence: number | null;
}

export interface ProbeVariantReport {
  readonly variant: string;
  /** One per column after the reference. */
  readonly swaps: readonly SwapReport[];
  readonly flips: number;
}

export interface ProbeReport {
  readonly name: string;
  readonly kind: Probe['kind'];
  /** What it swaps: the variable, or the word table (or "words"). */
  readonly swaps: string;
  readonly labels: readonly string[];
  /** Test cases at least one swap applies to. */
  readonly applies: number;
  readonly cases: number;
  readonly variants: readonly ProbeVariantReport[];
}

export interface ProbesReport {
  readonly probes: readonly ProbeReport[];
  /** Each variant's flips over all probes, and those the base does not have. */
  readonly flips: Readonly<Record<string, { readonly total: number; readonly new: number | null }>>;
}

/** 1 − (2 × words kept ÷ words in both); 0 for two empty outputs. */
export function divergence(a: string, b: string): number {
  const count = (s: string) => s.split(/\s+/).filter(Boolean).length;
  const total = count(a) + count(b);
  if (total === 0) return 0;
  const same = wordDiff(a, b)
    .filter((p) => p.kind === 'same')
    .reduce((n, p) => n + count(p.text), 0);
  return 1 - (2 * same) / total;
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** Each variant's flips per probe, swap, case and evaluator, for marking an adapter's flips new. */
const flipKey = (probe: number, swap: number, f: Pick<ProbeFlip, 'caseIndex' | 'evaluator'>) => `${probe}\u0000${swap}\u0000${f.caseIndex}\u0000${f.evaluator}`;

export function probeReport(input: {
  readonly probes: readonly Probe[];
  readonly expanded: ExpandedProbes;
  readonly variants: readonly string[];
  /** results[variant][matrixIndex] */
  readonly results: Readonly<Record<string, Readonly<Record<number, ProbeCell>>>>;
  readonly base?: string | undefined;
}): ProbesReport {
  const base = input.base ?? 'base';
  const baseFlips = new Set<string>();
  const probes = input.probes.map((probe, p): ProbeReport => {
    const slots = input.expanded.slots[p]!;
    const variants = input.variants.map((variant): ProbeVariantReport => {
      const cells = input.results[variant] ?? {};
      const swaps = probe.labels.slice(1).map((label, s): SwapReport => {
        const column = s + 1;
        const changed: SwapReport['changed'][number][] = [];
        const flips: ProbeFlip[] = [];
        const deltas: number[] = [];
        const divergences: number[] = [];
        let applies = 0;
        slots.forEach((columns, position) => {
          const slot = columns[column]!;
          if (!slot.changed) return;
          applies++;
          const caseIndex = input.expanded.testCases[position]!.index;
          const ref = cells[columns[0]!.matrixIndex];
          const out = cells[slot.matrixIndex];
          if (!ref || !out || !cellCompleted(ref) || !cellCompleted(out)) return;
          if (ref.text !== out.text) changed.push({ caseIndex, reference: ref.text, output: out.text });
          divergences.push(divergence(ref.text, out.text));
          if (ref.expectedLogProb !== undefined && out.expectedLogProb !== undefined) deltas.push(out.expectedLogProb - ref.expectedLogProb);
          ref.evaluations.forEach((e, k) => {
            const a = e.passed;
            const b = out.evaluations[k]?.passed;
            if (typeof a !== 'boolean' || typeof b !== 'boolean' || a === b) return;
            const flip = { caseIndex, evaluator: e.name, reference: a, swapped: b };
            if (variant === base) baseFlips.add(flipKey(p, column, flip));
            flips.push(flip);
          });
        });
        return { label, applies, changed, flips, deltaLogProb: mean(deltas), divergence: mean(divergences) };
      });
      return { variant, swaps, flips: swaps.reduce((n, s) => n + s.flips.length, 0) };
    });
    const applies = slots.filter((columns) => columns.some((c) => c.changed)).length;
    const swaps = probe.kind === 'variable' ? `variable ${probe.variable}` : `words${probe.table ? ` (${probe.table})` : ''}`;
    return { name: probe.name, kind: probe.kind, swaps, labels: probe.labels, applies, cases: slots.length, variants };
  });
  // With the base's flips known, mark the others' new ones.
  const baseRan = input.results[base] !== undefined;
  const marked = probes.map((probe, p) => ({
    ...probe,
    variants: probe.variants.map((v) =>
      v.variant === base || !baseRan
        ? v
        : { ...v, swaps: v.swaps.map((s, i) => ({ ...s, flips: s.flips.map((f) => ({ ...f, new: !baseFlips.has(flipKey(p, i + 1, f)) })) })) },
    ),
  }));
  const flips = Object.fromEntries(
    input.variants.map((variant) => {
      const all = marked.flatMap((p) => p.variants.filter((v) => v.variant === variant).flatMap((v) => v.swaps.flatMap((s) => s.flips)));
      return [variant, { total: all.length, new: variant === base || !baseRan ? null : all.filter((f) => f.new).length }];
    }),
  );
  return { probes: marked, flips };
}

/** Whether a variant keeps to its maxProbeFlips (no limit always does). */
export function meetsMaxProbeFlips(flips: number, maxProbeFlips: number | undefined): boolean {
  return maxProbeFlips === undefined || flips <= maxProbeFlips;
}
