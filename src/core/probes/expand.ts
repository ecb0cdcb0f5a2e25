import type { MatrixCase } from '../compare/matrix';
import { type PromptFile, type Probe, renderMessages, type Variables } from '../prompts';
import { WORD_TABLES, type WordTable, WordSwapper } from '../word-swaps';

/**
 * A prompt file's probes turned into matrix cases (core/compare/matrix.ts): every test case under
 * every column of every probe, each a case of its own with its values (and, for a words probe, its
 * messages) swapped. Identical runs are made once: a column that changes nothing in a case (no word
 * of the table in it) shares the reference column's run, and two probes that produce the same
 * messages and values share theirs.
 */

/** Where one test case under one probe column ran: the matrix case index, and whether the swap changed anything against column 0. */
export interface ProbeSlot {
  readonly matrixIndex: number;
  /** The swapped text differs from the reference column's (column 0 is always false). */
  readonly changed: boolean;
}

export interface ExpandedProbes {
  /** The cases to run, indexed 0, 1, … */
  readonly cases: readonly MatrixCase[];
  /** slots[probe][caseIndex position][column] */
  readonly slots: readonly (readonly (readonly ProbeSlot[])[])[];
  /** The test cases, in the order the slots hold them. */
  readonly testCases: readonly MatrixCase[];
}

/** The word table a words probe swaps with: a built-in one (with its grammar), or the rows as written. */
export function tableOf(probe: Extract<Probe, { kind: 'words' }>): WordTable {
  const builtIn = probe.table ? WORD_TABLES[probe.table] : undefined;
  return builtIn ?? { labels: probe.labels, rows: probe.rows.map((words) => ({ words })) };
}

const PLACEHOLDER = /\{\{[^}]*\}\}/g;

/** Swaps words in a template's text, never inside its {{placeholders}}. */
function swapTemplate(swapper: WordSwapper, template: string, column: number): string {
  let out = '';
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    out += swapper.swap(template.slice(last, m.index), column) + m[0];
    last = m.index + m[0].length;
  }
  return out + swapper.swap(template.slice(last), column);
}

/** One test case under one column: its prompt (messages swapped, for words) and values. */
function swapped(probe: Probe, prompt: PromptFile, swapper: WordSwapper | undefined, vars: Variables, column: number): { prompt: PromptFile; vars: Variables } {
  if (probe.kind === 'variable') return { prompt, vars: { ...vars, [probe.variable]: probe.values[column]! } };
  const s = swapper!;
  const messages = prompt.messages.map((m) => ({ ...m, content: swapTemplate(s, m.content, column) }));
  const values = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, typeof v === 'string' ? s.swap(v, column) : v])) as Variables;
  return { prompt: { ...prompt, messages }, vars: values };
}

export function expandProbes(prompt: PromptFile, testCases: readonly MatrixCase[]): ExpandedProbes {
  const cases: MatrixCase[] = [];
  const byKey = new Map<string, number>();
  const add = (p: PromptFile, vars: Variables): number => {
    const key = JSON.stringify([renderMessages(p, vars), vars]);
    const known = byKey.get(key);
    if (known !== undefined) return known;
    const index = cases.length;
    cases.push({ index, vars, prompt: p });
    byKey.set(key, index);
    return index;
  };
  const slots = prompt.probes.map((probe) => {
    const swapper = probe.kind === 'words' ? new WordSwapper(tableOf(probe)) : undefined;
    return testCases.map((c) => {
      const columns = probe.labels.map((_, k) => swapped(probe, prompt, swapper, c.vars, k));
      const reference = add(columns[0]!.prompt, columns[0]!.vars);
      return columns.map((col, k): ProbeSlot => {
        const matrixIndex = k === 0 ? reference : add(col.prompt, col.vars);
        return { matrixIndex, changed: matrixIndex !== reference };
      });
    });
  });
  return { cases, slots, testCases };
}
