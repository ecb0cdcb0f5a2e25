import { type RunMode, RUN_MODES } from '../../src/extension/panel/protocol';
import { button, count, el, icon } from '../dom';
import type { Ctx } from './app';
import { renderCaseChoice } from './compare';
import { renderModel, renderParams, renderVariants } from './setup';
import { anyRunning, selectedVariants } from './state';

/** Each generation tab's Run button. */
const RUN_BUTTONS: Record<RunMode, { label: string; id: string; title: string }> = {
  compare: { label: ' Run', id: 'run', title: 'Run the selected variants (Ctrl+Enter)' },
  matrix: { label: ' Run matrix', id: 'run-matrix', title: 'Every test case on the selected variants (Ctrl+Enter)' },
};

/**
 * What a run is set up with and started by: the setup above the tabs (problems, model, variants,
 * settings) and each generation tab's controls (Run or Run matrix, Stop), each Run button disabled
 * with the reason it cannot run yet.
 */
export class RunControls {
  readonly setup = el('div', { class: 'setup' });
  /** Above each generation tab's results. */
  readonly controls: Record<RunMode, HTMLElement> = { compare: el('div', { class: 'controls' }), matrix: el('div', { class: 'controls' }) };
  private readonly run: Record<RunMode, HTMLButtonElement>;
  private readonly stop: Record<RunMode, HTMLButtonElement>;
  private readonly hint: Record<RunMode, HTMLElement>;

  constructor(private readonly ctx: Ctx) {
    const each = <T>(make: (mode: RunMode) => T) => ({ compare: make('compare'), matrix: make('matrix') });
    this.run = each((mode) => {
      const b = RUN_BUTTONS[mode];
      return button([icon('play'), b.label], { class: 'primary', id: b.id, title: b.title }, () => this.start(mode));
    });
    this.stop = each(() =>
      button([icon('stop'), ' Stop'], { class: 'secondary stop', title: 'Stop every running column (Escape)' }, () => ctx.post({ type: 'run/stop' })),
    );
    this.hint = each(() => el('span', { class: 'muted small run-hint' }));
  }

  /** Why the selected prompt cannot run now; undefined when it can. */
  readyToRun(): string | undefined {
    const s = this.ctx.s;
    const info = s.info;
    if (!s.trusted) return 'Trust the workspace to run models.';
    if (!info) return 'Pick a prompt file.';
    if (info.problems.length) return `Fix the prompt file first: ${info.problems[0]}`;
    if (!info.model) return 'Pick a model first.';
    if (selectedVariants(s).size === 0) return 'Select at least one variant.';
    return undefined;
  }

  /** The buttons' state: after a selection, a new prompt, a run's start or end. */
  update(): void {
    const why = this.readyToRun();
    const running = anyRunning(this.ctx.s);
    for (const mode of RUN_MODES) {
      const b = this.run[mode];
      b.disabled = why !== undefined || running;
      b.title = why ?? (running ? 'A run is going' : RUN_BUTTONS[mode].title);
      this.stop[mode].disabled = !running;
      this.hint[mode].textContent = why ?? '';
    }
  }

  /** Asks the extension to run the selected variants: compare on one case (or typed values), the matrix on every case. */
  start(mode: RunMode): void {
    const s = this.ctx.s;
    const info = s.info;
    if (this.readyToRun() !== undefined || !info || !info.model) return this.update();
    const order = info.variants.map((v) => v.id).filter((id) => selectedVariants(s).has(id));
    const base =
      mode === 'compare' && s.caseChoice === 'typed'
        ? { values: { ...s.typed } }
        : mode === 'compare'
          ? { cases: [typeof s.caseChoice === 'number' ? s.caseChoice : 0] }
          : {};
    this.ctx.post({
      type: 'run/start',
      mode,
      file: info.file,
      model: info.model,
      variants: order,
      params: s.overrides,
      ...(info.hasTestData || mode === 'compare' ? base : {}),
    });
  }

  /** The setup and the controls for the selected prompt (empty without one). */
  render(): void {
    const info = this.ctx.s.info;
    if (!info) {
      this.setup.replaceChildren();
      this.controls.compare.replaceChildren();
      this.controls.matrix.replaceChildren();
      return;
    }
    const problems = info.problems.length
      ? el(
          'div',
          { class: 'notice error' },
          icon('warning'),
          ` ${info.label} has problems: `,
          el('ul', {}, ...info.problems.slice(0, 5).map((p) => el('li', {}, p))),
        )
      : null;
    this.setup.replaceChildren(
      ...([problems, info.description ? el('p', { class: 'muted' }, info.description) : null] as (HTMLElement | null)[]).filter(
        (x): x is HTMLElement => x !== null,
      ),
      el('div', { class: 'setup-grid' }, renderModel(this.ctx), renderVariants(this.ctx)),
      renderParams(this.ctx),
    );
    this.controls.compare.replaceChildren(el('div', { class: 'controls-row' }, renderCaseChoice(this.ctx), this.buttons('compare')));
    const snapshotNote = info.snapshot
      ? `Snapshot: ${info.snapshot.label}${info.snapshot.exists ? '' : ' (not written yet)'}`
      : 'No snapshot file named in the prompt file.';
    this.controls.matrix.replaceChildren(
      el(
        'div',
        { class: 'controls-row' },
        el(
          'p',
          { class: 'muted' },
          `${count(Math.max(1, info.cases.length), 'test case')} × the selected variants · ${count(info.evaluators.length, 'evaluator')} · ${snapshotNote}`,
        ),
        this.buttons('matrix'),
      ),
    );
    this.update();
  }

  private buttons(mode: RunMode): HTMLElement {
    return el('div', { class: 'buttons' }, this.run[mode], this.stop[mode], this.hint[mode]);
  }
}
