import { isMap, isScalar, isSeq, type Node, type YAMLMap } from 'yaml';
import { hostedModel } from './hosted';
import { readEvaluator, readSchema, type TemplateSite } from './parse-evaluators';
import { readProbes } from './parse-probes';
import { describe, type Entry, type NumberRule, type Reader, readYaml } from '../yaml/reader';
import { didYouMean, quotedList } from '../yaml/suggest';
import { numberRule } from '../yaml/key-table';
import { PROMPT_KEYS } from './key-table';
import { PARAMETER_SCHEMAS, type ParameterName } from '../infer/parameters';
import { placeholders } from './template';
import { EXPORT_DTYPES } from '../dtypes';
import {
  RESPONSE_FORMATS,
  ROLES,
  type AdapterEntry,
  type Evaluator,
  type JsonObject,
  type ModelParameters,
  type ParseResult,
  type PromptFile,
  type PromptMessage,
  type ResponseFormat,
  type Role,
  type Span,
  type TestCase,
  type TestValue,
  TASKS,
} from './types';

export { placeholders, renderTemplate, variableNames, valueText, type Placeholder } from './template';

/** The model parameters whose values are numbers: all but `stop`, which readStop reads. */
type NumberParameter = { [K in ParameterName]-?: NonNullable<ModelParameters[K]> extends number ? K : never }[ParameterName];
const isNumberParameter = (name: ParameterName): name is NumberParameter => /^(number|integer)$/.test(String(PARAMETER_SCHEMAS[name]['type']));

/** Each number parameter with its rule, from the key table (and so from the parameters' schema). */
const NUMBER_PARAMETERS: readonly (readonly [NumberParameter, NumberRule])[] = (Object.keys(PARAMETER_SCHEMAS) as ParameterName[])
  .filter(isNumberParameter)
  .map((name) => [name, numberRule(PROMPT_KEYS, 'modelParameters', name)]);

const PASS_RATE = numberRule(PROMPT_KEYS, '', 'minPassRate');
const ADAPTER_PASS_RATE = numberRule(PROMPT_KEYS, 'adapters[]', 'minPassRate');
const MAX_REGRESSIONS = numberRule(PROMPT_KEYS, '', 'maxRegressions');
const ADAPTER_MAX_REGRESSIONS = numberRule(PROMPT_KEYS, 'adapters[]', 'maxRegressions');
const MAX_PROBE_FLIPS = numberRule(PROMPT_KEYS, '', 'maxProbeFlips');
const ADAPTER_MAX_PROBE_FLIPS = numberRule(PROMPT_KEYS, 'adapters[]', 'maxProbeFlips');

/**
 * Parses and validates a prompt file. Returns the prompt whenever the YAML itself can be read (even
 * with validation errors, so that editor features keep working on a half-written file) and every
 * problem found, sorted by position.
 */
export function parsePrompt(text: string, file = '<prompt>'): ParseResult {
  const { reader: r, root } = readYaml(text, file, PROMPT_KEYS);
  if (root === undefined) return { diagnostics: r.sorted() };
  if (root === null || (isScalar(root) && root.value === null)) {
    r.error(r.span(0, 0), 'no-messages', 'the file is empty: a prompt file needs at least "messages:" with one message');
    return { diagnostics: r.sorted() };
  }
  if (!isMap(root)) {
    r.error(root, 'type', `a prompt file must be a mapping of keys (name, model, messages, ...), got ${describe(root)}`);
    return { diagnostics: r.sorted() };
  }
  const prompt = readRoot(r, root);
  return { prompt, diagnostics: r.sorted() };
}

