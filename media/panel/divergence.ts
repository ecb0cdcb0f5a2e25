import type { TokenInfo } from '../../src/extension/panel/protocol';
import { el } from '../dom';

/**
 * Where base and tuned part ways: at the first generated token where two outputs differ (both
 * models having seen the same prompt and the same tokens before it), each model's most likely next
 * tokens with their probabilities, the one it chose marked. This is where an adapter's change to
 * the distribution becomes a change in the text.
 */
export function divergenceBlock(base: readonly TokenInfo[], other: readonly TokenInfo[], names: { base: string; other: string }): HTMLElement | null {
  const n = Math.min(base.length, other.length);
  let k = 0;
  const same = (a: TokenInfo, b: TokenInfo) => (a.id !== undefined && b.id !== undefined ? a.id === b.id : a.text === b.text);
  while (k < n && same(base[k]!, other[k]!)) k++;
  if (k === base.length && k === other.length) return el('p', { class: 'divergence muted small' }, 'Same tokens as ', names.base, '.');
  if (k === n) {
    const longer = base.length > other.length ? names.base : names.other;
    return el('p', { class: 'divergence muted small' }, `Same tokens until one output ends; ${longer} goes on.`);
  }
  const prefix = base
    .slice(0, k)
    .map((t) => t.text)
    .join('');
  const shownPrefix = prefix.length > 40 ? `…${prefix.slice(-40)}` : prefix;
  const list = (name: string, t: TokenInfo) => {
    const top = t.top ?? [];
    // By id where both have one: a token that is part of a character decodes alone as "�" in the list
    // but as "" in the output, and is the same token.
    const isChosen = (a: { id?: number | undefined; text: string }) => (a.id !== undefined && t.id !== undefined ? a.id === t.id : a.text === t.text);
    const chosenShown = top.some(isChosen);
    return el(
      'div',
      { class: 'divergence-side' },
      el('strong', {}, name),
      el(
        'ol',
        {},
        ...top.map((a) =>
          el(
            'li',
            { class: isChosen(a) ? 'chosen' : '' },
            el('code', {}, JSON.stringify(a.text)),
            ` ${(Math.exp(a.logprob) * 100).toFixed(1)}%`,
            isChosen(a) ? ' ← chosen' : '',
          ),
        ),
      ),
      chosenShown
        ? ''
        : el('p', { class: 'muted small' }, `chose ${JSON.stringify(t.text)} at ${(Math.exp(t.logprob) * 100).toFixed(1)}%, outside its top ${top.length}`),
    );
  };
  return el(
    'section',
    { class: 'divergence', 'aria-label': `Where ${names.base} and ${names.other} part ways` },
    el('p', { class: 'small' }, `Part ways at token ${k + 1}`, prefix ? ', after ' : '', prefix ? el('code', {}, JSON.stringify(shownPrefix)) : '', ':'),
    el('div', { class: 'divergence-sides' }, list(names.base, base[k]!), list(names.other, other[k]!)),
  );
}
