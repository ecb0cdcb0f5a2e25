/** A JSON value, as YAML values read as data (test cases, JSON schemas) and JSON Schemas hold them. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };
export type JsonObject = { readonly [key: string]: JsonValue };
