import { isMap, isScalar, type Node } from 'yaml';
import { checkSchema, isJsonObject, unwrapSchema } from './json-schema';
import { numberRule } from '../yaml/key-table';
import { GITHUB_JUDGES, type KeyPath, keysAt, PROMPT_KEYS } from './key-table';
import { describe, type Entry, type Reader } from '../yaml/reader';
import { didYouMean, quotedList } from '../yaml/suggest';
import {
  STRING_CHECKS,
  type Evaluator,
  type EvaluatorCheck,
  type EvaluatorKind,
  type JsonObject,
  type JsonValue,
  type LlmJudge,
  type StringCheck,
} from './types';

/** A template in the file, kept for the variable checks once all of the file has been read. */
export interface TemplateSite {
  readonly template: string;
  readonly node: Node;
  /**
   * `value`: its placeholders need a value in every test case (messages, string checks).
   * `judge`: a hosted judge's prompt; it counts as using variables but is never rendered here.
   */
  readonly use: 'value' | 'judge';
}

export interface EvaluatorContext {
  readonly r: Reader;
  /** The file's jsonSchema (unwrapped), for `json: true`. */
  readonly jsonSchema: JsonObject | undefined;
  readonly sites: TemplateSite[];
}

/** `place` is the evaluator's key path (`['evaluators', 2]`), for messages about keys inside it. */
type KindParser<K extends EvaluatorKind> = (
  cx: EvaluatorContext,
  e: Entry,
  entries: ReadonlyMap<string, Entry>,
  name: string,
  place: KeyPath,
) => Extract<EvaluatorCheck, { kind: K }> | undefined;

/** JavaScript regex flags that keep `test()` stateless (g and y would make it remember lastIndex). */
const REGEX_FLAGS = 'imsu';

