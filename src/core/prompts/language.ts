import * as fs from 'node:fs';
import * as path from 'node:path';
import { locateModel, modelNotFound } from '../models/resolve';
import { hostedModel } from './hosted';
import { parsePrompt } from './parse';
import { type PathCheckOptions, promptPathRuleProblems } from './check';
import { positionInfo, type PositionInfo } from './position';
import { renderMessages, type ChatMessage } from './render';
import { GITHUB_JUDGES, KEY_DOCS, placeOf, valuesAt, type KeyPath } from './schema';
import { placeholders, valueText } from './template';
import {
  RESPONSE_FORMATS,
  ROLES,
  STRING_CHECKS,
  type Diagnostic,
  type JsonObject,
  type JsonValue,
  type ParseResult,
  type PromptFile,
  type TestValue,
} from './types';
import { templateVariables, testVariables, valuesOf } from './variables';

/**
 * Editor features for prompt files with no editor in sight: completion, hover, CodeLens positions,
 * live diagnostics, the JSON Schema of the format and the text of the rendered-prompt preview.
 * Plain data in (the document's text and an offset), plain data out (offsets, Markdown, snippet
 * text), so that the VS Code side is a thin translation and the tests call these directly.
 *
 * Offsets are 0-based UTF-16 indices, as `document.offsetAt` gives them.
 *
 * The key/value machinery is generic over a Vocabulary (keys, docs, value shapes) so that adapter
 * recipes (src/core/recipes/language.ts) reuse it with their own tables.
 */

// ---------------------------------------------------------------------------------------------
// Results

export interface TextRange {
  readonly start: number;
  readonly end: number;
}

export type CompletionKind = 'variable' | 'key' | 'value';

export interface CompletionEntry {
  readonly label: string;
  readonly kind: CompletionKind;
  /** Snippet syntax (`$0`, `${1|a,b|}`, `\t` for one indentation step); plain text is escaped. */
  readonly snippet: string;
  /** The text the entry replaces; it always contains the offset asked about. */
  readonly range: TextRange;
  /** One line beside the label. */
  readonly detail?: string;
  /** Markdown. */
  readonly documentation?: string;
  /** Orders the list (editors sort by label otherwise). */
  readonly sortText?: string;
  /** Ask for completion again after inserting (a new list item wants its keys offered). */
  readonly retrigger?: boolean;
}

export interface HoverInfo {
  /** Markdown. */
  readonly markdown: string;
  readonly range: TextRange;
}

export type LensCommand = 'tuneloop.runPrompt' | 'tuneloop.comparePrompt' | 'tuneloop.previewPrompt' | 'tuneloop.trainAdapter';

export interface LensSpec {
  /** Where the lens sits: the start of the line it is shown above. */
  readonly offset: number;
  readonly title: string;
  readonly tooltip: string;
  readonly command: LensCommand;
}

// ---------------------------------------------------------------------------------------------
// Vocabulary: the keys of a YAML format, their docs and the shape of their values

/**
 * The value a key takes, as a JSON Schema fragment. `$place` marks a mapping whose keys are the
 * vocabulary's place of that name; the schema generator expands it, completion reads it to know
 * that the key opens a block.
 */
export type Shape = { readonly [keyword: string]: JsonValue };

type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array' | 'null';

/** Constructors for shapes: short to read in the tables below. */
export const shape = {
  text: (): Shape => ({ type: 'string' }),
  /** Text that may also be written as a number or boolean (the parser reads `name: 2024` as text). */
  scalar: (): Shape => ({ type: ['string', 'number', 'boolean'] }),
  choice: (values: readonly string[]): Shape => ({ type: 'string', enum: [...values] }),
  /** Text with suggested values that are not the only ones allowed. */
  suggested: (values: readonly string[]): Shape => ({ type: 'string', examples: [...values] }),
  bool: (): Shape => ({ type: 'boolean' }),
  int: (minimum: number, maximum?: number): Shape => ({ type: 'integer', minimum, ...(maximum !== undefined ? { maximum } : {}) }),
  number: (range: { readonly minimum?: number; readonly exclusiveMinimum?: number; readonly maximum?: number } = {}): Shape => ({ type: 'number', ...range }),
  /** A mapping with the keys of `place`; `alsoTypes` for values that may be written otherwise (`json: true`). */
  map: (place: string, alsoTypes: readonly JsonType[] = []): Shape => ({ $place: place, ...(alsoTypes.length > 0 ? { $alsoTypes: [...alsoTypes] } : {}) }),
  list: (items: Shape, extra: Shape = {}): Shape => ({ type: 'array', items, ...extra }),
  /** One text or a list of texts (`stop`, `target_modules`). */
  textOrList: (): Shape => ({ type: ['string', 'array'], items: { type: 'string' } }),
  /** Free-form values (test cases, JSON schemas). */
  any: (types: readonly JsonType[]): Shape => ({ type: types.length === 1 ? types[0]! : [...types] }),
} as const;

