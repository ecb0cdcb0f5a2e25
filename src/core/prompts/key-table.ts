import { jsonSchemaOf } from '../yaml/json-schema';
import type { JsonObject } from '../yaml/json';
import { type KeyPath, type KeyTable, keySpec, keysAt as keysIn, type PlaceKeys, type Shape, shape, valuesAt as valuesIn } from '../yaml/key-table';
import { PARAMETER_SCHEMAS, type ParameterName, type ParameterSchema } from '../infer/parameters';
import { RESPONSE_FORMATS, ROLES, type STRING_CHECKS, TASKS } from './types';
import { EXPORT_DTYPES } from '../dtypes';

export { placeOf, type KeyPath } from '../yaml/key-table';

/** The GitHub Models built-in judges (`uses:`). */
export const GITHUB_JUDGES = ['github/similarity', 'github/coherence', 'github/fluency', 'github/relevance', 'github/groundedness'] as const;

/** What some parameter values mean, said after the range in diagnostics (`an integer ≥ 0 (0 turns top-k off)`). */
const PARAMETER_NOTES: { readonly [K in ParameterName]?: string } = {
  topK: '0 turns top-k off',
  repetitionPenalty: '1 turns it off',
};

/**
 * The `modelParameters` place, from the generation parameters' schema (core/infer/parameters.ts): each
 * parameter's description is its doc, its JSON Schema its shape. A list parameter (`stop`) may also
 * be written as one item, as the parser reads it.
 */
function modelParameterKeys(): PlaceKeys {
  const fileShape = (s: ParameterSchema): Shape => {
    const { description: _doc, readOnly: _readOnly, ...rest } = s;
    const items = rest['items'] as Shape | undefined;
    if (rest['type'] !== 'array' || items === undefined) return rest as Shape;
    return { type: [items['type'] as string, 'array'], ...(items['minLength'] !== undefined ? { minLength: items['minLength'] } : {}), items };
  };
  return Object.fromEntries(
    (Object.entries(PARAMETER_SCHEMAS) as [ParameterName, ParameterSchema][]).map(([name, s]) => {
      const note = PARAMETER_NOTES[name];
      return [name, { doc: String(s['description']), shape: fileShape(s), ...(note !== undefined ? { note } : {}) }];
    }),
  );
}

const PASS_RATE = { shape: shape.number({ minimum: 0, maximum: 1 }), note: 'the share of test cases that must pass' } as const;
const MAX_PROBE_FLIPS = {
  shape: shape.int(0),
  note: 'the most (test case, evaluator, swap) outcomes that differ from the probe’s first column',
} as const;
const MAX_REGRESSIONS = {
  shape: shape.int(0),
  note: 'the most (test case, evaluator) pairs the base model passes and an adapter fails',
} as const;

/**
 * The keys a prompt file may hold, by place: the one table that the parser (unknown keys, number
 * ranges), completion, hover and the JSON Schema read. Its order is the documented order.
 */