function readRoot(r: Reader, root: YAMLMap): PromptFile {
  const entries = r.entries(root, []);
  const get = (k: string) => entries.get(k);
  const str = (k: string) => {
    const e = get(k);
    return e ? r.string(e) : undefined;
  };

  const model = str('model');
  const modelEntry = get('model');
  if (model !== undefined && modelEntry) {
    const hosted = hostedModel(model);
    if (hosted) {
      r.warn(
        r.valueSpan(modelEntry),
        'hosted-model',
        `"${model}" is a model hosted on GitHub Models (${hosted.publisher}): Tuneloop runs the configured local model (setting tuneloop.defaultModel) instead; to choose one here, name a Hub id or a local model folder`,
      );
    }
  }

  // dtype (fp32|q8|q4: the weights' type the model runs in) and task (classification: label
  // metrics in the reports) are Tuneloop's.
  const dtype = readChoice(r, get('dtype'), 'dtype', EXPORT_DTYPES);
  const task = readChoice(r, get('task'), 'task', TASKS);
  const responseFormat = readChoice(r, get('responseFormat'), 'responseFormat', RESPONSE_FORMATS);
  const schemaEntry = get('jsonSchema');
  const jsonSchema = schemaEntry ? readSchema(r, schemaEntry) : undefined;

  const sites: TemplateSite[] = [];
  const messages = readMessages(r, get('messages'), root, sites);
  const testDataEntry = get('testData');
  const testData = testDataEntry ? readTestData(r, testDataEntry) : undefined;
  const evaluators = readEvaluators(r, get('evaluators'), jsonSchema, sites);
  checkResponseFormat(r, responseFormat, get('responseFormat'), jsonSchema, schemaEntry, evaluators);
  checkVariables(r, sites, testData, evaluators);

  const minPassRateEntry = get('minPassRate');
  const minPassRate = minPassRateEntry ? r.number(minPassRateEntry, PASS_RATE) : undefined;
  const maxRegressionsEntry = get('maxRegressions');
  const maxRegressions = maxRegressionsEntry ? r.number(maxRegressionsEntry, MAX_REGRESSIONS) : undefined;
  const maxProbeFlipsEntry = get('maxProbeFlips');
  const maxProbeFlips = maxProbeFlipsEntry ? r.number(maxProbeFlipsEntry, MAX_PROBE_FLIPS) : undefined;
  // A variable probe swaps a variable the messages render; the messages' sites come first in `sites`.
  const inMessages = new Set(sites.filter((x) => x.use === 'value').flatMap((x) => placeholders(x.template).map((p) => p.name)));
  const probes = readProbes(r, get('probes'), inMessages);
  const snapshot = str('snapshot');
  const snapshotEntry = get('snapshot');
  if (snapshot === '' && snapshotEntry)
    r.error(snapshotEntry.keyNode, 'required', '"snapshot" is empty: name the snapshot file (e.g. NAME.snapshot.json), or remove the key');

  const name = str('name');
  const description = str('description');
  return {
    ...(name !== undefined ? { name } : {}),
    ...(description !== undefined ? { description } : {}),
    ...(model !== undefined ? { model } : {}),
    ...(dtype !== undefined ? { dtype } : {}),
    ...(task !== undefined ? { task } : {}),
    modelParameters: readModelParameters(r, get('modelParameters')),
    ...(responseFormat !== undefined ? { responseFormat } : {}),
    ...(jsonSchema !== undefined ? { jsonSchema } : {}),
    messages,
    ...(testData !== undefined ? { testData } : {}),
    evaluators,
    adapters: readAdapters(r, get('adapters')),
    ...(minPassRate !== undefined ? { minPassRate } : {}),
    ...(maxRegressions !== undefined ? { maxRegressions } : {}),
    probes,
    ...(maxProbeFlips !== undefined ? { maxProbeFlips } : {}),
    ...(snapshot ? { snapshot } : {}),
    spans: {
      ...(modelEntry ? { model: r.valueSpan(modelEntry) } : {}),
      ...(snapshotEntry ? { snapshot: r.valueSpan(snapshotEntry) } : {}),
    },
  };
}

