import { button, el, icon } from '../dom';

/** Messages to the user above the panel's content: the latest three; information ones go away by themselves. */
export class Notices {
  readonly root = el('div', { class: 'notices', role: 'status', 'aria-live': 'polite' });

  add(level: 'info' | 'warn' | 'error', message: string): void {
    const n = el('div', { class: `notice ${level}` }, level === 'error' ? icon('warning') : '', ' ', message, ' ');
    n.append(button(icon('close'), { class: 'icon-button', 'aria-label': 'Dismiss' }, () => n.remove()));
    this.root.append(n);
    while (this.root.children.length > 3) this.root.firstElementChild?.remove();
    if (level === 'info') setTimeout(() => n.remove(), 6000);
  }
}
