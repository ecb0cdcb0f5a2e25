import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Node,
  type Scalar,
  type YAMLError,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import type { Diagnostic, DiagnosticCode, Severity, Span } from './diagnostic';
import type { JsonValue } from './json';
import { type KeyPath, type KeyTable, keysAt } from './key-table';
import { didYouMean } from './suggest';

/** What to do about each kind of YAML syntax error; the parser's own message says what is wrong. */
const YAML_ADVICE: { readonly [code: string]: string } = {
  DUPLICATE_KEY: 'remove or rename one of the two',
  TAB_AS_INDENT: 'indent with spaces, not tabs',
  BAD_INDENT: 'check the indentation',
  MULTILINE_IMPLICIT_KEY: 'a key must fit on one line; check for a missing ":" or a missing quote above',
  MISSING_CHAR: 'add the missing character',
  BLOCK_AS_IMPLICIT_KEY: 'check the indentation and the ":" after the key above',
  UNEXPECTED_TOKEN: 'check the quoting and indentation here',
  MULTIPLE_DOCS: 'a prompt file holds one document: remove the "---" line',
};

/**
 * Parses YAML text for reading, reporting its syntax errors and warnings with advice. `root` is the
 * document's top node, absent when the YAML has errors (nothing more can be read then). `keys`, the
 * file kind's key table, is what `Reader.entries` checks keys against.
 */
export function readYaml(text: string, file: string, keys?: KeyTable): { readonly reader: Reader; readonly root?: Node | null } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, keepSourceTokens: false });
  const reader = new Reader(file, text, lineCounter, doc, keys);
  for (const e of doc.errors) reportYaml(reader, e, 'error');
  for (const w of doc.warnings) reportYaml(reader, w, 'warning');
  return doc.errors.length > 0 ? { reader } : { reader, root: doc.contents as Node | null };
}

