import { diffWordsWithSpace } from 'diff';

/** A word-level diff of two outputs (jsdiff's word diff, whitespace kept), for side-by-side views. */
export interface DiffPart {
  readonly kind: 'same' | 'added' | 'removed';
  readonly text: string;
}

export function wordDiff(base: string, other: string): DiffPart[] {
  return diffWordsWithSpace(base, other).map((p) => ({ kind: p.added ? 'added' : p.removed ? 'removed' : 'same', text: p.value }));
}

/** For terminals: removed words in red strike-through style, added in green (plain markers without colour). */
export function formatDiff(parts: readonly DiffPart[], colour: boolean): string {
  return parts
    .map((p) => {
      if (p.kind === 'same') return p.text;
      if (!colour) return p.kind === 'added' ? `{+${p.text}+}` : `[-${p.text}-]`;
      return p.kind === 'added' ? `\x1b[32m${p.text}\x1b[0m` : `\x1b[31;9m${p.text}\x1b[0m`;
    })
    .join('');
}
