import { wordDiff } from '../../src/core/compare/words';
import type { TokenInfo } from '../../src/extension/panel/protocol';
import { el } from '../dom';
import { type CellView, cellText } from './state';

/**
 * One output as the page shows it: plain text, tokens shaded by their probability, or a word diff
 * against another output (jsdiff's word diff, through src/core/compare/words.ts, as the CLI prints it).
 * Shading uses classes (p1 … p5) that the stylesheet colours from the theme: no inline styles.
 */
export function probabilityClass(logprob: number): string {
  const p = Math.exp(logprob);
  if (p >= 0.9) return 'p0';
  if (p >= 0.7) return 'p1';
  if (p >= 0.5) return 'p2';
  if (p >= 0.3) return 'p3';
  if (p >= 0.1) return 'p4';
  return 'p5';
}

/** Tokens cut to the final text (a stop string is generated, then left out of the text). */
function visibleTokens(c: CellView): { token: TokenInfo; text: string }[] {
  const limit = c.cell ? c.cell.text.length : Infinity;
  const out: { token: TokenInfo; text: string }[] = [];
  let used = 0;
  for (const t of c.tokens) {
    if (used >= limit) break;
    const text = t.text.slice(0, Math.max(0, limit - used));
    used += t.text.length;
    out.push({ token: t, text });
  }
  return out;
}

export function renderOutput(target: HTMLElement, c: CellView | undefined, options: { shade: boolean; against?: string | undefined }): void {
  const nodes: Node[] = [];
  if (!c) {
    target.replaceChildren();
    return;
  }
  if (options.against !== undefined) {
    for (const part of wordDiff(options.against, cellText(c))) {
      if (part.kind === 'same') nodes.push(document.createTextNode(part.text));
      else if (part.kind === 'added') nodes.push(el('ins', { class: 'added', title: 'added by this variant' }, part.text));
      else nodes.push(el('del', { class: 'removed', title: 'in the base output only' }, part.text));
    }
  } else if (options.shade) {
    for (const { token, text } of visibleTokens(c)) {
      const p = Math.exp(token.logprob);
      nodes.push(el('span', { class: `tok ${probabilityClass(token.logprob)}`, title: `p = ${p < 0.001 ? p.toExponential(1) : p.toFixed(3)}` }, text));
    }
  } else nodes.push(document.createTextNode(cellText(c)));
  if (c.running) nodes.push(el('span', { class: 'caret', 'aria-hidden': 'true' }, '▍'));
  target.replaceChildren(...nodes);
}

/** The legend of the shading. */
export function shadeLegend(): HTMLElement {
  return el(
    'span',
    { class: 'legend', 'aria-label': 'token probability legend' },
    'p ≥ 0.9 ',
    el('span', { class: 'tok p0' }, 'plain'),
    ' ',
    el('span', { class: 'tok p2' }, '0.5'),
    ' ',
    el('span', { class: 'tok p4' }, '0.1'),
    ' ',
    el('span', { class: 'tok p5' }, '< 0.1'),
  );
}
