import { type Tab, TABS } from '../../src/extension/panel/protocol';
import { el } from '../dom';

const TAB_LABELS: Record<Tab, string> = {
  compare: 'Run & compare',
  matrix: 'Matrix',
  probes: 'Probes',
  history: 'History',
  train: 'Fine-tune',
  distill: 'Distill',
};

/** The keys that move between tabs, as the ARIA tabs pattern asks: from a tab's index to the next one's. */
const KEY_MOVES = new Map<string, (i: number) => number>([
  ['ArrowRight', (i) => (i + 1) % TABS.length],
  ['ArrowLeft', (i) => (i + TABS.length - 1) % TABS.length],
  ['Home', () => 0],
  ['End', () => TABS.length - 1],
]);

/** The panel's sections: the tab list and one tab panel per tab. */
export class Tabs {
  readonly list = el('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Panel sections' });
  readonly panels = new Map<Tab, HTMLElement>(
    TABS.map((t) => [t, el('section', { role: 'tabpanel', id: `tabpanel-${t}`, 'aria-labelledby': `tab-${t}`, tabindex: '-1' })]),
  );
  private readonly buttons = new Map<Tab, HTMLButtonElement>();

  /** `choose`: the user picked a tab (a click or a key). */
  constructor(choose: (t: Tab) => void) {
    for (const t of TABS) {
      const b = el('button', { type: 'button', role: 'tab', id: `tab-${t}`, 'aria-controls': `tabpanel-${t}` }, TAB_LABELS[t]);
      b.addEventListener('click', () => choose(t));
      b.addEventListener('keydown', (e) => {
        const move = KEY_MOVES.get(e.key);
        const next = move ? TABS[move(TABS.indexOf(t))] : undefined;
        if (next) {
          e.preventDefault();
          choose(next);
          this.buttons.get(next)?.focus();
        }
      });
      this.buttons.set(t, b);
      this.list.append(b);
    }
  }

  /** Marks a tab selected (the only one in the focus order) and shows its panel alone. */
  show(t: Tab): void {
    for (const [k, b] of this.buttons) {
      b.setAttribute('aria-selected', String(k === t));
      b.tabIndex = k === t ? 0 : -1;
    }
    for (const [k, p] of this.panels) p.hidden = k !== t;
  }
}
