import type { FromPanel } from '../src/extension/panel/protocol';
import type { FromHome } from '../src/extension/webview/home-protocol';

/** The page's side of VS Code's webview API (acquired once per page, as VS Code requires). */
interface VsCodeApi {
  postMessage(message: FromHome | FromPanel): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

export const vscode = acquireVsCodeApi();

type Child = Node | string | null | undefined | false;

/** Builds an element with DOM APIs only: text is always text (no innerHTML anywhere in the page). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

export function button(label: Child | Child[], attrs: Record<string, string | boolean | undefined>, onClick: () => void): HTMLButtonElement {
  const b = el('button', { type: 'button', ...attrs }, ...(Array.isArray(label) ? label : [label]));
  b.addEventListener('click', onClick);
  return b;
}

/** A small inline SVG icon (codicon-like shapes, drawn in the current text colour). */
const ICONS: Record<string, string> = {
  play: 'M4 2.5v11l9-5.5z',
  stop: 'M3.5 3.5h9v9h-9z',
  diff: 'M3 2h4v5H3zM9 9h4v5H9zM5 9v3h2M11 7V4H9',
  refresh: 'M13 3v4H9M3 13V9h4M12.5 7A5 5 0 0 0 4 5M3.5 9a5 5 0 0 0 8.5 2',
  rocket: 'M8 1.5c2.5 1.5 3.5 4 3 7l-1.5 2h-3L5 8.5c-.5-3 .5-5.5 3-7zM6 11l-2 3M10 11l2 3M8 5.5v1',
  check: 'M2.5 8.5l3.5 3.5 7.5-8',
  close: 'M3.5 3.5l9 9M12.5 3.5l-9 9',
  folder: 'M1.5 3.5h5l1.5 1.5h6.5v8h-13z',
  file: 'M3.5 1.5h6l3 3v10h-9zM9.5 1.5v3h3',
  beaker: 'M6 1.5v5l-4 7.5h12l-4-7.5v-5M5 1.5h6M4 10.5h8',
  debugContinue: 'M3 3v10M6 3l7 5-7 5z',
  warning: 'M8 1.5l6.5 12h-13zM8 6v3.5M8 11v1',
  'mortar-board': 'M1 6l7-3.5L15 6l-7 3.5zM4 7.5v4c2 1.5 6 1.5 8 0v-4M14 6.5v4',
  edit: 'M10.5 2.5l3 3-8 8h-3v-3zM9 4l3 3',
};

export function icon(name: keyof typeof ICONS): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('width', '14');
  svg.setAttribute('height', '14');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', `icon icon-${name}`);
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', ICONS[name]!);
  svg.append(p);
  return svg;
}

export function formatNumber(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export { count } from '../src/core/format';