export interface Vocabulary {
  /** Keys by place (`''`, `modelParameters`, `evaluators[]`), each with one line of documentation. */
  readonly docs: { readonly [place: string]: { readonly [key: string]: string } };
  /** The shape of each key's value, by the same places and keys as `docs`. */
  readonly shapes: { readonly [place: string]: { readonly [key: string]: Shape } };
  /** Keys a mapping must have, by place. */
  readonly required: { readonly [place: string]: readonly string[] };
  /** Values offered for a key's value. */
  values(parent: KeyPath, key: string): readonly string[] | undefined;
}

/** The values a shape suggests: its enum, its examples, or true/false. */
export function shapeValues(s: Shape | undefined): readonly string[] | undefined {
  if (s === undefined) return undefined;
  const list = s['enum'] ?? s['examples'];
  if (Array.isArray(list)) return list.map(String);
  return s['type'] === 'boolean' ? ['true', 'false'] : undefined;
}

/** The vocabulary of prompt files: KEY_DOCS (schema.ts) for keys and docs, and the shapes below. */
const PROMPT_SHAPES: Vocabulary['shapes'] = {
  '': {
    name: shape.scalar(),
    description: shape.scalar(),
    model: shape.text(),
    modelParameters: shape.map('modelParameters'),
    responseFormat: shape.choice(RESPONSE_FORMATS),
    jsonSchema: shape.any(['object', 'string']),
    messages: shape.list(shape.map('messages[]'), { minItems: 1 }),
    testData: shape.list({ type: 'object', additionalProperties: true }),
    evaluators: shape.list(shape.map('evaluators[]')),
    adapters: shape.list(shape.map('adapters[]', ['string'])),
    minPassRate: shape.number({ minimum: 0, maximum: 1 }),
    snapshot: shape.text(),
  },
  modelParameters: {
    maxTokens: shape.int(1),
    temperature: shape.number({ minimum: 0, maximum: 2 }),
    topP: shape.number({ exclusiveMinimum: 0, maximum: 1 }),
    topK: shape.int(0),
    repetitionPenalty: shape.number({ exclusiveMinimum: 0 }),
    seed: shape.int(0, Number.MAX_SAFE_INTEGER),
    stop: shape.textOrList(),
  },
  'messages[]': {
    role: shape.choice(ROLES),
    content: shape.scalar(),
  },
  'evaluators[]': {
    name: shape.scalar(),
    string: shape.map('evaluators[].string'),
    uses: shape.suggested(GITHUB_JUDGES),
    llm: shape.map('evaluators[].llm'),
    regex: shape.text(),
    flags: { type: 'string', pattern: '^[imsu]*$' },
    json: shape.map('evaluators[].json', ['boolean']),
    maxLength: shape.int(0),
    not: shape.bool(),
  },
  'evaluators[].string': Object.fromEntries(STRING_CHECKS.map((c) => [c, shape.scalar()])),
  'evaluators[].json': {
    schema: shape.any(['object', 'string']),
  },
  'evaluators[].llm': {
    modelId: shape.text(),
    prompt: shape.scalar(),
    systemPrompt: shape.scalar(),
    choices: shape.list(shape.map('evaluators[].llm.choices[]')),
  },
  'evaluators[].llm.choices[]': {
    choice: shape.scalar(),
    score: shape.number(),
  },
  'adapters[]': {
    path: shape.text(),
    minPassRate: shape.number({ minimum: 0, maximum: 1 }),
  },
};

export const PROMPT_VOCABULARY: Vocabulary = {
  docs: KEY_DOCS,
  shapes: PROMPT_SHAPES,
  required: { '': ['messages'], 'messages[]': ['role', 'content'], 'adapters[]': ['path'], 'evaluators[].llm.choices[]': ['choice', 'score'] },
  values: valuesAt,
};

// ---------------------------------------------------------------------------------------------
// JSON Schema

export interface SchemaHeader {
  readonly id: string;
  readonly title: string;
  readonly description: string;
}

/**
 * The JSON Schema (draft-07, what the Red Hat YAML extension reads) of a vocabulary: every place
 * becomes an object schema whose properties are the place's keys, described by their docs. Unknown
 * keys are refused (`additionalProperties: false`), as the parser warns about them.
 */