function readModelParameters(r: Reader, e: Entry | undefined): ModelParameters {
  if (!e) return {};
  const map = r.map(e, 'maxTokens, temperature, topP, ...');
  if (!map) return {};
  const entries = r.entries(map, ['modelParameters'], false);
  const known = Object.keys(PROMPT_KEYS['modelParameters'] ?? {});
  for (const [key, x] of entries) {
    if (known.includes(key)) continue;
    // GitHub Models reads modelParameters: Tuneloop's dtype lives at the top level instead.
    if (key === 'dtype')
      r.warn(
        x.keyNode,
        'unknown-key',
        '"dtype" is a top-level key, not a model parameter (GitHub Models reads modelParameters): move it out of modelParameters; here it is ignored',
      );
    else r.unknownKey(x.keyNode, key, known, ['modelParameters']);
  }
  const out: { -readonly [K in keyof ModelParameters]: ModelParameters[K] } = {};
  for (const [key, rule] of NUMBER_PARAMETERS) {
    const x = entries.get(key);
    const n = x ? r.number(x, rule) : undefined;
    if (n !== undefined) out[key] = n;
  }
  const stop = entries.get('stop');
  if (stop) {
    const list = readStop(r, stop);
    if (list) out.stop = list;
  }
  return out;
}

/** `stop: "\n\n"` or `stop: ["###", "END"]`; always a list afterwards. */
function readStop(r: Reader, e: Entry): string[] | undefined {
  const v = e.value;
  if (isScalar(v) && typeof v.value === 'string' && v.value !== '') return [v.value];
  if (isSeq(v)) {
    const texts = r.items(v).map((i) => (isScalar(i) && typeof i.value === 'string' && i.value !== '' ? i.value : undefined));
    if (texts.every((t) => t !== undefined)) return texts;
  }
  r.error(r.valueSpan(e), 'type', `"stop" must be a non-empty text or a list of them, got ${describe(v)}`);
  return undefined;
}

/**
 * A key whose value is one of `choices` (dtype, task, responseFormat): the value, or an error at it
 * naming the choices, with a did-you-mean.
 */
function readChoice<T extends string>(r: Reader, e: Entry | undefined, key: string, choices: readonly T[]): T | undefined {
  if (!e) return undefined;
  const s = r.string(e);
  if (s === undefined) return undefined;
  if ((choices as readonly string[]).includes(s)) return s as T;
  r.error(r.valueSpan(e), 'unknown-value', `unknown ${key} "${s}": use ${quotedList(choices)}${didYouMean(s, choices)}`);
  return undefined;
}

function checkResponseFormat(
  r: Reader,
  format: ResponseFormat | undefined,
  formatEntry: Entry | undefined,
  schema: JsonObject | undefined,
  schemaEntry: Entry | undefined,
  evaluators: readonly Evaluator[],
): void {
  if (format === 'json_schema' && schema === undefined && !schemaEntry && formatEntry) {
    r.error(r.valueSpan(formatEntry), 'required', 'responseFormat json_schema needs a schema: add "jsonSchema:" with the schema of the response');
  }
  if (schemaEntry && format !== 'json_schema' && !evaluators.some((e) => e.kind === 'json' && e.schema === schema)) {
    r.warn(
      schemaEntry.keyNode,
      'unknown-key',
      'jsonSchema is used only with "responseFormat: json_schema" or by a "json: true" evaluator: add one of them, or remove the schema',
    );
  }
}

