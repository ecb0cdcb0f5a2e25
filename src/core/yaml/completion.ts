import type { CompletionEntry } from './editor';
import { describeShape, type KeyTable, keySpec, placeOf, type Shape, valuesAt } from './key-table';
import type { PositionInfo, PositionOf } from './position';

/**
 * Completion of keys and enumerated values from a key table: what prompt files and adapter recipes
 * share. Keys come in the table's order with their docs; a key that opens a mapping or a list
 * inserts the block, one with enumerated values offers them as a snippet choice.
 */

/** Which position kinds each trigger character may open a list for. */
const TRIGGERS: { readonly [ch: string]: (text: string, offset: number, info: PositionInfo) => boolean } = {
  '{': (_t, _o, info) => info.kind === 'placeholder',
  ':': () => false,
  ' ': (text, offset, info) =>
    (info.kind === 'value' && info.prefix === '') || (info.kind === 'key' && /-\s$/.test(text.slice(Math.max(0, offset - 2), offset))),
};

/**
 * Whether a list should open: `trigger` is the character that opened it, if one did. A space only
 * asks for something right after `key: ` or a list dash, so that spaces typed in indentation or in
 * prose open nothing.
 */
export function triggerFits(text: string, offset: number, info: PositionInfo, trigger: string | undefined): boolean {
  const rule = trigger === undefined ? undefined : TRIGGERS[trigger];
  return rule === undefined ? true : rule(text, offset, info);
}

/** Keys allowed at the position and not yet written in the same mapping, with their docs. */
export function keyCompletions(table: KeyTable, text: string, info: PositionOf<'key'>): CompletionEntry[] {
  const keys = table[placeOf(info.path)];
  if (keys === undefined) return [];
  const present = siblingKeys(text, info.start);
  const colonFollows = /^\s*:/.test(text.slice(info.end));
  return Object.entries(keys)
    .filter(([key]) => !present.has(key) || key === info.key)
    .map(([key, spec], i) => {
      const s = spec.shape;
      const opens = colonFollows ? undefined : blockKind(s);
      return {
        label: key,
        kind: 'key' as const,
        snippet: colonFollows ? escapeSnippet(key) : keySnippet(key, s, valuesAt(table, info.path, key)),
        range: { start: info.start, end: info.end },
        ...optional('detail', describeShape(table, s)),
        documentation: spec.doc,
        // The table's order is the documented order (name, description, model, ...): keep it.
        sortText: String(i).padStart(3, '0'),
        ...(opens === 'list' ? { retrigger: true } : {}),
      };
    });
}

export function valueCompletions(table: KeyTable, info: PositionOf<'value'>): CompletionEntry[] {
  const values = valuesAt(table, info.path, info.key);
  if (values === undefined) return [];
  const doc = keySpec(table, info.path, info.key)?.doc;
  return values.map((value, i) => ({
    label: value,
    kind: 'value' as const,
    snippet: escapeSnippet(value),
    range: { start: info.start, end: info.end },
    ...optional('documentation', doc),
    sortText: String(i).padStart(3, '0'),
  }));
}

function blockKind(s: Shape | undefined): 'map' | 'list' | undefined {
  if (s === undefined) return undefined;
  if (typeof s['$place'] === 'string' && s['$alsoTypes'] === undefined) return 'map';
  if (s['type'] === 'array') return 'list';
  return undefined;
}

/** `key: ` and what follows: a block for mappings and lists, a choice for enumerated values. */
function keySnippet(key: string, s: Shape | undefined, values: readonly string[] | undefined): string {
  const k = escapeSnippet(key);
  const block = blockKind(s);
  if (block === 'map') return `${k}:\n\t$0`;
  if (block === 'list') return `${k}:\n\t- $0`;
  if (values !== undefined && values.length > 0) return `${k}: \${1|${values.map(escapeChoice).join(',')}|}`;
  return `${k}: $0`;
}

/**
 * The keys already written in the mapping that holds a key starting at `keyStart`: the lines above
 * and below whose key starts in the same column, up to the lines that close the mapping (less
 * indentation, or a list dash opening the next item). Read from lines, like positionInfo, because
 * the text being completed is often not valid YAML.
 */
export function siblingKeys(text: string, keyStart: number): Set<string> {
  const lineStart = text.lastIndexOf('\n', keyStart - 1) + 1;
  const col = keyStart - lineStart;
  const lines = text.split('\n');
  const here = text.slice(0, lineStart).split('\n').length - 1;
  const out = new Set<string>();
  // A key right after a list dash starts its item: the lines above belong to the item before.
  const startsItem = /-\s+$/.test(text.slice(lineStart, keyStart));
  const visit = (i: number, upwards: boolean): boolean => {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '' || line.trim().startsWith('#')) return true;
    const m = /^(\s*)((?:-\s+)*)(?:(?:"([^"]*)"|'([^']*)'|([^\s:#"'{[][^:#]*?))\s*:(?:\s|$))?/.exec(line)!;
    const indent = m[1]!.length;
    const keyCol = indent + m[2]!.length;
    const key = m[3] ?? m[4] ?? m[5];
    const dashed = m[2]!.length > 0;
    if (keyCol === col && key !== undefined) {
      // Going down, a dash before a key at our column starts the next item of the list.
      if (dashed && !upwards) return false;
      out.add(key);
      return !dashed; // going up, the dash is where our item begins
    }
    return indent >= col;
  };
  if (!startsItem) for (let i = here - 1; i >= 0 && visit(i, true); i--);
  for (let i = here + 1; i < lines.length && visit(i, false); i++);
  return out;
}

/** `{ key: value }` when the value is defined, else nothing (for optional properties). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** Snippet syntax treats `$`, `}` and `\` specially. */
export function escapeSnippet(s: string): string {
  return s.replace(/[\\$}]/g, (c) => `\\${c}`);
}

/** Inside a snippet choice, `,` and `|` are special too. */
function escapeChoice(s: string): string {
  return s.replace(/[\\$}|,]/g, (c) => `\\${c}`);
}
