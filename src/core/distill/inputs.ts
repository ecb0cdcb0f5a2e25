import { TuneloopError } from '../errors';
import type { Variables } from '../prompts/render';
import { readJsonl } from '../train/data';

/**
 * A distillation's inputs: the rows of variables the teacher answers. They come from a JSONL file
 * of variable rows and/or lists to expand (their cross product), and repeats are dropped: exact ones
 * (after case and spacing are normalised) and near ones (word-trigram Jaccard similarity at or above
 * `dedupe`). Each keeps where it came from, for messages that name the line.
 */
export interface InputRow {
  readonly vars: Variables;
  /** `file:line` of the JSONL row, or `expand` for a row made only from lists; a rewording adds "(paraphrase k)". */
  readonly source: string;
  /** Which rewording of its source this row is (paraphrase.ts), from 1. */
  readonly paraphrase?: number;
}

export interface DroppedInput {
  readonly source: string;
  readonly duplicateOf: string;
  /** 1 for an exact repeat; the trigram similarity otherwise. */
  readonly similarity: number;
}

export interface InputsSpec {
  readonly path?: string | undefined;
  readonly expand?: Readonly<Record<string, readonly string[]>> | undefined;
  readonly dedupe: number;
}

/** Rows from the file (absolute path) crossed with the expanded lists, before deduplication. */
export function expandInputs(spec: InputsSpec, file?: string): InputRow[] {
  const base: InputRow[] = file
    ? readJsonl(file).map(({ line, row }) => ({ vars: row as Variables, source: `${file}:${line}` }))
    : [{ vars: {}, source: 'expand' }];
  let rows = base;
  for (const [name, values] of Object.entries(spec.expand ?? {}))
    rows = rows.flatMap((r) => values.map((v) => ({ vars: { ...r.vars, [name]: v }, source: r.source })));
  if (rows.length === 0) throw new TuneloopError('the inputs give no rows', file ? { file } : {}, 'give inputs.path rows or inputs.expand lists');
  return rows;
}

/** Case- and spacing-insensitive text, for comparing inputs and test cases. */
export function normalise(text: string): string {
  return text.toLowerCase().replace(/\s+/g, ' ').trim();
}

export function words(text: string): string[] {
  return normalise(text)
    .split(/[^\p{L}\p{N}']+/u)
    .filter((w) => w !== '');
}

/** Word n-grams of a text; a text of fewer than n words is one n-gram of all of them. */
export function ngrams(text: string, n: number): Set<string> {
  const w = words(text);
  if (w.length === 0) return new Set();
  if (w.length < n) return new Set([w.join(' ')]);
  const out = new Set<string>();
  for (let i = 0; i + n <= w.length; i++) out.add(w.slice(i, i + n).join(' '));
  return out;
}

export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let shared = 0;
  for (const x of a) if (b.has(x)) shared++;
  return shared / (a.size + b.size - shared);
}

/**
 * The inputs without repeats. `textOf` is what two inputs are compared by (the values the student's
 * messages render). Near-duplicates are found pairwise against the inputs kept so far: fine for the
 * thousands of rows a distillation generates; an index (MinHash) would be the next step beyond that.
 */
export function dedupeInputs(rows: readonly InputRow[], threshold: number, textOf: (r: InputRow) => string): { kept: InputRow[]; dropped: DroppedInput[] } {
  const kept: InputRow[] = [];
  const dropped: DroppedInput[] = [];
  const exact = new Map<string, InputRow>();
  const grams: { row: InputRow; set: Set<string> }[] = [];
  for (const r of rows) {
    const text = textOf(r);
    const key = normalise(text);
    const same = exact.get(key);
    if (same) {
      dropped.push({ source: r.source, duplicateOf: same.source, similarity: 1 });
      continue;
    }
    const set = ngrams(text, 3);
    if (threshold < 1) {
      let near: { row: InputRow; s: number } | undefined;
      for (const g of grams) {
        const s = jaccard(set, g.set);
        if (s >= threshold && (!near || s > near.s)) near = { row: g.row, s };
      }
      if (near) {
        dropped.push({ source: r.source, duplicateOf: near.row.source, similarity: near.s });
        continue;
      }
    }
    exact.set(key, r);
    grams.push({ row: r, set });
    kept.push(r);
  }
  return { kept, dropped };
}
