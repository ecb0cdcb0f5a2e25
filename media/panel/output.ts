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

function tokenSpan(logprob: number, text: string): HTMLElement {
  const p = Math.exp(logprob);
  return el('span', { class: `tok ${probabilityClass(logprob)}`, title: `p = ${p < 0.001 ? p.toExponential(1) : p.toFixed(3)}` }, text);
}

/**
 * The characters [from, to) of the output, as shaded token pieces (a token cut by a diff boundary is
 * shaded on both sides of it).
 */
function shadedRange(tokens: readonly { token: TokenInfo; text: string }[], from: number, to: number): Node[] {
  const out: Node[] = [];
  let at = 0;
  for (const { token, text } of tokens) {
    const start = Math.max(from, at);
    const end = Math.min(to, at + text.length);
    if (start < end) out.push(tokenSpan(token.logprob, text.slice(start - at, end - at)));
    at += text.length;
    if (at >= to) break;
  }
  return out;
}

const endsInSpace = (t: string) => /\s$/.test(t);
const startsWithSpace = (t: string) => /^\s/.test(t);

export function renderOutput(target: HTMLElement, c: CellView | undefined, options: { shade: boolean; against?: string | undefined }): void {
  const nodes: Node[] = [];
  if (!c) {
    target.replaceChildren();
    return;
  }
  if (options.against !== undefined) {
    const text = cellText(c);
    const parts = wordDiff(options.against, text);
    // Shading inside the diff, when the shown parts rebuild the text the tokens spell.
    const tokens = options.shade ? visibleTokens(c) : [];
    const shade =
      options.shade &&
      tokens.map((t) => t.text).join('') === text &&
      parts
        .filter((p) => p.kind !== 'removed')
        .map((p) => p.text)
        .join('') === text;
    let at = 0;
    let previous: (typeof parts)[number] | undefined;
    for (const part of parts) {
      const content = part.kind !== 'removed' && shade ? shadedRange(tokens, at, at + part.text.length) : [part.text];
      if (part.kind !== 'removed') at += part.text.length;
      // A deletion and an insertion that meet with no space between them read as one word: keep a gap.
      const joined = previous !== undefined && previous.kind !== 'same' && part.kind !== 'same' && !endsInSpace(previous.text) && !startsWithSpace(part.text);
      const cls = (base: string) => (joined ? `${base} joined` : base);
      if (part.kind === 'same') nodes.push(...content.map((n) => (typeof n === 'string' ? document.createTextNode(n) : n)));
      else if (part.kind === 'added') nodes.push(el('ins', { class: cls('added'), title: 'added by this variant' }, ...content));
      else nodes.push(el('del', { class: cls('removed'), title: 'in the base output only' }, ...content));
      previous = part;
    }
  } else if (options.shade) {
    for (const { token, text } of visibleTokens(c)) nodes.push(tokenSpan(token.logprob, text));
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

/** `other` word by word against `reference`: inserted words as <ins>, removed as <del>, with their tooltips. */
export function wordDiffNodes(reference: string, other: string, titles: { readonly added: string; readonly removed: string }): Node[] {
  return wordDiff(reference, other).map((part) =>
    part.kind === 'same'
      ? document.createTextNode(part.text)
      : part.kind === 'added'
        ? el('ins', { class: 'added joined', title: titles.added }, part.text)
        : el('del', { class: 'removed joined', title: titles.removed }, part.text),
  );
}
