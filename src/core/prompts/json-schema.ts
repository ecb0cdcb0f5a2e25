import type { JsonObject, JsonValue } from './types';

/**
 * A small JSON Schema validator for the `json` evaluator. It checks the subset that response
 * schemas use in practice (and that OpenAI's structured outputs accept):
 *
 *   type (a name or a list of names: string, number, integer, boolean, object, array, null),
 *   properties, required, additionalProperties (false, or a schema for the other properties),
 *   items (one schema for every item), enum, minLength / maxLength (in code points),
 *   minimum / maximum (inclusive).
 *
 * Every other keyword (description, format, title, $schema, pattern, oneOf, $ref, ...) is ignored,
 * so a schema using them is checked less strictly, never rejected. The shape check below warns
 * about the ones that change meaning, so that nobody believes they are enforced.
 */

export interface SchemaViolation {
  /** Where in the value: `$`, `$.address.city`, `$.skills[2]`. */
  readonly path: string;
  readonly message: string;
}

const TYPE_NAMES = ['string', 'number', 'integer', 'boolean', 'object', 'array', 'null'] as const;
type TypeName = (typeof TYPE_NAMES)[number];

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeOf(v: JsonValue): TypeName {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  if (typeof v === 'object') return 'object';
  return typeof v as 'string' | 'boolean';
}

function hasType(v: JsonValue, t: string): boolean {
  const actual = typeOf(v);
  return actual === t || (t === 'number' && actual === 'integer');
}

function sameJson(a: JsonValue, b: JsonValue): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The violations of `value` against `schema`; empty when it conforms. */
export function validateJson(value: JsonValue, schema: JsonObject, path = '$'): SchemaViolation[] {
  const out: SchemaViolation[] = [];
  const fail = (message: string, at = path) => out.push({ path: at, message });

  const type = schema['type'];
  if (typeof type === 'string' || Array.isArray(type)) {
    const types = (Array.isArray(type) ? type : [type]).filter((t): t is string => typeof t === 'string');
    if (!types.some((t) => hasType(value, t))) {
      fail(`expected ${types.join(' or ')}, got ${typeOf(value)}`);
      return out; // the other keywords would only repeat the same mistake
    }
  }

  const en = schema['enum'];
  if (Array.isArray(en) && !en.some((e) => sameJson(e, value))) fail(`expected one of ${JSON.stringify(en)}, got ${JSON.stringify(value)}`);

  if (typeof value === 'string') {
    const length = [...value].length;
    const minLength = schema['minLength'];
    const maxLength = schema['maxLength'];
    if (typeof minLength === 'number' && length < minLength) fail(`expected at least ${minLength} characters, got ${length}`);
    if (typeof maxLength === 'number' && length > maxLength) fail(`expected at most ${maxLength} characters, got ${length}`);
  }

  if (typeof value === 'number') {
    const minimum = schema['minimum'];
    const maximum = schema['maximum'];
    if (typeof minimum === 'number' && value < minimum) fail(`expected at least ${minimum}, got ${value}`);
    if (typeof maximum === 'number' && value > maximum) fail(`expected at most ${maximum}, got ${value}`);
  }

  if (Array.isArray(value)) {
    const items = schema['items'];
    if (isObject(items)) value.forEach((item: JsonValue, i: number) => out.push(...validateJson(item, items, `${path}[${i}]`)));
  }

  if (isObject(value)) {
    const properties = isObject(schema['properties']) ? schema['properties'] : {};
    const required = schema['required'];
    if (Array.isArray(required)) {
      for (const r of required) if (typeof r === 'string' && !Object.hasOwn(value, r)) fail(`missing required property "${r}"`);
    }
    const additional = schema['additionalProperties'];
    for (const [k, v] of Object.entries(value)) {
      const sub = properties[k];
      const at = `${path}.${k}`;
      if (isObject(sub)) out.push(...validateJson(v, sub, at));
      else if (!Object.hasOwn(properties, k)) {
        if (additional === false) fail(`unexpected property "${k}"`, at);
        else if (isObject(additional)) out.push(...validateJson(v, additional, at));
      }
    }
  }
  return out;
}

/** A problem with a schema itself, with the key path inside the schema where it is. */
export interface SchemaProblem {
  readonly path: readonly string[];
  readonly message: string;
  readonly severity: 'error' | 'warning';
}

/** Keywords outside the subset that constrain values: a schema using them is checked less strictly. */
const UNCHECKED_CONSTRAINTS = [
  'pattern',
  'oneOf',
  'anyOf',
  'allOf',
  'not',
  '$ref',
  'const',
  'minItems',
  'maxItems',
  'uniqueItems',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'patternProperties',
  'minProperties',
  'maxProperties',
];

/** Checks that a schema is one the validator understands; recurses into properties and items. */
export function checkSchema(schema: JsonObject, path: readonly string[] = []): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  const type = schema['type'];
  if (type !== undefined) {
    const types = Array.isArray(type) ? type : [type];
    for (const t of types) {
      if (typeof t !== 'string' || !(TYPE_NAMES as readonly string[]).includes(t)) {
        out.push({ path: [...path, 'type'], severity: 'error', message: `unknown JSON schema type ${JSON.stringify(t)}: use one of ${TYPE_NAMES.join(', ')}` });
      }
    }
  }
  const required = schema['required'];
  if (required !== undefined && !(Array.isArray(required) && required.every((r) => typeof r === 'string'))) {
    out.push({ path: [...path, 'required'], severity: 'error', message: '"required" must be a list of property names' });
  }
  const properties = schema['properties'];
  if (properties !== undefined) {
    if (!isObject(properties))
      out.push({ path: [...path, 'properties'], severity: 'error', message: '"properties" must be a mapping from property names to schemas' });
    else {
      for (const [k, v] of Object.entries(properties)) {
        if (isObject(v)) out.push(...checkSchema(v, [...path, 'properties', k]));
        else out.push({ path: [...path, 'properties', k], severity: 'error', message: `the schema of property "${k}" must be a mapping` });
      }
    }
  }
  const items = schema['items'];
  if (items !== undefined) {
    if (isObject(items)) out.push(...checkSchema(items, [...path, 'items']));
    else out.push({ path: [...path, 'items'], severity: 'error', message: '"items" must be one schema (a mapping); lists of schemas are not supported' });
  }
  const additional = schema['additionalProperties'];
  if (isObject(additional)) out.push(...checkSchema(additional, [...path, 'additionalProperties']));
  for (const k of ['minLength', 'maxLength', 'minimum', 'maximum']) {
    if (schema[k] !== undefined && typeof schema[k] !== 'number') out.push({ path: [...path, k], severity: 'error', message: `"${k}" must be a number` });
  }
  for (const k of UNCHECKED_CONSTRAINTS) {
    if (schema[k] !== undefined)
      out.push({
        path: [...path, k],
        severity: 'warning',
        message: `"${k}" is not checked by Tuneloop's json evaluator (it checks type, properties, required, items, enum, additionalProperties, minLength, maxLength, minimum, maximum)`,
      });
  }
  return out;
}

/**
 * GitHub accepts OpenAI's structured-output wrapper `{name, strict, schema}` as well as a bare
 * schema; the wrapper is recognised by a `schema` mapping and no `type` or `properties` of its own.
 */
export function unwrapSchema(value: JsonObject): JsonObject {
  const inner = value['schema'];
  if (isObject(inner) && value['type'] === undefined && value['properties'] === undefined) return inner;
  return value;
}

export { isObject as isJsonObject };
