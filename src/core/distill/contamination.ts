import { ngrams } from './inputs';

/**
 * The contamination check: no training input may overlap a held-out test case, or the student is
 * measured on what it was taught. Two texts overlap when the share of the shorter one's word
 * n-grams found in the other reaches the threshold (a text shorter than n words is one n-gram, so a
 * repeated short question is caught too). Every overlapping pair is listed with where each is.
 */
export interface ContaminationItem {
  readonly text: string;
  /** `file:line`. */
  readonly source: string;
}

export interface OverlapPair {
  readonly input: ContaminationItem;
  readonly test: ContaminationItem;
  /** Shared n-grams ÷ the shorter text's n-grams. */
  readonly overlap: number;
}

export function overlap(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  if (small.size === 0) return 0;
  let shared = 0;
  for (const g of small) if (large.has(g)) shared++;
  return shared / small.size;
}

export function contaminatedPairs(
  inputs: readonly ContaminationItem[],
  tests: readonly ContaminationItem[],
  options: { readonly ngram: number; readonly threshold: number },
): OverlapPair[] {
  const testGrams = tests.map((t) => ({ t, g: ngrams(t.text, options.ngram) }));
  // An index from n-gram to the tests holding it: only tests sharing one are compared.
  const index = new Map<string, number[]>();
  testGrams.forEach(({ g }, k) => {
    for (const x of g) {
      const list = index.get(x);
      if (list) list.push(k);
      else index.set(x, [k]);
    }
  });
  const out: OverlapPair[] = [];
  for (const input of inputs) {
    const g = ngrams(input.text, options.ngram);
    const candidates = new Set<number>();
    for (const x of g) for (const k of index.get(x) ?? []) candidates.add(k);
    for (const k of candidates) {
      const o = overlap(g, testGrams[k]!.g);
      if (o >= options.threshold) out.push({ input, test: testGrams[k]!.t, overlap: o });
    }
  }
  return out;
}

/** The pairs as lines for a terminal or log: `input file:line "text" ~ test file:line "text" (83%)`. */
export function describePairs(pairs: readonly OverlapPair[], max = 20): string[] {
  const q = (s: string) => JSON.stringify(s.length > 60 ? `${s.slice(0, 57)}...` : s);
  const lines = pairs
    .slice(0, max)
    .map((p) => `  ${p.input.source} ${q(p.input.text)} overlaps held-out ${p.test.source} ${q(p.test.text)} (${Math.round(p.overlap * 100)}%)`);
  if (pairs.length > max) lines.push(`  (and ${pairs.length - max} more)`);
  return lines;
}
