import { type KeyPath, placeOf } from '../yaml/key-table';
import { RESPONSE_FORMATS, ROLES } from './types';

/**
 * The keys a prompt file may hold, by place, with a line of documentation each. The one table that
 * the parser (unknown-key warnings), completion and hover read, so they cannot disagree.
 *
 * Places are written as key paths with `[]` for "any item of a list": `evaluators[].string`.
 * Places not listed here are free-form (test cases, JSON schemas) or scalars.
 */
export const KEY_DOCS: { readonly [place: string]: { readonly [key: string]: string } } = {
  '': {
    name: 'A short name for the prompt.',
    description: 'What the prompt is for.',
    model: 'The model: a Hub id, a local model folder, or a GitHub Models id (then the configured local model runs).',
    modelParameters: 'Sampling settings: maxTokens, temperature, topP (and Tuneloop: topK, repetitionPenalty, seed, stop).',
    responseFormat: 'text, json_object or json_schema.',
    jsonSchema: 'The JSON schema of the response when responseFormat is json_schema (an object or a JSON string).',
    messages: 'The chat: a list of {role: system|user|assistant, content}; content may hold {{variables}}.',
    testData: 'Test cases: a list of mappings from variable names to values (and, by convention, expected).',
    evaluators: 'Checks run on each output: string, uses or llm (GitHub), regex, json, maxLength (Tuneloop).',
    adapters: 'Tuneloop: adapter recipes (*.adapter.yml) or PEFT adapter folders to compare against the base model.',
    minPassRate: 'Tuneloop: the share of test cases (0 to 1) that must pass all evaluators.',
    snapshot: 'Tuneloop: the snapshot file (JSON) that `tuneloop eval` compares outputs against.',
  },
  modelParameters: {
    maxTokens: 'The most tokens to generate (an integer, at least 1).',
    temperature: 'Sampling temperature, 0 to 2; 0 is greedy.',
    topP: 'Nucleus sampling: keep the smallest set of tokens whose probability reaches topP (0 < topP ≤ 1).',
    topK: 'Tuneloop: keep the topK most likely tokens (an integer; 0 turns it off).',
    repetitionPenalty: 'Tuneloop: penalty for repeated tokens (> 0; 1 turns it off).',
    seed: 'Tuneloop: the sampling seed (an integer ≥ 0), for reproducible outputs.',
    stop: 'Tuneloop: a stop string or a list of them.',
  },
  'messages[]': {
    role: 'system, user or assistant.',
    content: 'The text; {{variable}} placeholders take their values from the test case.',
  },
  'evaluators[]': {
    name: 'The name shown in results.',
    string: 'A string check: equals, contains, startsWith or endsWith (the text may hold {{variables}}).',
    uses: 'A GitHub Models judge such as github/similarity (hosted: not run locally).',
    llm: 'An LLM judge on GitHub Models (hosted: not run locally).',
    regex: 'Tuneloop: the output must match this regular expression (JavaScript syntax).',
    flags: 'Tuneloop: regex flags, any of i, m, s, u.',
    json: 'Tuneloop: true (valid JSON, against jsonSchema if the file has one) or {schema: ...}.',
    maxLength: 'Tuneloop: the output may have at most this many characters.',
    not: 'Tuneloop: true negates the check.',
  },
  'evaluators[].string': {
    equals: 'The output must equal this text exactly.',
    contains: 'The output must contain this text (ignoring case, as GitHub does).',
    startsWith: 'The output must start with this text (ignoring case, as GitHub does).',
    endsWith: 'The output must end with this text (ignoring case, as GitHub does).',
  },
  'evaluators[].json': {
    schema: 'The JSON schema the output must satisfy.',
  },
  'evaluators[].llm': {
    modelId: 'The judge model on GitHub Models.',
    prompt: 'The judge prompt; {{completion}} is the output, other {{variables}} come from the test case.',
    systemPrompt: 'The judge system prompt.',
    choices: 'The answers the judge may give, each {choice, score}.',
  },
  'evaluators[].llm.choices[]': {
    choice: 'An answer the judge may give.',
    score: 'Its score.',
  },
  'adapters[]': {
    path: 'An adapter recipe (*.adapter.yml) or a PEFT adapter folder, relative to the prompt file.',
    minPassRate: 'The share of test cases (0 to 1) this adapter must pass; overrides the top-level one.',
  },
};

/** The GitHub Models built-in judges (`uses:`). */
export const GITHUB_JUDGES = ['github/similarity', 'github/coherence', 'github/fluency', 'github/relevance', 'github/groundedness'] as const;

/** Values a scalar may take, by place and key, for completion and for "did you mean". */
export const VALUE_CHOICES: { readonly [placeAndKey: string]: readonly string[] } = {
  responseFormat: RESPONSE_FORMATS,
  'messages[].role': ROLES,
  'evaluators[].uses': GITHUB_JUDGES,
  'evaluators[].not': ['true', 'false'],
  'evaluators[].json': ['true'],
};

export { placeOf, type KeyPath } from '../yaml/key-table';

/** The keys allowed in the mapping at this path, or undefined where keys are free-form. */
export function keysAt(path: KeyPath): readonly string[] | undefined {
  const docs = KEY_DOCS[placeOf(path)];
  return docs === undefined ? undefined : Object.keys(docs);
}

/** The documentation of a key, for hover. */
export function keyDoc(parent: KeyPath, key: string): string | undefined {
  return KEY_DOCS[placeOf(parent)]?.[key];
}

/** The values a key may take, for completion. */
export function valuesAt(parent: KeyPath, key: string): readonly string[] | undefined {
  const place = placeOf(parent);
  return VALUE_CHOICES[place === '' ? key : `${place}.${key}`];
}
