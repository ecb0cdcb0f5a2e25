/**
 * "Did you mean" for keys and values. Two sources: spelling (edit distance after folding case,
 * `_` and `-`, so `max_tokens` finds `maxTokens`), and a table of words people reach for from
 * other tools, which no edit distance would find (`beginsWith` for `startsWith`, `bot` for
 * `assistant`). A synonym only counts where its target is one of the candidates, so one table serves
 * every file kind (a recipe's `format: chat` finds `messages` too).
 */
const SYNONYMS: { readonly [folded: string]: readonly string[] } = {
  // string checks
  beginswith: ['startsWith'],
  begins: ['startsWith'],
  prefix: ['startsWith'],
  starts: ['startsWith'],
  suffix: ['endsWith'],
  ends: ['endsWith'],
  includes: ['contains'],
  include: ['contains'],
  has: ['contains'],
  is: ['equals'],
  eq: ['equals'],
  exact: ['equals'],
  match: ['regex', 'equals'],
  matches: ['regex'],
  pattern: ['regex'],
  regexp: ['regex'],
  // evaluator kinds and options
  negate: ['not'],
  invert: ['not'],
  inverse: ['not'],
  schema: ['jsonSchema', 'schema'],
  judge: ['llm'],
  maxlen: ['maxLength'],
  maxchars: ['maxLength'],
  // top level
  prompt: ['messages'],
  template: ['messages'],
  chat: ['messages'],
  tests: ['testData'],
  testcases: ['testData'],
  cases: ['testData'],
  examples: ['testData'],
  data: ['testData'],
  evals: ['evaluators'],
  checks: ['evaluators'],
  assertions: ['evaluators'],
  asserts: ['evaluators'],
  params: ['modelParameters'],
  parameters: ['modelParameters'],
  options: ['modelParameters'],
  format: ['responseFormat'],
  responsetype: ['responseFormat'],
  passrate: ['minPassRate'],
  threshold: ['minPassRate'],
  regressions: ['maxRegressions'],
  maxregression: ['maxRegressions'],
  adapter: ['adapters'],
  lora: ['adapters'],
  quantization: ['dtype'],
  quantize: ['dtype'],
  precision: ['dtype'],
  torchdtype: ['dtype'],
  // model parameters
  maxnewtokens: ['maxTokens'],
  maxlength: ['maxTokens', 'maxLength'],
  tokens: ['maxTokens'],
  stopsequences: ['stop'],
  stopstrings: ['stop'],
  // roles
  bot: ['assistant'],
  ai: ['assistant'],
  model: ['assistant', 'model'],
  gpt: ['assistant'],
  human: ['user'],
  developer: ['system'],
  // weight dtypes (the prompt file's dtype)
  float32: ['fp32'],
  float: ['fp32'],
  int8: ['q8'],
  '8bit': ['q8'],
  quantized: ['q8'],
  int4: ['q4'],
  '4bit': ['q4'],
  // response formats
  json: ['json_object', 'json'],
  jsonschema: ['json_schema', 'jsonSchema'],
};

function fold(s: string): string {
  return s.toLowerCase().replace(/[-_\s]/g, '');
}

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions (`tempreature`). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate the user most likely meant, or undefined when none is close. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const w = fold(word);
  if (w === '') return undefined;
  for (const s of SYNONYMS[w] ?? []) if (candidates.includes(s)) return s;
  // A third of the word's length, at least 1: close enough to be a slip, far enough from chance.
  const limit = Math.max(1, Math.floor(w.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = editDistance(w, fold(c));
    if (dist <= limit && dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return best;
}

/** ` (did you mean "x"?)`, or nothing. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const s = suggest(word, candidates);
  return s === undefined ? '' : ` (did you mean "${s}"?)`;
}

/** `a, b or c`, each quoted. */
export function quotedList(items: readonly string[]): string {
  const q = items.map((i) => `"${i}"`);
  return q.length <= 1 ? q.join('') : `${q.slice(0, -1).join(', ')} or ${q[q.length - 1]}`;
}