/** A YAML syntax error or warning as a positioned diagnostic with advice. */
function reportYaml(r: Reader, e: YAMLError, severity: 'error' | 'warning'): void {
  const [start, end] = e.pos;
  // The parser notices a missing closing quote where the file ends; point at the opening quote,
  // which is where the mistake is.
  const quote = /Missing closing (["'])quote/.exec(e.message)?.[1];
  if (quote) {
    const open = openingQuote(r.source, quote, start);
    if (open >= 0) {
      r.report(r.span(open, open + 1), 'error', 'yaml-syntax', `this ${quote === '"' ? 'double' : 'single'} quote is never closed: add the closing ${quote}`);
      return;
    }
  }
  const advice = YAML_ADVICE[e.code];
  const message = e.message.replace(/\s+/g, ' ').trim();
  r.report(r.span(start, end), severity, severity === 'error' ? 'yaml-syntax' : 'yaml-warning', `${message}${advice ? `: ${advice}` : ''}`);
}

/** The last unescaped `quote` before `before` (a backslash escapes only inside double quotes). */
function openingQuote(text: string, quote: string, before: number): number {
  let i = text.lastIndexOf(quote, before - 1);
  while (i > 0 && quote === '"' && text[i - 1] === '\\') i = text.lastIndexOf(quote, i - 1);
  return i;
}

/** A key of a mapping with its value; `value` is null for `key:` with nothing after it. */
export interface Entry {
  readonly key: string;
  readonly keyNode: Node;
  readonly value: Node | null;
}

/** Rules for a number-valued key; `text` describes the allowed values for the message. */
export interface NumberRule {
  readonly integer?: boolean;
  readonly min?: number;
  readonly minExclusive?: boolean;
  readonly max?: number;
  readonly text: string;
}

/**
 * Reads a parsed YAML document and collects diagnostics. Every report names a node, so positions
 * come from the document's own ranges: the key for a misplaced or unknown key, the value for a
 * wrong value, and the key when the value is empty (an empty value has no width to point at).
 */
export class Reader {
  readonly diagnostics: Diagnostic[] = [];

  constructor(
    readonly file: string,
    readonly source: string,
    private readonly lineCounter: LineCounter,
    private readonly doc: Document,
    private readonly keys?: KeyTable,
  ) {}

  /** The diagnostics so far, by position. */
  sorted(): Diagnostic[] {
    return [...this.diagnostics].sort((a, b) => a.line - b.line || a.column - b.column);
  }

  span(start: number, end: number): Span {
    const a = this.lineCounter.linePos(start);
    const b = this.lineCounter.linePos(Math.max(start, end));
    return { start, end: Math.max(start, end), line: a.line, column: a.col, endLine: b.line, endColumn: b.col };
  }

  /** The span of a node (without trailing comments); the start of the file when it has none. */
  spanOf(node: Node | null | undefined): Span {
    const r = node?.range;
    return r ? this.span(r[0], r[1]) : this.span(0, 0);
  }

  /** Where to point for an entry's value: the value, or the key when the value is empty. */
  valueSpan(e: Entry): Span {
    const r = e.value?.range;
    return r && r[1] > r[0] ? this.span(r[0], r[1]) : this.spanOf(e.keyNode);
  }

  report(at: Span | Node | null | undefined, severity: Severity, code: DiagnosticCode, message: string): void {
    const s = at !== null && at !== undefined && 'line' in at ? at : this.spanOf(at);
    this.diagnostics.push({ file: this.file, line: s.line, column: s.column, endLine: s.endLine, endColumn: s.endColumn, severity, message, code });
  }

  error(at: Span | Node | null | undefined, code: DiagnosticCode, message: string): void {
    this.report(at, 'error', code, message);
  }

  warn(at: Span | Node | null | undefined, code: DiagnosticCode, message: string): void {
    this.report(at, 'warning', code, message);
  }

  /** Follows `*alias` references to the node they name. */
  deref(node: Node | null | undefined): Node | null {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return node;
  }

  /**
   * The entries of a mapping by key. With a place whose keys are known (the key table), unknown keys
   * are reported as warnings with a suggestion: GitHub ignores keys it does not know, so a typo
   * silently does nothing there, which is exactly what the warning is for.
   */
  entries(map: YAMLMap, place: KeyPath | undefined, reportUnknown = true): Map<string, Entry> {
    const out = new Map<string, Entry>();
    const known = place === undefined || this.keys === undefined ? undefined : keysAt(this.keys, place);
    for (const pair of map.items) {
      const keyNode = this.deref(pair.key as Node | null);
      if (!isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === 'object') {
        this.error(keyNode ?? map, 'type', 'a key must be a plain name: write it as `name: value`');
        continue;
      }
      const key = String(keyNode.value);
      out.set(key, { key, keyNode, value: this.deref(pair.value as Node | null) });
      if (reportUnknown && known !== undefined && !known.includes(key)) this.unknownKey(keyNode, key, known, place ?? []);
    }
    return out;
  }

  unknownKey(keyNode: Node, key: string, known: readonly string[], place: KeyPath): void {
    const where = place.length === 0 ? 'at the top level' : `in ${describePlace(place)}`;
    this.warn(keyNode, 'unknown-key', `unknown key "${key}" ${where}; it is ignored${didYouMean(key, known)}`);
  }

  /**
   * The value as plain JSON data (aliases resolved). An alias that expands past yaml's limit (an
   * "alias bomb": a few lines that would expand to millions of values) is an error at the value.
   */
  js(node: Node | null): JsonValue {
    if (node === null) return null;
    try {
      return toJson(node.toJS(this.doc));
    } catch (e) {
      if (!/alias/i.test((e as Error).message)) throw e;
      this.error(node, 'type', 'this value expands too many aliases (*name), so it is not read: write the values out, or use fewer nested aliases');
      return null;
    }
  }

  /**
   * A text value. Numbers and booleans count as the text they are written as (`name: 2024`,
   * `contains: 42`), as GitHub's YAML decoder reads them into its string fields; mappings, lists
   * and empty values are wrong types.
   */
  string(e: Entry, what = `"${e.key}"`): string | undefined {
    const v = e.value;
    if (isScalar(v) && typeof v.value === 'string') return v.value;
    if (isScalar(v) && (typeof v.value === 'number' || typeof v.value === 'boolean')) return v.source ?? String(v.value);
    this.error(this.valueSpan(e), 'type', `${what} must be text, got ${describe(v)}`);
    return undefined;
  }

  number(e: Entry, rule: NumberRule): number | undefined {
    const v = e.value;
    if (!isScalar(v) || typeof v.value !== 'number') {
      const quoted = isScalar(v) && typeof v.value === 'string' && v.value.trim() !== '' && Number.isFinite(Number(v.value));
      this.error(this.valueSpan(e), 'type', `"${e.key}" must be ${rule.text}, got ${describe(v)}${quoted ? ' (remove the quotes)' : ''}`);
      return undefined;
    }
    const n = v.value;
    const bad =
      !Number.isFinite(n) ||
      (rule.integer === true && !Number.isInteger(n)) ||
      (rule.min !== undefined && (rule.minExclusive === true ? n <= rule.min : n < rule.min)) ||
      (rule.max !== undefined && n > rule.max);
    if (bad) {
      this.error(this.valueSpan(e), rule.integer === true && !Number.isInteger(n) ? 'type' : 'range', `"${e.key}" must be ${rule.text}, got ${n}`);
      return undefined;
    }
    return n;
  }

  boolean(e: Entry): boolean | undefined {
    const v = e.value;
    if (isScalar(v) && typeof v.value === 'boolean') return v.value;
    this.error(this.valueSpan(e), 'type', `"${e.key}" must be true or false, got ${describe(v)}`);
    return undefined;
  }

  map(e: Entry, what: string): YAMLMap | undefined {
    if (isMap(e.value)) return e.value;
    this.error(this.valueSpan(e), 'type', `"${e.key}" must be a mapping (${what}), got ${describe(e.value)}`);
    return undefined;
  }

  seq(e: Entry, what: string): YAMLSeq | undefined {
    if (isSeq(e.value)) return e.value;
    this.error(this.valueSpan(e), 'type', `"${e.key}" must be a list (${what}), got ${describe(e.value)}`);
    return undefined;
  }

  /** The items of a list with aliases resolved. */
  items(seq: YAMLSeq): (Node | null)[] {
    return seq.items.map((i) => this.deref(i as Node | null));
  }

  /** The span of the literal text `needle` (its nth occurrence) inside a node's source, else the node's. */
  locate(node: Node, needle: string, nth = 0): Span {
    const r = node.range;
    if (!r) return this.spanOf(node);
    let at = r[0] - 1;
    for (let i = 0; i <= nth; i++) {
      at = this.source.indexOf(needle, at + 1);
      if (at < 0 || at + needle.length > r[1]) return this.spanOf(node);
    }
    return this.span(at, at + needle.length);
  }
}

/** `evaluators[2].string` for messages. */
export function describePlace(place: KeyPath): string {
  let out = '';
  for (const p of place) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return `"${out}"`;
}

/** How a value reads in a message: `the text "hot"`, `the number 3`, `a list`, `nothing`. */
export function describe(node: Node | null | undefined): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return describeScalar(node);
  return 'an alias';
}

function describeScalar(s: Scalar): string {
  const v = s.value;
  if (v === null) return 'nothing';
  if (typeof v === 'string') return `the text "${v.length > 40 ? `${v.slice(0, 37)}...` : v}"`;
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return String(v);
  return 'a value of another kind';
}

/** Plain JSON from what yaml's toJS gives (objects, arrays, scalars; anything else as text). */
export function toJson(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(toJson);
  if (v instanceof Map) return Object.fromEntries([...v.entries()].map(([k, x]) => [String(k), toJson(x)]));
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]));
  }
  return String(v);
}