function readMessages(r: Reader, e: Entry | undefined, root: Node, sites: TemplateSite[]): PromptMessage[] {
  if (!e) {
    const first = isMap(root) ? (root.items[0]?.key as Node | undefined) : undefined;
    r.error(first ?? root, 'no-messages', 'the file has no "messages": add a list of messages, e.g. "- role: user" with "content: ..."');
    return [];
  }
  const seq = r.seq(e, 'of {role, content}');
  if (!seq) return [];
  if (seq.items.length === 0) {
    r.error(r.valueSpan(e), 'no-messages', '"messages" is empty: add at least one message, e.g. "- role: user" with "content: ..."');
    return [];
  }
  const out: PromptMessage[] = [];
  r.items(seq).forEach((item, i) => {
    if (!isMap(item)) {
      r.error(item ?? seq, 'type', `message ${i} must be a mapping {role, content}, got ${describe(item)}`);
      return;
    }
    const entries = r.entries(item, ['messages', i]);
    const roleEntry = entries.get('role');
    const contentEntry = entries.get('content');
    let role: Role | undefined;
    if (!roleEntry) r.error(item, 'required', `message ${i} has no role: add "role: system", "role: user" or "role: assistant"`);
    else {
      const s = r.string(roleEntry, '"role"');
      if (s !== undefined && (ROLES as readonly string[]).includes(s)) role = s as Role;
      else if (s !== undefined) r.error(r.valueSpan(roleEntry), 'unknown-role', `unknown role "${s}": use ${quotedList(ROLES)}${didYouMean(s, ROLES)}`);
    }
    let content: string | undefined;
    if (!contentEntry) r.error(item, 'no-content', `message ${i} has no content: add "content: ..." with its text`);
    else {
      const empty = contentEntry.value === null || (isScalar(contentEntry.value) && contentEntry.value.value === null);
      content = empty ? '' : r.string(contentEntry, '"content"');
      if (content !== undefined && content.trim() === '') {
        r.error(r.valueSpan(contentEntry), 'no-content', `message ${i} has empty content: write its text, or remove the message`);
        content = undefined;
      }
      if (content !== undefined && contentEntry.value) sites.push({ template: content, node: contentEntry.value, use: 'value' });
    }
    if (role !== undefined && content !== undefined) out.push({ role, content, span: r.spanOf(item) });
  });
  return out;
}

function readTestData(r: Reader, e: Entry): TestCase[] | undefined {
  const seq = r.seq(e, 'of test cases, each a mapping from variable names to values');
  if (!seq) return undefined;
  const out: TestCase[] = [];
  r.items(seq).forEach((item, i) => {
    if (!isMap(item)) {
      r.error(item ?? seq, 'type', `test case ${i} must be a mapping from variable names to values, got ${describe(item)}`);
      return;
    }
    const values: { [name: string]: TestValue } = {};
    const keys: { [name: string]: Span } = {};
    for (const [k, x] of r.entries(item, undefined)) {
      values[k] = r.js(x.value);
      keys[k] = r.spanOf(x.keyNode);
    }
    out.push({ values, span: r.spanOf(item), keys });
  });
  return out;
}

function readEvaluators(r: Reader, e: Entry | undefined, jsonSchema: JsonObject | undefined, sites: TemplateSite[]): Evaluator[] {
  if (!e) return [];
  const seq = r.seq(e, 'of evaluators');
  if (!seq) return [];
  const out: Evaluator[] = [];
  const names = new Set<string>();
  r.items(seq).forEach((item, i) => {
    const ev = readEvaluator({ r, jsonSchema, sites }, item, i, seq);
    if (!ev) return;
    if (names.has(ev.name))
      r.warn(item, 'duplicate-name', `another evaluator is named "${ev.name}": give each a distinct name so that results can tell them apart`);
    names.add(ev.name);
    out.push(ev);
  });
  return out;
}

