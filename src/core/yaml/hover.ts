import type { HoverInfo } from './editor';
import { describeShape, type KeyTable, keySpec, valuesAt } from './key-table';
import type { PositionOf } from './position';

/** Hover from a key table: a key's shape and doc, an enumerated value's choices. */

export function keyHover(table: KeyTable, info: PositionOf<'key'>): HoverInfo | undefined {
  const spec = keySpec(table, info.path, info.key);
  if (spec === undefined) return undefined;
  const detail = describeShape(table, spec.shape);
  return { markdown: `**${info.key}**${detail ? ` (${detail})` : ''}\n\n${spec.doc}`, range: { start: info.start, end: info.end } };
}

/** On an enumerated value: what the key means and the values it takes. */
export function valueHover(table: KeyTable, info: PositionOf<'value'>): HoverInfo | undefined {
  const values = valuesAt(table, info.path, info.key);
  const doc = keySpec(table, info.path, info.key)?.doc;
  if (values === undefined || doc === undefined || info.end <= info.start) return undefined;
  return { markdown: `**${info.key}**: ${values.map((x) => `\`${x}\``).join(', ')}\n\n${doc}`, range: { start: info.start, end: info.end } };
}
