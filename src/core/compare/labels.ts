import type { Task } from '../prompts/types';

/**
 * Label metrics for classification prompts: when the test cases' `expected` values are labels, each
 * output is read as a label and a variant gets accuracy, per-label precision, recall and F1,
 * macro-F1 and a confusion matrix, as scikit-learn's classification_report and confusion_matrix
 * define them (a label never predicted has precision 0; macro-F1 is the unweighted mean over the
 * expected labels).
 */

/** Label mode turns on by itself when `expected` has at most this many distinct values … */
export const MAX_LABELS = 20;
/** … each appearing at least this often. */
export const MIN_LABEL_SUPPORT = 2;
/** The confusion matrix's column for outputs that are none of the labels. */
export const OTHER_LABEL = '(other)';

export interface LabelScore {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /** Test cases with this expected label. */
  readonly support: number;
}

export interface LabelMetrics {
  /** Outputs read as their expected label ÷ test cases counted. */
  readonly accuracy: number;
  readonly macroF1: number;
  readonly perLabel: Readonly<Record<string, LabelScore>>;
  /** matrix[i][j]: cases expecting labels[i] whose output read as columns[j] (the labels, then OTHER_LABEL when any output was none of them). */
  readonly confusion: { readonly labels: readonly string[]; readonly columns: readonly string[]; readonly matrix: readonly (readonly number[])[] };
}

/** Why label mode is on, or undefined when it is off. */
export function labelMode(task: Task | undefined, expected: readonly (string | undefined)[]): 'task' | 'expected' | undefined {
  if (task === 'classification') return expected.some((e) => e !== undefined) ? 'task' : undefined;
  if (expected.length === 0 || expected.some((e) => e === undefined)) return undefined;
  const counts = countBy(expected as string[]);
  return counts.size <= MAX_LABELS && [...counts.values()].every((n) => n >= MIN_LABEL_SUPPORT) ? 'expected' : undefined;
}

const normalise = (s: string) =>
  s
    .trim()
    .replace(/[.!。]+$/u, '')
    .trim()
    .toLowerCase();

/**
 * The label an output reads as: the label it equals once trimmed, without final full stops and
 * ignoring case (`Positive.` reads as `positive`); otherwise the output itself, trimmed, which no
 * label matches.
 */
export function labelOf(output: string, labels: readonly string[]): string {
  const n = normalise(output);
  return labels.find((l) => normalise(l) === n) ?? output.trim();
}

/** The metrics over (expected, output) pairs; undefined with no pairs. */
export function labelMetrics(pairs: readonly { readonly expected: string; readonly output: string }[]): LabelMetrics | undefined {
  if (pairs.length === 0) return undefined;
  const labels = [...new Set(pairs.map((p) => p.expected))].sort();
  const predicted = pairs.map((p) => labelOf(p.output, labels));
  const other = predicted.some((p) => !labels.includes(p));
  const columns = other ? [...labels, OTHER_LABEL] : labels;
  const matrix = labels.map(() => columns.map(() => 0));
  pairs.forEach((p, k) => {
    const j = labels.indexOf(predicted[k]!);
    matrix[labels.indexOf(p.expected)]![j >= 0 ? j : columns.length - 1]! += 1;
  });
  const perLabel: Record<string, LabelScore> = {};
  labels.forEach((l, i) => {
    const tp = matrix[i]![i]!;
    const support = matrix[i]!.reduce((a, b) => a + b, 0);
    const predictedAs = matrix.reduce((a, row) => a + row[i]!, 0);
    const precision = predictedAs ? tp / predictedAs : 0;
    const recall = support ? tp / support : 0;
    perLabel[l] = { precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0, support };
  });
  const correct = labels.reduce((a, _, i) => a + matrix[i]![i]!, 0);
  const macroF1 = labels.reduce((a, l) => a + perLabel[l]!.f1, 0) / labels.length;
  return { accuracy: correct / pairs.length, macroF1, perLabel, confusion: { labels, columns, matrix } };
}

function countBy(xs: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

/** A case's `expected` as a label: a string, or a number or boolean written as text; otherwise none. */
function expectedLabel(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/**
 * Each variant's label metrics over its completed cells, when label mode is on for these cases
 * (`task: classification`, or `expected` values that look like labels); undefined when it is off.
 */
export function matrixLabelMetrics(
  task: Task | undefined,
  cases: readonly { readonly index: number; readonly vars: { readonly [name: string]: unknown } }[],
  variants: readonly string[],
  results: Readonly<Record<string, Readonly<Record<number, { readonly text: string; readonly finish: string }>>>>,
): { readonly mode: 'task' | 'expected'; readonly byVariant: Readonly<Record<string, LabelMetrics | undefined>> } | undefined {
  const expected = cases.map((c) => expectedLabel(c.vars.expected));
  const mode = labelMode(task, expected);
  if (!mode) return undefined;
  const byVariant: Record<string, LabelMetrics | undefined> = {};
  for (const v of variants) {
    const pairs = cases.flatMap((c, k) => {
      const cell = results[v]?.[c.index];
      const e = expected[k];
      return cell && cell.finish !== 'cancelled' && e !== undefined ? [{ expected: e, output: cell.text }] : [];
    });
    byVariant[v] = labelMetrics(pairs);
  }
  return { mode, byVariant };
}
