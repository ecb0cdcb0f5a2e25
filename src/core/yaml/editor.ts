/**
 * What the editor features of Tuneloop's YAML files give the editor: plain data (offsets, Markdown,
 * snippet text), so that the VS Code side is a thin translation and the tests call the features
 * directly. Offsets are 0-based UTF-16 indices, as `document.offsetAt` gives them.
 */

export interface TextRange {
  readonly start: number;
  readonly end: number;
}

export type CompletionKind = 'variable' | 'key' | 'value';

export interface CompletionEntry {
  readonly label: string;
  readonly kind: CompletionKind;
  /** Snippet syntax (`$0`, `${1|a,b|}`, `\t` for one indentation step); plain text is escaped. */
  readonly snippet: string;
  /** The text the entry replaces; it always contains the offset asked about. */
  readonly range: TextRange;
  /** One line beside the label. */
  readonly detail?: string;
  /** Markdown. */
  readonly documentation?: string;
  /** Orders the list (editors sort by label otherwise). */
  readonly sortText?: string;
  /** Ask for completion again after inserting (a new list item wants its keys offered). */
  readonly retrigger?: boolean;
}

export interface HoverInfo {
  /** Markdown. */
  readonly markdown: string;
  readonly range: TextRange;
}

/**
 * What a CodeLens asks for. Core names the action; the extension owns the command that performs it
 * (src/extension/language/lens-commands.ts), so no VS Code command id lives in core.
 */
export type LensAction = 'run' | 'compare' | 'preview' | 'train' | 'distill';

export interface LensSpec {
  /** Where the lens sits: the start of the line it is shown above. */
  readonly offset: number;
  readonly title: string;
  readonly tooltip: string;
  readonly action: LensAction;
  /** For a lens on one test case: its index in `testData` (the command runs that case). */
  readonly caseIndex?: number;
}

/**
 * The start of the first line that holds YAML (not blank, not a comment): a file's leading comment
 * stays at the very top, and the lenses sit right above the prompt itself. 0 for a file of comments.
 */
export function firstContentLine(text: string): number {
  let offset = 0;
  for (const line of text.split('\n')) {
    if (!/^\s*(#.*)?$/.test(line)) return offset;
    offset += line.length + 1;
  }
  return 0;
}