export const PROMPT_KEYS: KeyTable = {
  '': {
    name: { doc: 'A short name for the prompt.', shape: shape.scalar() },
    description: { doc: 'What the prompt is for.', shape: shape.scalar() },
    model: {
      doc: 'The model: a Hub id, a local model folder, or a GitHub Models id (then the configured local model runs).',
      shape: shape.text(),
    },
    dtype: {
      doc: 'Tuneloop: the type the weights run in: fp32 (float32, the default), q8 (8-bit blocks, onnx/model_quantized.onnx) or q4 (4-bit blocks, onnx/model_q4.onnx). A checkpoint is exported in it, each adapter with it. Overrides the tuneloop.dtype setting; --dtype on the command line overrides it.',
      shape: shape.choice(EXPORT_DTYPES),
    },
    task: {
      doc: 'Tuneloop: classification reads each output as a label and adds accuracy, per-label precision, recall and F1, macro-F1 and a confusion matrix to the reports (on by itself when expected has at most 20 distinct values, each at least twice).',
      shape: shape.choice(TASKS),
    },
    modelParameters: {
      doc: 'Sampling settings: maxTokens, temperature, topP (and Tuneloop: topK, repetitionPenalty, seed, stop).',
      shape: shape.map('modelParameters'),
    },
    responseFormat: { doc: 'text, json_object or json_schema.', shape: shape.choice(RESPONSE_FORMATS) },
    jsonSchema: {
      doc: 'The JSON schema of the response when responseFormat is json_schema (an object or a JSON string).',
      shape: shape.any(['object', 'string']),
    },
    messages: {
      doc: 'The chat: a list of {role: system|user|assistant, content}; content may hold {{variables}}.',
      shape: shape.list(shape.map('messages[]'), { minItems: 1 }),
      required: true,
    },
    testData: {
      doc: 'Test cases: a list of mappings from variable names to values (and, by convention, expected).',
      shape: shape.list({ type: 'object', additionalProperties: true }),
    },
    evaluators: {
      doc: 'Checks run on each output: string, uses or llm (GitHub), regex, json, maxLength (Tuneloop).',
      shape: shape.list(shape.map('evaluators[]')),
    },
    adapters: {
      doc: 'Tuneloop: adapter recipes (*.adapter.yml) or PEFT adapter folders to compare against the base model.',
      shape: shape.list(shape.map('adapters[]', ['string'])),
    },
    minPassRate: { doc: 'Tuneloop: the share of test cases (0 to 1) that must pass all evaluators.', ...PASS_RATE },
    maxRegressions: {
      doc: 'Tuneloop: the most regressions allowed for each adapter, counted over every evaluator: a test case and an evaluator that the base model passes and the adapter fails (default: no limit).',
      ...MAX_REGRESSIONS,
    },
    probes: {
      doc: 'Tuneloop: counterfactual probes for `tuneloop probe`: each {name, variable, values} swaps values into a variable, or {name, words} swaps words in the messages and test values (words: pronouns, gendered-nouns, or rows such as [husband, wife]). Every test case runs under every swap on each variant; outputs that change and evaluator outcomes that flip are reported.',
      shape: shape.list(shape.map('probes[]')),
    },
    maxProbeFlips: {
      doc: 'Tuneloop: the most probe flips allowed for each variant: a test case, evaluator and swap whose outcome differs from the probe’s first column (default: no limit).',
      ...MAX_PROBE_FLIPS,
    },
    snapshot: { doc: 'Tuneloop: the snapshot file (JSON) that `tuneloop eval` compares outputs against.', shape: shape.text() },
  },
  modelParameters: modelParameterKeys(),
  'messages[]': {
    role: { doc: 'system, user or assistant.', shape: shape.choice(ROLES), required: true },
    content: { doc: 'The text; {{variable}} placeholders take their values from the test case.', shape: shape.scalar(), required: true },
  },
  'evaluators[]': {
    name: { doc: 'The name shown in results.', shape: shape.scalar() },
    string: {
      doc: 'A string check: equals, contains, startsWith or endsWith (the text may hold {{variables}}).',
      shape: shape.map('evaluators[].string'),
    },
    uses: { doc: 'A GitHub Models judge such as github/similarity (hosted: not run locally).', shape: shape.suggested(GITHUB_JUDGES) },
    llm: { doc: 'An LLM judge on GitHub Models (hosted: not run locally).', shape: shape.map('evaluators[].llm') },
    regex: { doc: 'Tuneloop: the output must match this regular expression (JavaScript syntax).', shape: shape.text() },
    flags: { doc: 'Tuneloop: regex flags, any of i, m, s, u.', shape: { type: 'string', pattern: '^[imsu]*$' } },
    json: {
      doc: 'Tuneloop: true (valid JSON, against jsonSchema if the file has one) or {schema: ...}.',
      shape: shape.map('evaluators[].json', ['boolean']),
      values: ['true'],
    },
    maxLength: {
      doc: 'Tuneloop: the output may have at most this many characters.',
      shape: shape.int(0),
      note: 'the most characters the output may have',
    },
    not: { doc: 'Tuneloop: true negates the check.', shape: shape.bool() },
  },
  'evaluators[].string': {
    equals: { doc: 'The output must equal this text exactly.', shape: shape.scalar() },
    contains: { doc: 'The output must contain this text (ignoring case, as GitHub does).', shape: shape.scalar() },
    startsWith: { doc: 'The output must start with this text (ignoring case, as GitHub does).', shape: shape.scalar() },
    endsWith: { doc: 'The output must end with this text (ignoring case, as GitHub does).', shape: shape.scalar() },
  } satisfies { readonly [K in (typeof STRING_CHECKS)[number]]: unknown },
  'evaluators[].json': {
    schema: { doc: 'The JSON schema the output must satisfy.', shape: shape.any(['object', 'string']) },
  },
  'evaluators[].llm': {
    modelId: { doc: 'The judge model on GitHub Models.', shape: shape.text() },
    prompt: { doc: 'The judge prompt; {{completion}} is the output, other {{variables}} come from the test case.', shape: shape.scalar() },
    systemPrompt: { doc: 'The judge system prompt.', shape: shape.scalar() },
    choices: { doc: 'The answers the judge may give, each {choice, score}.', shape: shape.list(shape.map('evaluators[].llm.choices[]')) },
  },
  'evaluators[].llm.choices[]': {
    choice: { doc: 'An answer the judge may give.', shape: shape.scalar(), required: true },
    score: { doc: 'Its score.', shape: shape.number(), required: true },
  },
  'probes[]': {
    name: { doc: 'The name the reports show.', shape: shape.scalar(), required: true },
    variable: { doc: 'A variable of the messages whose value each swap replaces.', shape: shape.text() },
    values: { doc: 'The values swapped into the variable (at least two); the first is the reference.', shape: shape.list(shape.scalar(), { minItems: 2 }) },
    words: {
      doc: 'Words swapped in the messages and test values: a built-in table (pronouns: he/she/they with his/her/their, him/her/them, and verb agreement; gendered-nouns: male/female), or rows of words, one per column, e.g. [[husband, wife], [father, mother]]. The first column is the reference.',
      shape: shape.any(['string', 'array']),
      values: ['pronouns', 'gendered-nouns'],
    },
    labels: { doc: 'Names for the columns of a words table given as rows (default: the first row).', shape: shape.list(shape.scalar(), { minItems: 2 }) },
  },
  'adapters[]': {
    path: {
      doc: 'An adapter recipe (*.adapter.yml) or a PEFT adapter folder, relative to the prompt file.',
      shape: shape.text(),
      required: true,
    },
    minPassRate: { doc: 'The share of test cases (0 to 1) this adapter must pass; overrides the top-level one.', ...PASS_RATE },
    maxRegressions: {
      doc: 'The most regressions allowed for this adapter (a test case and an evaluator the base passes and it fails); overrides the top-level one.',
      ...MAX_REGRESSIONS,
    },
    maxProbeFlips: { doc: 'The most probe flips allowed for this adapter; overrides the top-level one.', ...MAX_PROBE_FLIPS },
  },
};

/** The keys allowed in the mapping at this path, or undefined where keys are free-form. */
export function keysAt(path: KeyPath): readonly string[] | undefined {
  return keysIn(PROMPT_KEYS, path);
}

/** The documentation of a key, for hover. */
export function keyDoc(parent: KeyPath, key: string): string | undefined {
  return keySpec(PROMPT_KEYS, parent, key)?.doc;
}

/** The values a key may take, for completion. */
export function valuesAt(parent: KeyPath, key: string): readonly string[] | undefined {
  return valuesIn(PROMPT_KEYS, parent, key);
}

export function promptJsonSchema(): JsonObject {
  return jsonSchemaOf(PROMPT_KEYS, {
    id: 'https://tuneloop.dev/schemas/prompt.schema.json',
    title: 'Tuneloop prompt file (*.prompt.yml)',
    description:
      'A prompt file in the GitHub Models format, with the optional Tuneloop keys (dtype, task, adapters, minPassRate, maxRegressions, probes, maxProbeFlips, snapshot, more model parameters and evaluators).',
  });
}
