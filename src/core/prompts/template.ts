import type { TestValue } from './types';

/**
 * `{{name}}` placeholders, as GitHub Models prompt files use them in message contents and
 * evaluator strings. Whitespace inside the braces is allowed (`{{ name }}`); a name is any run of
 * characters other than braces and whitespace, since test data keys are free-form. Anything else
 * between braces (`{{}}`, `{{a b}}`) is not a placeholder and stays text.
 */
const PLACEHOLDER = /\{\{\s*([^{}\s]+)\s*\}\}/g;

export interface Placeholder {
  /** The variable name, without braces or whitespace. */
  readonly name: string;
  /** Offsets in the template of the whole `{{ name }}`, end exclusive. */
  readonly start: number;
  readonly end: number;
  /** The placeholder as written, e.g. `{{ name }}`. */
  readonly raw: string;
}

export function placeholders(template: string): Placeholder[] {
  const out: Placeholder[] = [];
  for (const m of template.matchAll(PLACEHOLDER)) {
    out.push({ name: m[1]!, start: m.index, end: m.index + m[0].length, raw: m[0] });
  }
  return out;
}

/** The distinct variable names a template uses, in order of first use. */
export function variableNames(template: string): string[] {
  return [...new Set(placeholders(template).map((p) => p.name))];
}

/**
 * How a test value reads inside a prompt: strings as they are, numbers and booleans as YAML wrote
 * them, null as nothing, and lists or mappings as JSON (the most useful text for a model to see).
 */
export function valueText(value: TestValue): string {
  if (typeof value === 'string') return value;
  if (value === null) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * Replace each `{{name}}` by its value. One pass over the template: a value that itself contains
 * `{{x}}` is inserted as text and not expanded again, so test data cannot inject placeholders and
 * the result does not depend on the order of the variables. Unknown placeholders stay as written,
 * as GitHub leaves them.
 */
export function renderTemplate(template: string, vars: { readonly [name: string]: TestValue | undefined }): string {
  return template.replace(PLACEHOLDER, (raw: string, name: string) => {
    const value = Object.hasOwn(vars, name) ? vars[name] : undefined;
    return value === undefined ? raw : valueText(value);
  });
}
