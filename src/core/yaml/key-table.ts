/** A key path into a YAML document: keys, and list indices as numbers (`['evaluators', 0, 'string']`). */
export type KeyPath = readonly (string | number)[];

/** `['evaluators', 0, 'string']` → `evaluators[].string`: the place whose keys a key table lists. */
export function placeOf(path: KeyPath): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? '[]' : out === '' ? p : `.${p}`;
  return out;
}
