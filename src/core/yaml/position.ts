import { type KeyPath, type KeyTable, keysAt, valuesAt } from './key-table';

/**
 * What is at an offset of a YAML file's text, for completion and hover (the editor turns a
 * position into an offset with document.offsetAt). Offsets are 0-based UTF-16 indices; `start`
 * and `end` give the range an editor replaces or highlights.
 *
 * This reads lines and indentation rather than the YAML document, because completion runs on
 * half-typed text that is often not valid YAML (a key without its colon yet, `{{` without `}}`).
 * It understands block mappings and sequences, which is what Tuneloop's files are made of; inside
 * flow collections (`{a: 1}`) and block scalars (`content: |`) there are no keys, and it says so.
 */
export type PositionInfo =
  | {
      readonly kind: 'placeholder';
      /** The whole name written between the braces ('' right after typing `{{`). */
      readonly variable: string;
      /** The part of the name before the offset. */
      readonly prefix: string;
      /** The placeholder, braces included (up to the end of the name when not closed yet). */
      readonly start: number;
      readonly end: number;
      /** The name alone. */
      readonly nameStart: number;
      readonly nameEnd: number;
      readonly closed: boolean;
    }
  | {
      readonly kind: 'key';
      /** The key path of the mapping the key belongs to: [] top level, ['evaluators', 0, 'string'], ... */
      readonly path: KeyPath;
      /** The whole key under the offset, and the part before the offset. */
      readonly key: string;
      readonly prefix: string;
      readonly start: number;
      readonly end: number;
      /** Keys allowed here (the file kind's key table), undefined where keys are free-form (test cases). */
      readonly keys: readonly string[] | undefined;
    }
  | {
      readonly kind: 'value';
      readonly path: KeyPath;
      readonly key: string;
      readonly prefix: string;
      readonly start: number;
      readonly end: number;
      /** Values this key takes (roles, response formats, judges), when there is such a list. */
      readonly values: readonly string[] | undefined;
    }
  | { readonly kind: 'none' };

const PLACEHOLDER_AT = /\{\{\s*([^{}\s]*)\s*(\}\})?/g;
const KEY_CHARS = /^[\w$.-]*/;

/** One kind of position, for functions that serve only that kind. */
export type PositionOf<K extends PositionInfo['kind']> = Extract<PositionInfo, { kind: K }>;