export function jsonSchemaOf(v: Vocabulary, header: SchemaHeader): JsonObject {
  const expand = (s: Shape): JsonObject => {
    const out: { [k: string]: JsonValue } = {};
    for (const [k, x] of Object.entries(s)) {
      if (k === '$place' || k === '$alsoTypes') continue;
      out[k] = k === 'items' && isShape(x) ? expand(x) : x;
    }
    const place = s['$place'];
    if (typeof place !== 'string') return out;
    const also = Array.isArray(s['$alsoTypes']) ? s['$alsoTypes'] : [];
    const docs = v.docs[place] ?? {};
    const shapes = v.shapes[place] ?? {};
    const properties = Object.fromEntries(Object.entries(docs).map(([key, description]) => [key, { description, ...expand(shapes[key] ?? {}) }]));
    const required = v.required[place];
    return {
      type: also.length > 0 ? ['object', ...also] : 'object',
      properties,
      ...(required && required.length > 0 ? { required: [...required] } : {}),
      additionalProperties: false,
      ...out,
    };
  };
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: header.id,
    $comment:
      'Generated from the key tables in src/core (KEY_DOCS, RECIPE_KEYS) by jsonSchemaOf; test/unit/language-schema.test.ts checks it (UPDATE_SCHEMAS=1 rewrites it). Do not edit by hand.',
    title: header.title,
    description: header.description,
    ...expand(shape.map('')),
  };
}

