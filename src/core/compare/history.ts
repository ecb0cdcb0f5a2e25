import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * `tuneloop eval --record`: one JSON line per run appended to NAME.history.jsonl beside the
 * snapshot (or the prompt file), so that a team sees its pass rates over commits. Lines only ever
 * get appended; with `NAME.history.jsonl merge=union` in .gitattributes, two branches' lines merge
 * without a conflict.
 */

export const HISTORY_VERSION = 1;

export interface HistoryVariant {
  readonly name: string;
  /** The adapter folder, relative to the workspace root; null for the base. */
  readonly adapter: string | null;
  /** sha256 of the adapter's weights file; null for the base. */
  readonly adapterSha256: string | null;
  readonly dtype: string | null;
  readonly passRate: number | null;
  /** Evaluator name → its pass rate (null where it did not run). */
  readonly evaluators: Readonly<Record<string, number | null>>;
  readonly regressionCount: number | null;
  readonly labelMetrics: { readonly accuracy: number; readonly macroF1: number } | null;
  readonly ece: number | null;
  /** With --repeat: runs per case, the pass rate's 95% interval and the number of flaky cases; else null. */
  readonly repeat: { readonly runs: number; readonly low: number | null; readonly high: number | null; readonly flaky: number } | null;
  /** On a `tuneloop probe --record` line: the variant's probe flips over all probes, and those the base does not have (null for the base). */
  readonly probeFlips?: { readonly total: number; readonly new: number | null } | null;
}

export interface HistoryLine {
  readonly version: number;
  /** What recorded it: `tuneloop eval --record` (pass rates; the default for lines without it) or `tuneloop probe --record` (probe flips). */
  readonly kind?: 'eval' | 'probe';
  /** The git commit of the prompt file's repository (HEAD), and whether the work tree had changes; null outside git. */
  readonly commit: string | null;
  readonly dirty: boolean | null;
  readonly date: string;
  /** The prompt file, relative to the workspace root. */
  readonly file: string;
  readonly model: { readonly id: string; readonly sha256: string | null };
  readonly variants: readonly HistoryVariant[];
  /** What made the run fail (the same texts as eval's messages); empty when it passed. */
  readonly failures: readonly string[];
}

/** The history file of a prompt file: beside its snapshot (X.snapshot.json → X.history.jsonl), else beside it (X.prompt.yml → X.history.jsonl). */
export function historyFileOf(promptFile: string, snapshot: string | undefined): string {
  if (snapshot) {
    const s = path.resolve(path.dirname(promptFile), snapshot);
    return path.join(path.dirname(s), `${path.basename(s).replace(/\.snapshot\.json$|\.json$/, '')}.history.jsonl`);
  }
  return path.join(path.dirname(promptFile), `${path.basename(promptFile).replace(/\.prompt\.ya?ml$|\.ya?ml$/, '')}.history.jsonl`);
}

/** Appends `line` as one line, in one write (O_APPEND), so that a crash leaves whole lines. */
export function appendHistory(file: string, line: HistoryLine): void {
  const text = `${JSON.stringify(line)}\n`;
  const fd = fs.openSync(file, 'a');
  try {
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
}

/** A history file read back: its lines, oldest first, and those that could not be read (a merge gone wrong, a hand edit). */
export interface HistoryRead {
  readonly lines: readonly HistoryLine[];
  readonly unreadable: readonly { readonly line: number; readonly reason: string }[];
}

/** What a line must hold to be plotted; the rest of it is read as written. */
function historyLineProblem(x: unknown): string | undefined {
  if (!x || typeof x !== 'object' || Array.isArray(x)) return 'not a JSON object';
  const l = x as Partial<HistoryLine>;
  if (typeof l.version !== 'number' || l.version > HISTORY_VERSION)
    return `version ${String(l.version)} is not one this Tuneloop reads (1 to ${HISTORY_VERSION})`;
  if (typeof l.date !== 'string') return 'no date';
  if (l.kind !== undefined && l.kind !== 'eval' && l.kind !== 'probe') return `kind "${String(l.kind)}" is neither eval nor probe`;
  if (!Array.isArray(l.variants) || l.variants.some((v) => !v || typeof v.name !== 'string')) return 'no variants';
  return undefined;
}

/** Reads NAME.history.jsonl; a missing file is an empty history. */
export function readHistory(file: string): HistoryRead {
  if (!fs.existsSync(file)) return { lines: [], unreadable: [] };
  const lines: HistoryLine[] = [];
  const unreadable: { line: number; reason: string }[] = [];
  fs.readFileSync(file, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      if (text.trim() === '') return;
      let x: unknown;
      try {
        x = JSON.parse(text);
      } catch (e) {
        unreadable.push({ line: i + 1, reason: `not JSON: ${(e as Error).message}` });
        return;
      }
      const problem = historyLineProblem(x);
      if (problem) unreadable.push({ line: i + 1, reason: problem });
      else lines.push(x as HistoryLine);
    });
  // Lines merged from two branches (merge=union) come in file order; the plot wants time order.
  lines.sort((a, b) => a.date.localeCompare(b.date));
  return { lines, unreadable };
}