/** What is at `offset`; `table`, the file kind's key table, gives the keys and values allowed there. */
export function positionInfo(text: string, offset: number, table: KeyTable): PositionInfo {
  const at = Math.max(0, Math.min(offset, text.length));
  const lineStart = text.lastIndexOf('\n', at - 1) + 1;
  const nl = text.indexOf('\n', at);
  const lineEnd = nl < 0 ? text.length : nl;
  const line = text.slice(lineStart, lineEnd).replace(/\r$/, '');
  const column = at - lineStart;

  const ph = placeholderAt(line, column, lineStart);
  if (ph) return ph;

  const before = line.slice(0, column);
  const above = text.slice(0, lineStart).split('\n');
  above.pop(); // the empty piece after the last newline

  // A key being typed or hovered: only indentation, list dashes and a key-like word before it.
  const keyMatch = /^(\s*)((?:-\s+)*)([A-Za-z_$"'][\w$.-]*)?$/.exec(before);
  if (keyMatch && !/^\s*#/.test(before)) {
    const dashes = dashColumns(keyMatch[1]!.length, keyMatch[2]!);
    const keyCol = keyMatch[1]!.length + keyMatch[2]!.length;
    const path = ancestors(above, dashes, keyCol);
    if (!path) return { kind: 'none' };
    const typed = (keyMatch[3] ?? '').replace(/^["']/, '');
    const rest = KEY_CHARS.exec(line.slice(column))![0];
    const start = lineStart + keyCol + ((keyMatch[3] ?? '').length - typed.length);
    return { kind: 'key', path, key: typed + rest, prefix: typed, start, end: at + rest.length, keys: keysAt(table, path) };
  }

  // A value after `key:` on the same line.
  const valueMatch = /^(\s*)((?:-\s+)*)(?:"([^"]*)"|'([^']*)'|([^\s:#"'][^:#]*?))\s*:\s+(["']?)([^#]*)$/.exec(before);
  if (valueMatch) {
    const dashes = dashColumns(valueMatch[1]!.length, valueMatch[2]!);
    const keyCol = valueMatch[1]!.length + valueMatch[2]!.length;
    const path = ancestors(above, dashes, keyCol);
    if (!path) return { kind: 'none' };
    const key = valueMatch[3] ?? valueMatch[4] ?? valueMatch[5]!;
    const prefix = valueMatch[7]!;
    if (/^[|>]/.test(prefix) || /^[{[]/.test(prefix)) return { kind: 'none' };
    const rest = /^[^\s"'#,]*/.exec(line.slice(column))![0];
    return { kind: 'value', path, key, prefix, start: at - prefix.length, end: at + rest.length, values: valuesAt(table, path, key) };
  }
  return { kind: 'none' };
}

function placeholderAt(line: string, column: number, lineStart: number): PositionInfo | undefined {
  for (const m of line.matchAll(PLACEHOLDER_AT)) {
    const start = m.index;
    const closed = m[2] !== undefined;
    const name = m[1]!;
    const nameStart = start + m[0].indexOf(name, 2);
    const nameEnd = nameStart + name.length;
    // Closed: anywhere on `{{ name }}`, braces included (hover). Open: from after `{{` to the end of
    // the name typed so far (completion).
    const inside = closed ? column >= start && column < start + m[0].length : column >= start + 2 && column <= nameEnd;
    if (!inside) continue;
    const prefix = name.slice(0, Math.max(0, Math.min(name.length, column - nameStart)));
    const end = closed ? start + m[0].length : nameEnd;
    return {
      kind: 'placeholder',
      variable: name,
      prefix,
      start: lineStart + start,
      end: lineStart + end,
      nameStart: lineStart + nameStart,
      nameEnd: lineStart + nameEnd,
      closed,
    };
  }
  return undefined;
}

/** The columns of the `-` of each list dash in `- - `, starting at `indent`. */
function dashColumns(indent: number, dashes: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < dashes.length; i++) if (dashes[i] === '-') out.push(indent + i);
  return out;
}

type Element =
  | { readonly kind: 'dash'; readonly col: number }
  | { readonly kind: 'key'; readonly col: number; readonly name: string; readonly value: 'none' | 'inline' | 'block' };

/** The dashes and the key of one line of block YAML, left to right; [] for blank and comment lines. */
function elements(line: string): Element[] {
  const out: Element[] = [];
  let col = /^\s*/.exec(line)![0].length;
  while (line[col] === '-' && (col + 1 === line.length || /\s/.test(line[col + 1]!))) {
    out.push({ kind: 'dash', col });
    col += 1;
    col += /^\s*/.exec(line.slice(col))![0].length;
  }
  const rest = line.slice(col);
  if (rest === '' || rest.startsWith('#')) return out;
  const m = /^(?:"([^"]*)"|'([^']*)'|([^\s:#"'{[][^:#]*?))\s*:(?:\s+|$)(.*)$/.exec(rest);
  if (!m) return out;
  const value = m[4]!.replace(/(^|\s)#.*$/, '').trim();
  out.push({ kind: 'key', col, name: m[1] ?? m[2] ?? m[3]!, value: value === '' ? 'none' : /^[|>][-+0-9]*$/.test(value) ? 'block' : 'inline' });
  return out;
}

/**
 * The key path of the mapping that holds a key at column `col`, found by walking up through the
 * lines above (and the dashes before the key on its own line). Undefined when the column is inside
 * a block scalar or otherwise cannot hold a key.
 */
function ancestors(above: readonly string[], dashesOnLine: readonly number[], keyCol: number): KeyPath | undefined {
  const path: (string | number)[] = [];
  let col = keyCol;
  let mode = 'key' as 'key' | 'item';
  let count = 0;

  const visit = (el: Element): boolean => {
    if (el.col > col) return true;
    if (mode === 'key') {
      if (el.col === col) return true; // a sibling key, or the dash of an item at our own column
      if (el.kind === 'dash') {
        mode = 'item';
        col = el.col;
        count = 1;
        return true;
      }
      if (el.value !== 'none') return false; // our column is inside that key's (block) value
      path.unshift(el.name);
      col = el.col;
      return true;
    }
    // mode 'item': an item of a list whose dashes are at `col`
    if (el.kind === 'dash') {
      if (el.col === col) count++;
      else {
        path.unshift(count - 1);
        col = el.col;
        count = 1;
      }
      return true;
    }
    // A key with a value at the dash column ends nothing we are in; one left of it means bad YAML.
    if (el.value !== 'none') return el.col === col;
    // A key at the dash column or left of it owns the list (YAML allows `key:\n- item`).
    path.unshift(el.name, count - 1);
    mode = 'key';
    col = el.col;
    return true;
  };

  for (const d of [...dashesOnLine].reverse()) if (!visit({ kind: 'dash', col: d })) return undefined;
  for (let i = above.length - 1; i >= 0; i--) {
    const line = above[i]!.replace(/\r$/, '');
    if (/^(---|\.\.\.)(\s|$)/.test(line)) break;
    const els = elements(line).reverse();
    for (const el of els) if (!visit(el)) return undefined;
  }
  if (mode === 'item') path.unshift(count - 1);
  return path;
}
