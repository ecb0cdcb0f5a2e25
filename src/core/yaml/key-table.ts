import type { JsonValue } from './json';
import type { NumberRule } from './reader';

/**
 * A key table: every key a YAML file kind may hold, by place, with what it means (doc), the value it
 * takes (shape) and the values completion offers. One table per file kind (prompts/key-table.ts,
 * recipes/key-table.ts) is what the parser's unknown-key warnings and number checks, completion,
 * hover and the JSON Schema (json-schema.ts) all read, so they cannot disagree.
 *
 * Places are written as key paths with `[]` for "any item of a list": `evaluators[].string`.
 * Places not listed are free-form (test cases, JSON schemas) or scalars.
 */
export type KeyTable = { readonly [place: string]: PlaceKeys };

/** The keys of one mapping, in the order completion offers them and the JSON Schema lists them. */
export type PlaceKeys = { readonly [key: string]: KeySpec };

export interface KeySpec {
  /** One line of documentation, for hover, completion and the JSON Schema's description. */
  readonly doc: string;
  readonly shape: Shape;
  /** The mapping must have this key. */
  readonly required?: boolean;
  /** Values completion offers, where they are not the shape's own (its enum, its examples, true/false). */
  readonly values?: readonly string[];
  /** For a number: what a value means, said after the allowed range in diagnostics (`0 turns top-k off`). */
  readonly note?: string;
  /** For a number: the allowed values in diagnostics' words, where the range alone would mislead. */
  readonly expects?: string;
}

/**
 * The value a key takes, as a JSON Schema fragment. `$place` marks a mapping whose keys are the
 * table's place of that name; the schema generator expands it, completion reads it to know that the
 * key opens a block.
 */
export type Shape = { readonly [keyword: string]: JsonValue };

type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array' | 'null';

/** Constructors for shapes: short to read in the tables. */
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

/** A key path into a YAML document: keys, and list indices as numbers (`['evaluators', 0, 'string']`). */
export type KeyPath = readonly (string | number)[];

/** `['evaluators', 0, 'string']` → `evaluators[].string`: the place whose keys a key table lists. */
export function placeOf(path: KeyPath): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? '[]' : out === '' ? p : `.${p}`;
  return out;
}

/** The keys allowed in the mapping at this path, or undefined where keys are free-form. */
export function keysAt(table: KeyTable, path: KeyPath): readonly string[] | undefined {
  const keys = table[placeOf(path)];
  return keys === undefined ? undefined : Object.keys(keys);
}

/** What the table says about a key of the mapping at `parent`. */
export function keySpec(table: KeyTable, parent: KeyPath, key: string): KeySpec | undefined {
  const keys = table[placeOf(parent)];
  return keys !== undefined && Object.hasOwn(keys, key) ? keys[key] : undefined;
}

/** The keys a mapping at this place must have, in the table's order. */
export function requiredAt(table: KeyTable, place: string): string[] {
  return Object.entries(table[place] ?? {})
    .filter(([, spec]) => spec.required === true)
    .map(([key]) => key);
}

/** The values a key may take, for completion and hover: the table's list, else the shape's. */
export function valuesAt(table: KeyTable, parent: KeyPath, key: string): readonly string[] | undefined {
  const spec = keySpec(table, parent, key);
  return spec?.values ?? shapeValues(spec?.shape);
}

/** The values a shape suggests: its enum, its examples, or true/false. */
export function shapeValues(s: Shape | undefined): readonly string[] | undefined {
  if (s === undefined) return undefined;
  const list = s['enum'] ?? s['examples'];
  if (Array.isArray(list)) return list.map(String);
  return s['type'] === 'boolean' ? ['true', 'false'] : undefined;
}

/** The largest integer a number keeps exactly: as an upper bound it says only "an integer", so words omit it. */
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

/**
 * The parser's rule for a number-valued key, from its shape: the same limits the JSON Schema states,
 * in the words diagnostics use (`an integer ≥ 1`, `a number from 0 to 2`).
 */
export function numberRule(table: KeyTable, place: string, key: string): NumberRule {
  const spec = table[place]?.[key];
  if (spec === undefined) throw new Error(`no key "${key}" at "${place}" in the key table`);
  const s = spec.shape;
  const integer = s['type'] === 'integer';
  const exclusive = typeof s['exclusiveMinimum'] === 'number' ? s['exclusiveMinimum'] : undefined;
  const inclusive = typeof s['minimum'] === 'number' ? s['minimum'] : undefined;
  const min = exclusive ?? inclusive;
  const max = typeof s['maximum'] === 'number' ? s['maximum'] : undefined;
  const words =
    spec.expects ?? `${rangeWords(integer, min, exclusive !== undefined, max === UNBOUNDED ? undefined : max)}${spec.note ? ` (${spec.note})` : ''}`;
  return {
    ...(integer ? { integer } : {}),
    ...(min !== undefined ? { min } : {}),
    ...(exclusive !== undefined ? { minExclusive: true } : {}),
    ...(max !== undefined ? { max } : {}),
    text: words,
  };
}

function rangeWords(integer: boolean, min: number | undefined, minExclusive: boolean, max: number | undefined): string {
  const what = integer ? 'an integer' : 'a number';
  if (min === undefined) return max === undefined ? what : `${what} ≤ ${max}`;
  if (minExclusive) return max === undefined ? `${what} greater than ${min}` : `${what} greater than ${min} and at most ${max}`;
  return max === undefined ? `${what} ≥ ${min}` : `${what} from ${min} to ${max}`;
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

/** One line about a shape, for completion's detail column and hover: `integer ≥ 1`, `system | user | assistant`. */
export function describeShape(table: KeyTable, s: Shape | undefined): string | undefined {
  if (s === undefined) return undefined;
  const place = s['$place'];
  if (typeof place === 'string') {
    const also = Array.isArray(s['$alsoTypes']) ? s['$alsoTypes'] : [];
    const keys = Object.keys(table[place] ?? {}).join(', ');
    return also.length > 0 ? `${also.join(' or ')}, or a mapping: ${keys}` : `mapping: ${keys}`;
  }
  const en = s['enum'];
  if (Array.isArray(en)) return en.join(' | ');
  const items = s['items'];
  if (s['type'] === 'array' && isShape(items) && typeof items['$place'] === 'string')
    return `list of mappings: ${Object.keys(table[items['$place']] ?? {}).join(', ')}`;
  const type = s['type'];
  const types = Array.isArray(type) ? type.join(',') : String(type ?? '');
  const word = TYPE_WORDS[types] ?? types;
  const lo = s['exclusiveMinimum'] ?? s['minimum'];
  const hi = s['maximum'] === UNBOUNDED ? undefined : s['maximum'];
  if (typeof lo === 'number' && typeof hi === 'number') return `${word}, ${s['exclusiveMinimum'] !== undefined ? `> ${lo} and ≤ ${hi}` : `${lo} to ${hi}`}`;
  if (typeof lo === 'number') return `${word} ${s['exclusiveMinimum'] !== undefined ? '>' : '≥'} ${lo}`;
  return word || undefined;
}

export function isShape(x: JsonValue | undefined): x is Shape {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