function readAdapters(r: Reader, e: Entry | undefined): AdapterEntry[] {
  if (!e) return [];
  const seq = r.seq(e, 'of adapter recipes or adapter folders');
  if (!seq) return [];
  const out: AdapterEntry[] = [];
  r.items(seq).forEach((item, i) => {
    if (isScalar(item) && typeof item.value === 'string' && item.value !== '') {
      out.push({ path: item.value, span: r.spanOf(item) });
      return;
    }
    if (!isMap(item)) {
      r.error(
        item ?? seq,
        'type',
        `adapter ${i} must be a path (an *.adapter.yml recipe or an adapter folder) or {path, minPassRate, maxRegressions}, got ${describe(item)}`,
      );
      return;
    }
    const entries = r.entries(item, ['adapters', i]);
    const pathEntry = entries.get('path');
    const rateEntry = entries.get('minPassRate');
    const path = pathEntry ? r.string(pathEntry, '"path"') : undefined;
    if (!pathEntry) r.error(item, 'required', `adapter ${i} has no path: add "path: NAME.adapter.yml" (or an adapter folder)`);
    else if (path === '') r.error(pathEntry.keyNode, 'required', `adapter ${i} has an empty path: name an adapter recipe or folder`);
    const minPassRate = rateEntry ? r.number(rateEntry, ADAPTER_PASS_RATE) : undefined;
    const regressionsEntry = entries.get('maxRegressions');
    const maxRegressions = regressionsEntry ? r.number(regressionsEntry, ADAPTER_MAX_REGRESSIONS) : undefined;
    const flipsEntry = entries.get('maxProbeFlips');
    const maxProbeFlips = flipsEntry ? r.number(flipsEntry, ADAPTER_MAX_PROBE_FLIPS) : undefined;
    if (path)
      out.push({
        path,
        ...(minPassRate !== undefined ? { minPassRate } : {}),
        ...(maxRegressions !== undefined ? { maxRegressions } : {}),
        ...(maxProbeFlips !== undefined ? { maxProbeFlips } : {}),
        span: r.spanOf(item),
      });
  });
  return out;
}

/**
 * Variables against test data. With test data, every placeholder a run renders (messages and
 * string checks) needs a value in every test case, or the model would see `{{name}}` literally.
 * A test value that no template uses is probably a misspelt variable. `expected` is the
 * conventional answer that GitHub's hosted judges (similarity, llm) compare with, so those count
 * as using it. Without test data the values come from the user at run time: nothing to check.
 */
function checkVariables(r: Reader, sites: readonly TemplateSite[], testData: readonly TestCase[] | undefined, evaluators: readonly Evaluator[]): void {
  if (testData === undefined) return;
  const used = new Set<string>();
  for (const s of sites) for (const p of placeholders(s.template)) used.add(p.name);
  if (evaluators.some((e) => e.kind === 'uses' || e.kind === 'llm')) used.add('expected');

  const reported = new Set<string>();
  for (const site of sites) {
    if (site.use !== 'value') continue;
    const seen = new Map<string, number>();
    for (const p of placeholders(site.template)) {
      const nth = seen.get(p.raw) ?? 0;
      seen.set(p.raw, nth + 1);
      if (reported.has(p.name)) continue;
      const missing = testData.map((t, i) => ({ t, i })).filter(({ t }) => !Object.hasOwn(t.values, p.name));
      if (missing.length === 0) continue;
      reported.add(p.name);
      const cases = missing.map(({ t, i }) => `testData[${i}] (line ${t.span?.line ?? '?'})`);
      const list = cases.length > 3 ? `${cases.slice(0, 3).join(', ')} and ${cases.length - 3} more` : cases.join(', ');
      r.error(
        r.locate(site.node, p.raw, nth),
        'missing-variable',
        `{{${p.name}}} has no value in ${list}: add "${p.name}: ..." to ${missing.length === 1 ? 'that test case' : 'those test cases'}`,
      );
    }
  }

  const unusedReported = new Set<string>();
  for (const t of testData) {
    for (const name of Object.keys(t.values)) {
      if (used.has(name) || unusedReported.has(name)) continue;
      unusedReported.add(name);
      const advice =
        name === 'expected'
          ? `add an evaluator that uses it, e.g. "string: {contains: '{{expected}}'}"`
          : `use it as {{${name}}} in a message or an evaluator, or remove it`;
      r.warn(t.keys?.[name] ?? t.span ?? null, 'unused-variable', `test value "${name}" is not used by any message or evaluator: ${advice}`);
    }
  }
}
