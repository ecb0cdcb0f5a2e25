import { labelOf } from '../../src/core/compare/labels';
import { el } from '../dom';
import { type CellView, cellText } from './state';

/**
 * A test case's `expected` value beside the outputs: the value itself, and on each finished output a
 * mark saying whether the output equals it (leading and trailing whitespace aside). The mark is this
 * comparison only; the file's evaluators, shown beside it, decide what passes.
 */
export function expectedBlock(expected: string, tag: 'div' | 'span' = 'div'): HTMLElement {
  return el(tag, { class: 'expected' }, el('span', { class: 'muted' }, 'expected: '), el('span', { class: 'expected-text' }, expected || '(empty)'));
}

function matchesExpected(text: string, expected: string): boolean {
  return text.trim() === expected.trim();
}

/**
 * The mark for a cell: only once it has finished without an error, and only when its case has an
 * expected value. With `labels` (label mode), the output is read as a label as the label metrics
 * read it (`Negative.` is the label `negative`), so that the mark and the accuracy agree.
 */
export function expectedMark(c: CellView | undefined, expected: string | undefined, labels?: readonly string[]): HTMLElement | null {
  if (expected === undefined || !c?.cell || c.running || c.cell.finish === 'error') return null;
  if (labels) {
    const read = labelOf(cellText(c), labels);
    const same = read === expected;
    return el(
      'span',
      { class: `expected-mark ${same ? 'pass' : 'fail'}`, title: 'Label mode: the output read as a label (case and a final full stop aside)' },
      same ? '✓ the expected label' : labels.includes(read) ? `✗ read as ${read}` : '✗ not a label',
    );
  }
  const same = matchesExpected(cellText(c), expected);
  return el(
    'span',
    { class: `expected-mark ${same ? 'pass' : 'fail'}`, title: same ? 'The output equals the expected value' : 'The output differs from the expected value' },
    same ? '✓ equals expected' : '✗ differs from expected',
  );
}
