import type { JsonObject, JsonValue } from './json';
import { isShape, requiredAt, shape, type KeyTable, type Shape } from './key-table';

export interface SchemaHeader {
  readonly id: string;
  readonly title: string;
  readonly description: string;
}

/**
 * The JSON Schema (draft-07, what the Red Hat YAML extension reads) of a key table: every place
 * becomes an object schema whose properties are the place's keys, described by their docs. Unknown
 * keys are refused (`additionalProperties: false`), as the parsers warn about them.
 */
export function jsonSchemaOf(table: KeyTable, header: SchemaHeader): JsonObject {
  const expand = (s: Shape): JsonObject => {
    const out: { [k: string]: JsonValue } = {};
    for (const [k, x] of Object.entries(s)) {
      if (k === '$place' || k === '$alsoTypes') continue;
      out[k] = k === 'items' && isShape(x) ? expand(x) : x;
    }
    const place = s['$place'];
    if (typeof place !== 'string') return out;
    const also = Array.isArray(s['$alsoTypes']) ? s['$alsoTypes'] : [];
    const properties = Object.fromEntries(Object.entries(table[place] ?? {}).map(([key, spec]) => [key, { description: spec.doc, ...expand(spec.shape) }]));
    const required = requiredAt(table, place);
    return {
      type: also.length > 0 ? ['object', ...also] : 'object',
      properties,
      ...(required.length > 0 ? { required } : {}),
      additionalProperties: false,
      ...out,
    };
  };
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: header.id,
    $comment:
      'Generated from the key tables in src/core (PROMPT_KEYS, RECIPE_KEYS) by jsonSchemaOf; test/unit/language-schema.test.ts checks it (UPDATE_SCHEMAS=1 rewrites it). Do not edit by hand.',
    title: header.title,
    description: header.description,
    ...expand(shape.map('')),
  };
}
