import { isMap, isSeq, parseDocument } from 'yaml';

/**
 * Quick fixes for the problems the editor shows, computed from the text alone (no `vscode`): the
 * extension turns each into a code action. A fix is a title and the edits that make it.
 * - A key or value written wrong whose diagnostic says `(did you mean "X"?)` (prompt files and
 *   recipes alike): replace it with X.
 * - A prompt file's test value `expected` that nothing uses: add an evaluator that checks it
 *   (equals, or contains), to its `evaluators:` list or as a new list.
 */

export interface TextEdit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

export interface QuickFix {
  readonly title: string;
  readonly edits: readonly TextEdit[];
  /** The one to apply first (VS Code's preferred fix). */
  readonly preferred?: boolean;
}

/** What the fixes read of a diagnostic: its kind, its message, and the text range it covers. */
export interface FixableProblem {
  readonly code: string;
  readonly message: string;
  readonly start: number;
  readonly end: number;
}

const DID_YOU_MEAN = /\(did you mean "([^"]+)"\?\)/;

export function quickFixes(text: string, p: FixableProblem): QuickFix[] {
  const out: QuickFix[] = [];
  const suggestion = DID_YOU_MEAN.exec(p.message)?.[1];
  if (suggestion !== undefined && p.end > p.start)
    out.push({ title: `Change to "${suggestion}"`, edits: [{ start: p.start, end: p.end, text: suggestion }], preferred: true });
  if (p.code === 'unused-variable' && /test value "expected"/.test(p.message)) {
    for (const [check, preferred] of [
      ['equals', true],
      ['contains', false],
    ] as const) {
      const edit = addEvaluator(
        text,
        `  - name: ${check === 'equals' ? 'matches expected' : 'contains expected'}\n    string:\n      ${check}: "{{expected}}"\n`,
      );
      if (edit) out.push({ title: `Add an evaluator: the output ${check} {{expected}}`, edits: [edit], ...(preferred ? { preferred } : {}) });
    }
  }
  return out;
}

/**
 * The edit that appends a block-list item (written at two spaces' indent) to the top-level
 * `evaluators:` list, re-indented to the list's own; or adds the list at the end of the file. None
 * when the file is not a mapping, or its `evaluators` is not a block list.
 */
function addEvaluator(text: string, item: string): TextEdit | undefined {
  const doc = parseDocument(text);
  if (!isMap(doc.contents)) return undefined;
  const pair = doc.contents.items.find((i) => (i.key as { value?: unknown } | null)?.value === 'evaluators');
  if (!pair) {
    const lead = text.length === 0 || text.endsWith('\n') ? '' : '\n';
    return { start: text.length, end: text.length, text: `${lead}evaluators:\n${item}` };
  }
  const seq = pair.value;
  if (!isSeq(seq) || seq.flow || !seq.range) return undefined;
  const first = seq.items[0] as { range?: [number, number, number] } | undefined;
  // The column of the first item's "- ": the item's own start is after the dash.
  const itemStart = first?.range?.[0];
  const lineStart = itemStart === undefined ? -1 : text.lastIndexOf('\n', itemStart - 1) + 1;
  const dash = lineStart >= 0 ? text.slice(lineStart).search(/-/) : -1;
  const indent = dash >= 0 ? dash : 2;
  const body = item
    .split('\n')
    .map((l) => (l === '' ? l : `${' '.repeat(indent)}${l.slice(2)}`))
    .join('\n');
  // After the list's last line (the node's range ends where its value ends; take the whole line).
  const valueEnd = seq.range[1];
  const eol = text.indexOf('\n', valueEnd - 1);
  const at = eol < 0 ? text.length : eol + 1;
  const lead = at === text.length && !text.endsWith('\n') ? '\n' : '';
  return { start: at, end: at, text: `${lead}${body}` };
}