/** One parser per evaluator kind; the keys are the YAML keys that select the kind. */
const KIND_PARSERS: { readonly [K in EvaluatorKind]: KindParser<K> } = {
  string(cx, e, _entries, _name, place) {
    const { r } = cx;
    const map = r.map(e, 'one of equals, contains, startsWith, endsWith');
    if (!map) return undefined;
    const entries = r.entries(map, undefined);
    const checks = [...entries.values()].filter((x) => (STRING_CHECKS as readonly string[]).includes(x.key));
    const others = [...entries.values()].filter((x) => !(STRING_CHECKS as readonly string[]).includes(x.key));
    if (checks.length === 0) {
      const first = others[0];
      const hint = first ? didYouMean(first.key, STRING_CHECKS) : '';
      r.error(
        first ? first.keyNode : e.keyNode,
        'string-check',
        `${first ? `"${first.key}" is not a string check` : 'the string evaluator has no check'}: use one of ${quotedList(STRING_CHECKS)}${hint}`,
      );
      return undefined;
    }
    for (const o of others) r.unknownKey(o.keyNode, o.key, STRING_CHECKS, [...place, 'string']);
    // GitHub runs the first check present in this order and ignores the rest; so does Tuneloop.
    const ordered = [...checks].sort((a, b) => STRING_CHECKS.indexOf(a.key as StringCheck) - STRING_CHECKS.indexOf(b.key as StringCheck));
    const used = ordered[0]!;
    for (const extra of ordered.slice(1)) {
      r.warn(
        extra.keyNode,
        'evaluator-conflict',
        `only "${used.key}" is checked (a string evaluator runs one check, the first of ${STRING_CHECKS.join(', ')}): move "${extra.key}" to an evaluator of its own`,
      );
    }
    const value = r.string(used, `"${used.key}"`);
    if (value === undefined) return undefined;
    if (value === '') {
      r.error(r.valueSpan(used), 'string-check', `"${used.key}" is empty, which GitHub rejects: give the text to look for`);
      return undefined;
    }
    if (used.value) cx.sites.push({ template: value, node: used.value, use: 'value' });
    return { kind: 'string', check: used.key as StringCheck, value };
  },

  regex(cx, e, entries) {
    const { r } = cx;
    const pattern = r.string(e, 'the regex');
    if (pattern === undefined) return undefined;
    const flagsEntry = entries.get('flags');
    const flags = flagsEntry ? (r.string(flagsEntry) ?? '') : '';
    if (flagsEntry && ([...flags].some((f) => !REGEX_FLAGS.includes(f)) || new Set(flags).size !== flags.length)) {
      r.error(r.valueSpan(flagsEntry), 'regex', `invalid regex flags "${flags}": use any of ${REGEX_FLAGS.split('').join(', ')}, each once`);
      return undefined;
    }
    try {
      new RegExp(pattern, flags);
    } catch (err) {
      r.error(
        r.valueSpan(e),
        'regex',
        `the regex does not compile: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}; fix the pattern (JavaScript syntax; in YAML, single quotes keep backslashes as they are)`,
      );
      return undefined;
    }
    // Not a template: braces are regex syntax, and a variable's text would need escaping.
    return { kind: 'regex', pattern, flags };
  },

  json(cx, e, _entries, _name, place) {
    const { r } = cx;
    const v = e.value;
    if (isScalar(v) && v.value === true) return { kind: 'json', ...(cx.jsonSchema ? { schema: cx.jsonSchema } : {}) };
    if (isScalar(v) && v.value === false) {
      r.error(r.valueSpan(e), 'type', '"json: false" checks nothing: write "json: true", and "not: true" to require output that is not JSON');
      return undefined;
    }
    if (!isMap(v)) {
      r.error(r.valueSpan(e), 'type', `"json" must be true or {schema: ...}, got ${describe(v)}`);
      return undefined;
    }
    const entries = r.entries(v, [...place, 'json']);
    const s = entries.get('schema');
    if (!s) {
      r.error(e.keyNode, 'required', '"json" needs a schema: write "json: {schema: ...}", or "json: true" for any valid JSON');
      return undefined;
    }
    const schema = readSchema(r, s);
    return schema ? { kind: 'json', schema } : undefined;
  },

  maxLength(cx, e) {
    const max = cx.r.number(e, numberRule(PROMPT_KEYS, 'evaluators[]', 'maxLength'));
    return max === undefined ? undefined : { kind: 'maxLength', max };
  },

  uses(cx, e, _entries, name) {
    const { r } = cx;
    const uses = r.string(e, '"uses"');
    if (uses === undefined) return undefined;
    if (!(GITHUB_JUDGES as readonly string[]).includes(uses)) {
      const hint = didYouMean(uses, GITHUB_JUDGES) || didYouMean(`github/${uses}`, GITHUB_JUDGES);
      r.warn(r.valueSpan(e), 'unknown-value', `"${uses}" is not a GitHub Models evaluator (known: ${GITHUB_JUDGES.join(', ')})${hint}`);
    }
    r.report(
      e.keyNode,
      'info',
      'hosted-judge',
      `evaluator "${name}" uses the hosted judge ${uses}, which runs on GitHub Models: Tuneloop does not run it locally and reports it as not run`,
    );
    return { kind: 'uses', uses };
  },

  llm(cx, e, _entries, name, place) {
    const { r } = cx;
    const map = r.map(e, 'modelId, prompt, choices');
    if (!map) return undefined;
    const entries = r.entries(map, [...place, 'llm']);
    const llm: { -readonly [K in keyof LlmJudge]: LlmJudge[K] } = {};
    for (const key of ['modelId', 'prompt', 'systemPrompt'] as const) {
      const x = entries.get(key);
      const s = x ? r.string(x) : undefined;
      if (s !== undefined) llm[key] = s;
      if (x?.value && s !== undefined && key !== 'modelId') cx.sites.push({ template: s, node: x.value, use: 'judge' });
    }
    const choices = entries.get('choices');
    const list = choices ? r.seq(choices, 'of {choice, score}') : undefined;
    if (list) {
      llm.choices = r.items(list).flatMap((item, i) => {
        if (!isMap(item)) {
          r.error(item ?? list, 'type', `a choice must be a mapping {choice, score}, got ${describe(item)}`);
          return [];
        }
        const c = r.entries(item, [...place, 'llm', 'choices', i]);
        const choice = c.get('choice');
        const score = c.get('score');
        if (!choice || !score) {
          r.error(item, 'required', `a choice needs both "choice" and "score"`);
          return [];
        }
        const text = r.string(choice);
        const n = r.number(score, numberRule(PROMPT_KEYS, 'evaluators[].llm.choices[]', 'score'));
        return text !== undefined && n !== undefined ? [{ choice: text, score: n }] : [];
      });
    }
    r.report(
      e.keyNode,
      'info',
      'hosted-judge',
      `evaluator "${name}" is an LLM judge that runs on GitHub Models: Tuneloop does not run it locally and reports it as not run`,
    );
    return { kind: 'llm', llm };
  },
};

/** Every kind, in the table's order; the mapped type above makes the table complete. */
export const EVALUATOR_KINDS = Object.keys(KIND_PARSERS) as EvaluatorKind[];
const KINDS: readonly EvaluatorKind[] = EVALUATOR_KINDS;
const ALL_EVALUATOR_KEYS = keysAt(['evaluators', 0]) ?? [];