function isShape(x: JsonValue | undefined): x is Shape {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function promptJsonSchema(): JsonObject {
  return jsonSchemaOf(PROMPT_VOCABULARY, {
    id: 'https://tuneloop.dev/schemas/prompt.schema.json',
    title: 'Tuneloop prompt file (*.prompt.yml)',
    description:
      'A prompt file in the GitHub Models format, with the optional Tuneloop keys (adapters, minPassRate, snapshot, more model parameters and evaluators).',
  });
}

// ---------------------------------------------------------------------------------------------
// Parsing once per text

/**
 * The last few parses, by text. Every feature of one document version (diagnostics, CodeLens,
 * hover, completion) asks about the same text, so one parse serves them all; the text is the key
 * because it is the only thing the result depends on.
 */
class ParseMemo<T> {
  private readonly entries: { text: string; value: T }[] = [];
  constructor(
    private readonly compute: (text: string) => T,
    private readonly size = 4,
  ) {}

  get(text: string): T {
    const i = this.entries.findIndex((e) => e.text === text);
    if (i >= 0) {
      const [hit] = this.entries.splice(i, 1);
      this.entries.unshift(hit!);
      return hit!.value;
    }
    const value = this.compute(text);
    this.entries.unshift({ text, value });
    this.entries.length = Math.min(this.entries.length, this.size);
    return value;
  }

  clear(): void {
    this.entries.length = 0;
  }
}

const prompts = new ParseMemo((text) => parsePrompt(text));

/** The parse of a prompt text, shared by all features: read it, never change it. */
export function analyzePrompt(text: string): ParseResult {
  return prompts.get(text);
}

/** Forget the memoised parses (benchmarks measure a cold start with it). */
export function clearLanguageCaches(): void {
  prompts.clear();
}

// ---------------------------------------------------------------------------------------------
// Diagnostics

/**
 * Live diagnostics: the parser's, plus adapters that do not exist next to the file (what
 * `tuneloop check` reports too). `file` undefined (an unsaved document) skips the file checks.
 */
export function promptDiagnostics(text: string, file?: string, exists: (p: string) => boolean = fs.existsSync, paths: PathCheckOptions = {}): Diagnostic[] {
  const { prompt, diagnostics } = analyzePrompt(text);
  const out = [...diagnostics];
  if (prompt && file !== undefined) {
    const rule = promptPathRuleProblems(file, prompt, paths);
    out.push(...rule);
    for (const a of prompt.adapters) {
      const resolved = path.resolve(path.dirname(file), a.path);
      if (exists(resolved) || !a.span || rule.some((d) => d.line === a.span!.line && d.column === a.span!.column)) continue;
      const s = a.span;
      out.push({
        file,
        line: s.line,
        column: s.column,
        endLine: s.endLine,
        endColumn: s.endColumn,
        severity: 'error',
        code: 'file',
        message: `adapter "${a.path}" not found (looked for ${resolved}): paths are relative to the prompt file`,
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Completion

/**
 * Completion at an offset. `trigger` is the character that opened the list, if one did: a space
 * only asks for something right after `key: ` or a list dash, so that spaces typed in indentation or
 * in prose open nothing.
 */
export function completionsAt(text: string, offset: number, trigger?: string): CompletionEntry[] {
  const info = positionInfo(text, offset);
  if (!triggerFits(text, offset, info, trigger)) return [];
  switch (info.kind) {
    case 'placeholder':
      return variableCompletions(text, offset, info);
    case 'key':
      return info.path[0] === 'testData' && info.path.length === 2 ? testKeyCompletions(text, offset, info) : keyCompletions(PROMPT_VOCABULARY, text, info);
    case 'value':
      return valueCompletions(PROMPT_VOCABULARY, info);
    case 'none':
      return [];
  }
}

/** Which position kinds each trigger character may open a list for. */
const TRIGGERS: { readonly [ch: string]: (text: string, offset: number, info: PositionInfo) => boolean } = {
  '{': (_t, _o, info) => info.kind === 'placeholder',
  ':': () => false,
  ' ': (text, offset, info) =>
    (info.kind === 'value' && info.prefix === '') || (info.kind === 'key' && /-\s$/.test(text.slice(Math.max(0, offset - 2), offset))),
};

export function triggerFits(text: string, offset: number, info: PositionInfo, trigger: string | undefined): boolean {
  const rule = trigger === undefined ? undefined : TRIGGERS[trigger];
  return rule === undefined ? true : rule(text, offset, info);
}

type Info<K extends PositionInfo['kind']> = Extract<PositionInfo, { kind: K }>;

/** A variable name offered inside `{{ }}`: how many test cases give it a value, of how many. */
interface VariableFacts {
  readonly name: string;
  readonly inCases: number;
  /** undefined: the test data is unknown (no testData key, or the file does not parse). */
  readonly cases: number | undefined;
}

function variableFacts(text: string, prompt: PromptFile | undefined, exclude: Info<'placeholder'>): VariableFacts[] {
  // The placeholder being typed is not a source of names, unless it is also written elsewhere.
  const written = placeholders(text).filter((p) => p.start !== exclude.start);
  const elsewhere = new Set(written.map((p) => p.name));
  const templateNames = prompt ? templateVariables(prompt).filter((n) => n !== exclude.variable || elsewhere.has(n)) : [...elsewhere];
  const testNames = prompt ? testVariables(prompt) : scanTestKeys(text);
  const cases = prompt ? prompt.testData?.length : undefined;
  const names = [...new Set([...testNames, ...templateNames])];
  return names.map((name) => ({
    name,
    inCases: prompt?.testData ? prompt.testData.filter((t) => Object.hasOwn(t.values, name)).length : testNames.includes(name) ? 1 : 0,
    cases,
  }));
}

function variableDetail(f: VariableFacts): string {
  if (f.cases === undefined) return f.inCases > 0 ? 'a test variable' : 'used by the templates; no test data';
  if (f.inCases === 0) return 'no test case gives it';
  return f.inCases === f.cases ? `given by all ${f.cases} test cases` : `given by ${f.inCases} of ${f.cases} test cases`;
}

function variableCompletions(text: string, offset: number, info: Info<'placeholder'>): CompletionEntry[] {
  const { prompt } = analyzePrompt(text);
  const inName = offset >= info.nameStart && offset <= info.nameEnd;
  const range = inName ? { start: info.nameStart, end: info.nameEnd } : { start: offset, end: offset };
  return variableFacts(text, prompt, info).map((f) => {
    const everywhere = f.cases !== undefined && f.inCases === f.cases;
    return {
      label: f.name,
      kind: 'variable' as const,
      snippet: escapeSnippet(f.name) + (info.closed ? '' : '}}'),
      range,
      detail: variableDetail(f),
      ...(prompt ? { documentation: valuesMarkdown(prompt, f.name, 5) } : {}),
      sortText: `${everywhere ? 0 : f.inCases > 0 ? 1 : 2}${f.name}`,
    };
  });
}

/** Keys of a test case: the template variables this case gives no value yet. */
function testKeyCompletions(text: string, offset: number, info: Info<'key'>): CompletionEntry[] {
  const { prompt } = analyzePrompt(text);
  const names = prompt ? templateVariables(prompt) : [...new Set(placeholders(text).map((p) => p.name))];
  const present = siblingKeys(text, info.start);
  const colonFollows = /^\s*:/.test(text.slice(info.end));
  return names
    .filter((n) => !present.has(n) || n === info.key)
    .map((name) => ({
      label: name,
      kind: 'key' as const,
      snippet: colonFollows ? escapeSnippet(name) : `${escapeSnippet(name)}: $0`,
      range: { start: info.start, end: Math.max(info.end, offset) },
      detail: 'a variable the templates use',
      documentation: `Gives \`{{${name}}}\` its value in this test case.`,
    }));
}

/** Keys allowed at the position and not yet written in the same mapping, with their docs. */
export function keyCompletions(v: Vocabulary, text: string, info: Info<'key'>): CompletionEntry[] {
  const place = placeOf(info.path);
  const docs = v.docs[place];
  if (docs === undefined) return [];
  const present = siblingKeys(text, info.start);
  const colonFollows = /^\s*:/.test(text.slice(info.end));
  return Object.entries(docs)
    .filter(([key]) => !present.has(key) || key === info.key)
    .map(([key, doc], i) => {
      const s = v.shapes[place]?.[key];
      const opens = colonFollows ? undefined : blockKind(s);
      return {
        label: key,
        kind: 'key' as const,
        snippet: colonFollows ? escapeSnippet(key) : keySnippet(key, s, v.values(info.path, key)),
        range: { start: info.start, end: info.end },
        ...optional('detail', describeShape(v, s)),
        documentation: doc,
        // The table's order is the documented order (name, description, model, ...): keep it.
        sortText: String(i).padStart(3, '0'),
        ...(opens === 'list' ? { retrigger: true } : {}),
      };
    });
}

export function valueCompletions(v: Vocabulary, info: Info<'value'>): CompletionEntry[] {
  const values = v.values(info.path, info.key);
  if (values === undefined) return [];
  const doc = v.docs[placeOf(info.path)]?.[info.key];
  return values.map((value, i) => ({
    label: value,
    kind: 'value' as const,
    snippet: escapeSnippet(value),
    range: { start: info.start, end: info.end },
    ...optional('documentation', doc),
    sortText: String(i).padStart(3, '0'),
  }));
}

function blockKind(s: Shape | undefined): 'map' | 'list' | undefined {
  if (s === undefined) return undefined;
  if (typeof s['$place'] === 'string' && s['$alsoTypes'] === undefined) return 'map';
  if (s['type'] === 'array') return 'list';
  return undefined;
}

/** `key: ` and what follows: a block for mappings and lists, a choice for enumerated values. */
function keySnippet(key: string, s: Shape | undefined, values: readonly string[] | undefined): string {
  const k = escapeSnippet(key);
  const block = blockKind(s);
  if (block === 'map') return `${k}:\n\t$0`;
  if (block === 'list') return `${k}:\n\t- $0`;
  if (values !== undefined && values.length > 0) return `${k}: \${1|${values.map(escapeChoice).join(',')}|}`;
  return `${k}: $0`;
}

/** How JSON Schema types read in the detail column (a scalar written as text counts as text). */
const TYPE_WORDS: { readonly [types: string]: string } = {
  string: 'text',
  'string,number,boolean': 'text',
  'string,array': 'text or list of texts',
  'object,string': 'mapping or JSON text',
  'object,boolean': 'true or mapping',
  'object,string,boolean': 'mapping or text',
  array: 'list',
};

/** One line about a shape, for the detail column: `integer ≥ 1`, `system | user | assistant`. */
function describeShape(v: Vocabulary, s: Shape | undefined): string | undefined {
  if (s === undefined) return undefined;
  const place = s['$place'];
  if (typeof place === 'string') {
    const also = Array.isArray(s['$alsoTypes']) ? s['$alsoTypes'] : [];
    const keys = Object.keys(v.docs[place] ?? {}).join(', ');
    return also.length > 0 ? `${also.join(' or ')}, or a mapping: ${keys}` : `mapping: ${keys}`;
  }
  const en = s['enum'];
  if (Array.isArray(en)) return en.join(' | ');
  const items = s['items'];
  if (s['type'] === 'array' && isShape(items) && typeof items['$place'] === 'string')
    return `list of mappings: ${Object.keys(v.docs[items['$place']] ?? {}).join(', ')}`;
  const type = s['type'];
  const types = Array.isArray(type) ? type.join(',') : String(type ?? '');
  const word = TYPE_WORDS[types] ?? types;
  const lo = s['exclusiveMinimum'] ?? s['minimum'];
  const hi = s['maximum'] === Number.MAX_SAFE_INTEGER ? undefined : s['maximum'];
  if (typeof lo === 'number' && typeof hi === 'number') return `${word}, ${s['exclusiveMinimum'] !== undefined ? `> ${lo} and ≤ ${hi}` : `${lo} to ${hi}`}`;
  if (typeof lo === 'number') return `${word} ${s['exclusiveMinimum'] !== undefined ? '>' : '≥'} ${lo}`;
  return word || undefined;
}

/**
 * The keys already written in the mapping that holds a key starting at `keyStart`: the lines above
 * and below whose key starts in the same column, up to the lines that close the mapping (less
 * indentation, or a list dash opening the next item). Read from lines, like positionInfo, because
 * the text being completed is often not valid YAML.
 */
export function siblingKeys(text: string, keyStart: number): Set<string> {
  const lineStart = text.lastIndexOf('\n', keyStart - 1) + 1;
  const col = keyStart - lineStart;
  const lines = text.split('\n');
  const here = text.slice(0, lineStart).split('\n').length - 1;
  const out = new Set<string>();
  // A key right after a list dash starts its item: the lines above belong to the item before.
  const startsItem = /-\s+$/.test(text.slice(lineStart, keyStart));
  const visit = (i: number, upwards: boolean): boolean => {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '' || line.trim().startsWith('#')) return true;
    const m = /^(\s*)((?:-\s+)*)(?:(?:"([^"]*)"|'([^']*)'|([^\s:#"'{[][^:#]*?))\s*:(?:\s|$))?/.exec(line)!;
    const indent = m[1]!.length;
    const keyCol = indent + m[2]!.length;
    const key = m[3] ?? m[4] ?? m[5];
    const dashed = m[2]!.length > 0;
    if (keyCol === col && key !== undefined) {
      // Going down, a dash before a key at our column starts the next item of the list.
      if (dashed && !upwards) return false;
      out.add(key);
      return !dashed; // going up, the dash is where our item begins
    }
    return indent >= col;
  };
  if (!startsItem) for (let i = here - 1; i >= 0 && visit(i, true); i--);
  for (let i = here + 1; i < lines.length && visit(i, false); i++);
  return out;
}

/** Test variable names read from lines, for when the file is not valid YAML while it is typed. */
export function scanTestKeys(text: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^testData\s*:\s*(#.*)?$/.test(l.replace(/\r$/, '')));
  if (start < 0) return [];
  const out = new Set<string>();
  let keyCol: number | undefined;
  for (const raw of lines.slice(start + 1)) {
    const line = raw.replace(/\r$/, '');
    if (/^[^\s#-]/.test(line)) break; // the next top-level key
    const m = /^(\s*)((?:-\s+)?)([^\s:#"'{[-][^:#]*?)\s*:(\s|$)/.exec(line);
    if (!m) continue;
    const col = m[1]!.length + m[2]!.length;
    if (keyCol === undefined && m[2] !== '') keyCol = col;
    if (col === keyCol) out.add(m[3]!);
  }
  return [...out];
}

// ---------------------------------------------------------------------------------------------
// Hover

export function hoverAt(text: string, offset: number): HoverInfo | undefined {
  const info = positionInfo(text, offset);
  switch (info.kind) {
    case 'placeholder': {
      if (!info.closed || info.variable === '') return undefined;
      const { prompt } = analyzePrompt(text);
      const body = prompt ? valuesMarkdown(prompt, info.variable) : 'The file does not parse yet, so its test values are unknown.';
      return { markdown: `**\`{{${info.variable}}}\`**\n\n${body}`, range: { start: info.start, end: info.end } };
    }
    case 'key': {
      if (info.key === '') return undefined;
      if (info.path[0] === 'testData' && info.path.length === 2) return testKeyHover(text, info);
      return keyHover(PROMPT_VOCABULARY, info);
    }
    case 'value':
      return valueHover(PROMPT_VOCABULARY, info);
    case 'none':
      return undefined;
  }
}

export function keyHover(v: Vocabulary, info: Info<'key'>): HoverInfo | undefined {
  const doc = v.docs[placeOf(info.path)]?.[info.key];
  if (doc === undefined) return undefined;
  const detail = describeShape(v, v.shapes[placeOf(info.path)]?.[info.key]);
  return { markdown: `**${info.key}**${detail ? ` (${detail})` : ''}\n\n${doc}`, range: { start: info.start, end: info.end } };
}

/** On an enumerated value: what the key means and the values it takes. */
export function valueHover(v: Vocabulary, info: Info<'value'>): HoverInfo | undefined {
  const values = v.values(info.path, info.key);
  const doc = v.docs[placeOf(info.path)]?.[info.key];
  if (values === undefined || doc === undefined || info.end <= info.start) return undefined;
  return { markdown: `**${info.key}**: ${values.map((x) => `\`${x}\``).join(', ')}\n\n${doc}`, range: { start: info.start, end: info.end } };
}

function testKeyHover(text: string, info: Info<'key'>): HoverInfo | undefined {
  const { prompt } = analyzePrompt(text);
  if (!prompt) return undefined;
  const used = templateVariables(prompt).includes(info.key);
  const conventional = info.key === 'expected' ? ' By convention, the expected answer (hosted judges compare against it).' : '';
  const markdown = used
    ? `**${info.key}**: a test variable, written as \`{{${info.key}}}\` in the prompt.${conventional}`
    : `**${info.key}**: a test value that no message or evaluator uses.${conventional}`;
  return { markdown, range: { start: info.start, end: info.end } };
}

/** A variable's value in each test case, as a Markdown list; `limit` cuts long lists. */
export function valuesMarkdown(prompt: PromptFile, name: string, limit = 20): string {
  const cases = prompt.testData;
  if (cases === undefined) return 'The file has no test data: the value is asked for when the prompt runs.';
  const values = valuesOf(prompt, name);
  if (values.length === 0) return 'The test data is empty.';
  const missing = values.filter((c) => c.value === undefined).length;
  const head =
    missing === 0
      ? `Given by all ${values.length} test cases:`
      : missing === values.length
        ? `**No test case gives a value**: the model would see \`{{${name}}}\` as written.`
        : `**Missing in ${missing} of ${values.length} test cases**, where the model would see \`{{${name}}}\` as written:`;
  if (missing === values.length) return head;
  const lines = values.slice(0, limit).map((c) => {
    const line = cases[c.caseIndex]?.span?.line;
    const where = `${c.caseIndex + 1}${line !== undefined ? ` (line ${line})` : ''}`;
    return c.value === undefined ? `- case ${where}: ⚠ *missing*` : `- case ${where}: ${inlineCode(clip(valueText(c.value)))}`;
  });
  if (values.length > limit) lines.push(`- … and ${values.length - limit} more`);
  return `${head}\n\n${lines.join('\n')}`;
}

// ---------------------------------------------------------------------------------------------
// CodeLens

/** The lenses shown above a prompt file: Run, Compare and Preview, with counts from the file when it parses. */
export function codeLensesFor(text: string): LensSpec[] {
  const { prompt } = analyzePrompt(text);
  const cases = prompt?.testData?.length;
  const adapters = prompt?.adapters.length ?? 0;
  const caseText = cases === undefined ? '' : ` (${cases} test case${cases === 1 ? '' : 's'})`;
  const offset = firstContentLine(text);
  return [
    { offset, command: 'tuneloop.runPrompt', title: '$(play) Run', tooltip: `Run the prompt on the model${caseText}` },
    {
      offset,
      command: 'tuneloop.comparePrompt',
      title: '$(split-horizontal) Compare',
      tooltip: adapters > 0 ? `Compare the base model with ${adapters} adapter${adapters === 1 ? '' : 's'}${caseText}` : `Compare base and adapters${caseText}`,
    },
    {
      offset,
      command: 'tuneloop.previewPrompt',
      title: '$(open-preview) Preview',
      tooltip: 'Preview the rendered prompt: the text the model sees, and its token count',
    },
  ];
}

/**
 * The start of the first line that holds YAML (not blank, not a comment): a file's leading comment
 * stays at the very top, and the lenses sit right above the prompt itself. 0 for a file of comments.
 */
export function firstContentLine(text: string): number {
  let offset = 0;
  for (const line of text.split('\n')) {
    if (!/^\s*(#.*)?$/.test(line)) return offset;
    offset += line.length + 1;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Preview of the rendered prompt

/** Where the preview's tokenizer comes from, or why there is none. */
export type PreviewModel =
  | { readonly kind: 'model'; readonly dir: string; readonly from: 'prompt' | 'setting'; readonly label: string }
  | { readonly kind: 'none'; readonly reason: string };

export interface PreviewModelInput {
  /** The prompt's `model` key, as written. */
  readonly promptModel: string | undefined;
  readonly promptFile: string | undefined;
  /** The `tuneloop.defaultModel` setting ('' when unset). */
  readonly setting: string;
  /** The folder the setting is relative to (the first workspace folder). */
  readonly settingBase: string | undefined;
  /** A Hub id's snapshot in the local Hugging Face cache, if it was downloaded (never downloads). */
  readonly cachedHubModel: (id: string) => string | undefined;
  readonly isDirectory: (p: string) => boolean;
}

// Where a model id points, and the note when it points nowhere: one rule for every caller, in models/resolve.ts.
export { locateModel, modelNotFound };

/**
 * The model whose chat template the preview uses: the prompt's own `model` when it names a local
 * folder (relative to the prompt file) or a Hub model already downloaded, else the
 * `tuneloop.defaultModel` setting likewise; hosted GitHub Models ids never count, as a run would
 * not use them either.
 */
export function resolvePreviewModel(input: PreviewModelInput): PreviewModel {
  const notes: string[] = [];
  const tryId = (id: string, base: string | undefined, from: 'prompt' | 'setting'): PreviewModel | undefined => {
    const found = locateModel(id, base, input);
    if (found) return { kind: 'model', dir: found.dir, from, label: id };
    notes.push(modelNotFound(id, from));
    return undefined;
  };
  const pm = input.promptModel?.trim();
  if (pm && hostedModel(pm) === undefined) {
    const found = tryId(pm, input.promptFile === undefined ? undefined : path.dirname(input.promptFile), 'prompt');
    if (found) return found;
  }
  const setting = input.setting.trim();
  if (setting !== '') {
    const found = tryId(setting, input.settingBase, 'setting');
    if (found) return found;
  }
  const why = notes.length > 0 ? `${notes.join('; ')}.` : 'No model is configured.';
  return {
    kind: 'none',
    reason: `${why} Set tuneloop.defaultModel to a local model folder (or give the prompt a "model:" that is one) to see the text through its chat template and the token count.`,
  };
}

/** One test case of the preview: the messages with the test values substituted. */
export interface PreviewCase {
  readonly title: string;
  readonly messages: readonly ChatMessage[];
  /** Placeholders left as written, for want of a value. */
  readonly missing: readonly string[];
}

/** The cases the preview shows: one per test case, or one with no values when there is no test data. */
export function previewCases(prompt: PromptFile): PreviewCase[] {
  const data = prompt.testData ?? [];
  const cases: { title: string; values: { readonly [name: string]: TestValue } }[] =
    data.length === 0
      ? [{ title: 'No test data: placeholders are shown as written', values: {} }]
      : data.map((t, i) => ({ title: `Test case ${i + 1} of ${data.length}${t.span ? ` (line ${t.span.line})` : ''}`, values: t.values }));
  const names = templateVariables({ messages: prompt.messages, evaluators: [] });
  return cases.map((c) => ({
    title: c.title,
    messages: renderMessages(prompt, c.values),
    missing: names.filter((n) => !Object.hasOwn(c.values, n)),
  }));
}

/** What the worker's tokenizer made of one case. */
export type RenderedCase = { readonly text: string; readonly tokenCount: number } | { readonly error: string };

export interface PreviewInput {
  readonly file: string;
  readonly parse: ParseResult;
  readonly model: PreviewModel;
  /** Per case, in order, when a model was used; `template` says whether it had a chat template. */
  readonly rendered?: { readonly template: 'model' | 'plain'; readonly cases: readonly RenderedCase[] } | { readonly error: string };
}

/** The preview as Markdown: the rendered messages of each case, the exact model text and its token count. */
export function formatPreview(input: PreviewInput): string {
  const out: string[] = [`# Preview: ${path.basename(input.file)}`, ''];
  const errors = input.parse.diagnostics.filter((d) => d.severity === 'error');
  const prompt = input.parse.prompt;
  if (!prompt || prompt.messages.length === 0) {
    out.push('The prompt cannot be rendered yet: fix these errors first (they are in the Problems panel too).', '');
    for (const d of errors.slice(0, 10)) out.push(`- line ${d.line}: ${d.message}`);
    return `${out.join('\n')}\n`;
  }
  if (errors.length > 0)
    out.push(`> ${errors.length} error${errors.length === 1 ? '' : 's'} in the file (see the Problems panel); the preview shows what can be rendered.`, '');
  const m = input.model;
  if (m.kind === 'none') out.push(`> ${m.reason}`, '> Showing the rendered messages only.', '');
  else {
    const r = input.rendered;
    const how = r && 'template' in r ? (r.template === 'model' ? 'through its chat template' : 'as plain text (the tokenizer has no chat template)') : '';
    out.push(`Model: \`${m.dir}\` (${m.from === 'prompt' ? "the prompt's `model`" : 'setting `tuneloop.defaultModel`'})${how ? `, ${how}` : ''}.`, '');
    if (r && 'error' in r) out.push(`> The tokenizer could not render the prompt: ${r.error}`, '');
  }
  const cases = previewCases(prompt);
  cases.forEach((c, i) => {
    const r = input.rendered && 'cases' in input.rendered ? input.rendered.cases[i] : undefined;
    const tokens = r && 'tokenCount' in r ? ` · ${r.tokenCount} tokens` : '';
    out.push(`## ${c.title}${tokens}`, '');
    if (c.missing.length > 0)
      out.push(
        `> No value for ${c.missing.map((n) => `\`{{${n}}}\``).join(', ')}: the model would see ${c.missing.length === 1 ? 'it' : 'them'} as written.`,
        '',
      );
    for (const msg of c.messages) out.push(`**${msg.role}**`, '', fenced(msg.content), '');
    if (r && 'text' in r) out.push(`What the model sees (${r.tokenCount} tokens):`, '', fenced(r.text), '');
    else if (r && 'error' in r) out.push(`> ${r.error}`, '');
  });
  return `${out.join('\n')}`;
}

// ---------------------------------------------------------------------------------------------
// Text helpers

/** `{ key: value }` when the value is defined, else nothing (for optional properties). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** Snippet syntax treats `$`, `}` and `\` specially. */
export function escapeSnippet(s: string): string {
  return s.replace(/[\\$}]/g, (c) => `\\${c}`);
}

/** Inside a snippet choice, `,` and `|` are special too. */
function escapeChoice(s: string): string {
  return s.replace(/[\\$}|,]/g, (c) => `\\${c}`);
}

function clip(s: string, max = 80): string {
  const one = s.replace(/\r?\n/g, '⏎');
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** Markdown inline code that survives backticks in the text. */
function inlineCode(s: string): string {
  if (s === '') return '*(empty)*';
  const longest = Math.max(0, ...[...s.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${s}${pad}${fence}`;
}

/** A fenced code block whose fence is longer than any backtick run in the text. */
function fenced(s: string): string {
  const longest = Math.max(2, ...[...s.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}text\n${s}\n${fence}`;
}
