import { validateJson } from './json-schema';
import { renderTemplate } from './template';
import type { Evaluator, EvaluatorCheck, EvaluatorKind, JsonValue, PromptFile, StringCheck } from './types';
import type { Variables } from './render';

export interface EvaluationResult {
  readonly name: string;
  readonly kind: EvaluatorKind;
  /** undefined: not run here (a hosted judge). */
  readonly passed: boolean | undefined;
  /** What was checked and, on failure, why it failed. */
  readonly detail: string;
}

type Outcome = { readonly passed: boolean | undefined; readonly detail: string };
type Runner<K extends EvaluatorKind> = (check: Extract<EvaluatorCheck, { kind: K }>, output: string, vars: Variables) => Outcome;

/**
 * String checks as GitHub Models runs them: `equals` exactly, the others ignoring case (gh-models
 * lower-cases both sides for contains, startsWith and endsWith). The expected text is a template
 * over the test case (`contains: '{{expected}}'`).
 */
const STRING_RUNNERS: { readonly [C in StringCheck]: { readonly test: (output: string, want: string) => boolean; readonly verb: string } } = {
  equals: { test: (o, w) => o === w, verb: 'equal' },
  contains: { test: (o, w) => o.toLowerCase().includes(w.toLowerCase()), verb: 'contain' },
  startsWith: { test: (o, w) => o.toLowerCase().startsWith(w.toLowerCase()), verb: 'start with' },
  endsWith: { test: (o, w) => o.toLowerCase().endsWith(w.toLowerCase()), verb: 'end with' },
};

function quote(s: string, max = 60): string {
  const one = JSON.stringify(s);
  return one.length > max ? `${one.slice(0, max - 4)}..."` : one;
}

/** One runner per evaluator kind: adding a kind to the types fails to compile until it is here. */
const RUNNERS: { readonly [K in EvaluatorKind]: Runner<K> } = {
  string(c, output, vars) {
    const want = renderTemplate(c.value, vars);
    const rule = STRING_RUNNERS[c.check];
    return { passed: rule.test(output, want), detail: `output should ${rule.verb} ${quote(want)}` };
  },
  regex(c, output) {
    const passed = new RegExp(c.pattern, c.flags).test(output);
    return { passed, detail: `output should match /${c.pattern}/${c.flags}` };
  },
  json(c, output) {
    let value: JsonValue;
    try {
      value = JSON.parse(output) as JsonValue;
    } catch (e) {
      return { passed: false, detail: `output should be valid JSON: ${(e as Error).message}` };
    }
    if (!c.schema) return { passed: true, detail: 'output should be valid JSON' };
    const violations = validateJson(value, c.schema);
    const shown = violations.slice(0, 3).map((v) => `${v.path}: ${v.message}`);
    const more = violations.length > 3 ? ` (and ${violations.length - 3} more)` : '';
    return {
      passed: violations.length === 0,
      detail: violations.length === 0 ? 'output should be JSON matching the schema' : `output should match the schema: ${shown.join('; ')}${more}`,
    };
  },
  maxLength(c, output) {
    // Code points, not UTF-16 units: what a reader counts as characters (emoji count once).
    const length = [...output].length;
    return { passed: length <= c.max, detail: `output should have at most ${c.max} characters, has ${length}` };
  },
  uses(c) {
    return { passed: undefined, detail: `hosted judge ${c.uses}: runs on GitHub Models, not run locally` };
  },
  llm(c) {
    return { passed: undefined, detail: `LLM judge${c.llm.modelId ? ` ${c.llm.modelId}` : ''}: runs on GitHub Models, not run locally` };
  },
};

function runCheck<K extends EvaluatorKind>(check: Extract<EvaluatorCheck, { kind: K }>, output: string, vars: Variables): Outcome {
  const runner: Runner<K> = RUNNERS[check.kind as K];
  return runner(check, output, vars);
}

/** Runs one evaluator on one output; `not: true` inverts a result that was run. */
export function evaluateOne(evaluator: Evaluator, output: string, vars: Variables): EvaluationResult {
  const r = runCheck(evaluator, output, vars);
  if (!evaluator.not || r.passed === undefined) return { name: evaluator.name, kind: evaluator.kind, passed: r.passed, detail: r.detail };
  return { name: evaluator.name, kind: evaluator.kind, passed: !r.passed, detail: `not: ${r.detail}` };
}

/** Runs every evaluator of the prompt on one output, with the test case's variables. */
export function evaluate(prompt: Pick<PromptFile, 'evaluators'>, output: string, vars: Variables): EvaluationResult[] {
  return prompt.evaluators.map((e) => evaluateOne(e, output, vars));
}

/** A test case passes when no evaluator that ran failed (judges not run do not count either way). */
export function casePassed(results: readonly EvaluationResult[]): boolean {
  return results.every((r) => r.passed !== false);
}
