import { isScalar, isSeq, isMap, type Node, type YAMLSeq } from 'yaml';
import { WORD_TABLES } from '../word-swaps';
import { describe, type Entry, type Reader } from '../yaml/reader';
import { didYouMean } from '../yaml/suggest';
import type { Probe, ProbeSwap } from './types';

/**
 * `probes:` (core/probes): a list of `{name, variable, values}` (a variable's values swapped in) or
 * `{name, words, labels?}` (a built-in word table by name, or rows of words, one per column). Every
 * mistake names the probe and the key.
 */
export function readProbes(r: Reader, e: Entry | undefined, variablesUsed: ReadonlySet<string>): Probe[] {
  if (!e) return [];
  const seq = r.seq(e, 'of probes, each {name, variable, values} or {name, words}');
  if (!seq) return [];
  const out: Probe[] = [];
  const names = new Set<string>();
  r.items(seq).forEach((item, i) => {
    if (!isMap(item)) {
      r.error(item ?? seq, 'type', `probe ${i} must be a mapping such as {name: names, variable: name, values: [James, Maria]}, got ${describe(item)}`);
      return;
    }
    const entries = r.entries(item, ['probes', i]);
    const nameEntry = entries.get('name');
    const name = nameEntry ? r.string(nameEntry) : undefined;
    if (!nameEntry) r.error(item, 'required', `probe ${i} has no name: add "name: ..." (the reports show it)`);
    else if (name === '') r.error(nameEntry.keyNode, 'required', `probe ${i} has an empty name`);
    if (name) {
      if (names.has(name)) r.warn(nameEntry!.keyNode, 'duplicate-name', `another probe is named "${name}": give each a distinct name`);
      names.add(name);
    }
    const variable = entries.get('variable');
    const words = entries.get('words');
    if (variable && words) {
      r.error(words.keyNode, 'evaluator-conflict', `probe ${i} has both "variable" and "words": a probe swaps one or the other`);
      return;
    }
    if (!variable && !words) {
      r.error(item, 'required', `probe ${i} swaps nothing: add "variable: NAME" with "values: [...]", or "words: pronouns" (or rows of words)`);
      return;
    }
    const labelsEntry = entries.get('labels');
    const probe = variable ? readVariableProbe(r, i, variable, entries.get('values'), item, variablesUsed) : readWordsProbe(r, i, words!, labelsEntry);
    if (variable && labelsEntry)
      r.warn(labelsEntry.keyNode, 'unknown-key', `probe ${i}: "labels" names word-table columns; a variable probe's columns are its values`);
    if (probe && name) out.push({ name, ...probe, span: r.spanOf(item) });
  });
  return out;
}

type ProbeBody = ProbeSwap;

/** A list of distinct texts, at least two. */
function readTexts(r: Reader, node: Node | null, what: string, at: Node): string[] | undefined {
  if (!isSeq(node)) {
    r.error(node ?? at, 'type', `${what} must be a list of at least two texts, got ${describe(node)}`);
    return undefined;
  }
  const texts: string[] = [];
  for (const x of r.items(node)) {
    if (!isScalar(x) || x.value === null || typeof x.value === 'object' || String(x.value) === '') {
      r.error(x ?? node, 'type', `${what}: each item must be a non-empty text, got ${describe(x)}`);
      return undefined;
    }
    const t = typeof x.value === 'string' ? x.value : (x.source ?? String(x.value));
    if (texts.includes(t)) r.warn(x, 'duplicate-name', `${what}: "${t}" is listed twice`);
    texts.push(t);
  }
  if (texts.length < 2) {
    r.error(node, 'range', `${what} must list at least two texts to swap between, got ${texts.length}`);
    return undefined;
  }
  return texts;
}

function readVariableProbe(
  r: Reader,
  i: number,
  e: Entry,
  valuesEntry: Entry | undefined,
  item: Node,
  variablesUsed: ReadonlySet<string>,
): ProbeBody | undefined {
  const variable = r.string(e);
  if (!variable) return undefined;
  if (!variablesUsed.has(variable)) {
    r.error(
      r.valueSpan(e),
      'missing-variable',
      `probe ${i} swaps "${variable}", which no message uses, so the swap would change nothing${didYouMean(variable, [...variablesUsed])}`,
    );
    return undefined;
  }
  if (!valuesEntry) {
    r.error(item, 'required', `probe ${i} swaps "${variable}" but has no values: add "values: [..., ...]" (at least two)`);
    return undefined;
  }
  const values = readTexts(r, valuesEntry.value, `probe ${i} "values"`, valuesEntry.keyNode);
  return values ? { kind: 'variable', variable, values, labels: values } : undefined;
}

function readWordsProbe(r: Reader, i: number, e: Entry, labelsEntry: Entry | undefined): ProbeBody | undefined {
  const v = e.value;
  if (isScalar(v) && typeof v.value === 'string') {
    const table = WORD_TABLES[v.value];
    if (!table) {
      r.error(
        r.valueSpan(e),
        'unknown-value',
        `probe ${i}: no word table "${v.value}" (built in: ${Object.keys(WORD_TABLES).join(', ')}); or write rows of words, e.g. [[husband, wife], [father, mother]]${didYouMean(v.value, Object.keys(WORD_TABLES))}`,
      );
      return undefined;
    }
    if (labelsEntry) r.warn(labelsEntry.keyNode, 'unknown-key', `probe ${i}: the ${v.value} table names its own columns (${table.labels.join(', ')})`);
    return { kind: 'words', table: v.value, rows: table.rows.map((x) => x.words), labels: table.labels };
  }
  if (!isSeq(v)) {
    r.error(
      r.valueSpan(e),
      'type',
      `probe ${i} "words" must be a table's name (${Object.keys(WORD_TABLES).join(', ')}) or a list of rows such as [husband, wife], got ${describe(v)}`,
    );
    return undefined;
  }
  const rows: string[][] = [];
  for (const [k, row] of r.items(v as YAMLSeq).entries()) {
    const words = readTexts(r, row, `probe ${i} words row ${k}`, e.keyNode);
    if (!words) return undefined;
    if (rows[0] && words.length !== rows[0].length) {
      r.error(row, 'range', `probe ${i} words row ${k} has ${words.length} words and row 0 has ${rows[0].length}: every row needs one word per column`);
      return undefined;
    }
    rows.push(words);
  }
  if (rows.length === 0) {
    r.error(r.valueSpan(e), 'range', `probe ${i} "words" lists no rows`);
    return undefined;
  }
  let labels = rows[0]!;
  if (labelsEntry) {
    const l = readTexts(r, labelsEntry.value, `probe ${i} "labels"`, labelsEntry.keyNode);
    if (l && l.length !== labels.length)
      r.error(labelsEntry.value ?? labelsEntry.keyNode, 'range', `probe ${i} has ${labels.length} columns and ${l.length} labels`);
    else if (l) labels = l;
  }
  return { kind: 'words', rows, labels };
}