/** A JSON schema given as a mapping or as a JSON string (GitHub allows both); checked, unwrapped. */
export function readSchema(r: Reader, e: Entry): JsonObject | undefined {
  const v = e.value;
  let value: JsonValue | undefined;
  if (isScalar(v) && typeof v.value === 'string') {
    try {
      value = JSON.parse(v.value) as JsonValue;
    } catch (err) {
      r.error(r.valueSpan(e), 'json-schema', `"${e.key}" is text but not valid JSON (${(err as Error).message}): fix the JSON, or write the schema as YAML`);
      return undefined;
    }
  } else if (isMap(v)) value = r.js(v);
  if (!isJsonObject(value)) {
    r.error(r.valueSpan(e), 'type', `"${e.key}" must be a JSON schema (a mapping, or a JSON object as text), got ${describe(v)}`);
    return undefined;
  }
  const schema = unwrapSchema(value);
  const offset = schema === value ? [] : ['schema'];
  for (const p of checkSchema(schema)) {
    // Point into the YAML mapping when the schema is written as YAML; a JSON string has no inner positions.
    const node = isMap(v) ? (nodeAt(r, v, [...offset, ...p.path]) ?? v) : v;
    r.report(node, p.severity, 'json-schema', `${e.key}${[...offset, ...p.path].map((k) => `.${k}`).join('')}: ${p.message}`);
  }
  return schema;
}

/** The node at a key path inside a mapping (the last key's key node, so the diagnostic marks it). */
function nodeAt(r: Reader, root: Node, path: readonly string[]): Node | undefined {
  let node: Node | null = root;
  let keyNode: Node | undefined;
  for (const k of path) {
    if (!isMap(node)) return keyNode;
    const e: Entry | undefined = r.entries(node, undefined).get(k);
    if (!e) return keyNode;
    keyNode = e.keyNode;
    node = e.value;
  }
  return keyNode;
}

/** Reads one item of `evaluators`; undefined when it has no check that can run. */
export function readEvaluator(cx: EvaluatorContext, item: Node | null, index: number, parent: Node): Evaluator | undefined {
  const { r } = cx;
  if (!isMap(item)) {
    r.error(item ?? parent, 'type', `an evaluator must be a mapping such as {name: ..., string: {contains: ...}}, got ${describe(item)}`);
    return undefined;
  }
  const entries = r.entries(item, ['evaluators', index], false);
  const nameEntry = entries.get('name');
  let name = `evaluators[${index}]`;
  if (nameEntry) name = r.string(nameEntry, '"name"') ?? name;
  else r.warn(item, 'required', `evaluator ${index} has no name: add "name: ..." so that results can say which check failed`);

  const kinds = KINDS.filter((k) => entries.has(k));
  const unknown = [...entries.values()].filter((e) => !ALL_EVALUATOR_KEYS.includes(e.key));
  if (kinds.length === 0) {
    // The unknown key is most likely the misspelt kind: say so there, once, instead of also warning.
    const first = unknown.shift();
    const hint = first ? didYouMean(first.key, KINDS) : '';
    r.error(
      first ? first.keyNode : item,
      'evaluator-kind',
      `evaluator "${name}" has no check Tuneloop can run${first ? ` ("${first.key}" is not an evaluator kind)` : ''}: give it one of ${quotedList(KINDS)}${hint}`,
    );
  }
  for (const u of unknown) r.unknownKey(u.keyNode, u.key, ALL_EVALUATOR_KEYS, ['evaluators', index]);
  for (const extra of kinds.slice(1)) {
    r.error(
      entries.get(extra)!.keyNode,
      'evaluator-conflict',
      `evaluator "${name}" already checks "${kinds[0]}": an evaluator runs one check, so move "${extra}" to an evaluator of its own`,
    );
  }
  const flags = entries.get('flags');
  if (flags && kinds[0] !== 'regex') r.warn(flags.keyNode, 'unknown-key', '"flags" applies to regex evaluators only; it is ignored here');

  const notEntry = entries.get('not');
  const not = notEntry ? (r.boolean(notEntry) ?? false) : false;
  const kind = kinds[0];
  if (kind === undefined || kinds.length > 1) return undefined;
  const check = parseKind(cx, kind, entries, name, ['evaluators', index]);
  return check ? { name, not, span: r.spanOf(item), ...check } : undefined;
}

function parseKind<K extends EvaluatorKind>(
  cx: EvaluatorContext,
  kind: K,
  entries: ReadonlyMap<string, Entry>,
  name: string,
  place: KeyPath,
): EvaluatorCheck | undefined {
  const parser: KindParser<K> = KIND_PARSERS[kind];
  return parser(cx, entries.get(kind)!, entries, name, place);
}
