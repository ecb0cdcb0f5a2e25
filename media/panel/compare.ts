import type { CellInfo } from '../../src/extension/panel/protocol';
import { button, count, el, formatNumber, icon } from '../dom';
import { divergenceBlock } from './divergence';
import { dtypeTag } from './dtype';
import { expectedBlock, expectedMark } from './expected';
import type { Ctx } from './app';
import { renderOutput, shadeLegend } from './output';
import type { ResultsView } from './results';
import { scoresOf } from './scores';
import { type CellView, cellKey, cellText, isRunning, type RunView } from './state';

/**
 * Run and compare: one test case (or typed values) on the selected variants, side by side, streamed;
 * time to first token and tokens per second per column; tokens shaded by probability; a word diff
 * against the base column; any two outputs in VS Code's diff editor.
 */
export function renderCaseChoice(ctx: Ctx): HTMLElement {
  const info = ctx.s.info!;
  const s = ctx.s;
  const select = el('select', { id: 'case' });
  for (const c of info.cases) select.append(el('option', { value: String(c.index), selected: s.caseChoice === c.index }, c.label));
  if (info.variables.length)
    select.append(
      el('option', { value: 'typed', selected: s.caseChoice === 'typed' || !info.hasTestData }, info.hasTestData ? 'Type values…' : 'Values typed here'),
    );
  if (!info.hasTestData && !info.variables.length) select.append(el('option', { value: '0', selected: true }, 'No variables'));
  if (!info.hasTestData && info.variables.length) s.caseChoice = 'typed';
  select.disabled = select.options.length < 2;
  const typed = el('div', { class: 'typed', hidden: s.caseChoice !== 'typed' });
  const fillTyped = () => {
    const from = typeof s.caseChoice === 'number' ? info.cases[s.caseChoice]?.values : undefined;
    typed.replaceChildren(
      ...info.variables.map((name) => {
        const id = `var-${name.replace(/[^\w-]/g, '_')}`;
        const value = s.typed[name] ?? from?.[name] ?? info.cases[0]?.values[name] ?? '';
        s.typed[name] = value;
        const input = el('textarea', { id, rows: '2', spellcheck: 'false' }, value);
        input.addEventListener('input', () => {
          s.typed[name] = input.value;
          ctx.save();
        });
        return el('div', { class: 'param wide' }, el('label', { for: id }, el('code', {}, `{{${name}}}`)), input);
      }),
    );
  };
  fillTyped();
  select.addEventListener('change', () => {
    s.caseChoice = select.value === 'typed' ? 'typed' : Number(select.value);
    typed.hidden = s.caseChoice !== 'typed';
    ctx.save();
  });
  return el('div', { class: 'field' }, el('label', { for: 'case' }, 'Test case'), select, typed);
}

function stats(c: CellView | undefined): string {
  if (!c) return 'waiting';
  if (c.running) return `streaming · ${count(c.tokens.length, 'token')}`;
  const cell = c.cell;
  if (!cell) return '';
  if (cell.finish === 'error') return 'failed';
  return `first token ${formatNumber(cell.timeToFirstTokenMs, 0)} ms · ${formatNumber(cell.tokensPerSecond, 1)} tokens/s · ${count(cell.tokens.length, 'token')} · ${cell.finish === 'eos' ? 'end of text' : cell.finish === 'length' ? 'max tokens' : cell.finish}`;
}

/** A cell's evaluator results; `regressed` names those the base passed on this case (a regression). */
export function evaluationList(cell: CellInfo | undefined, regressed: readonly string[] = []): HTMLElement | null {
  if (!cell || cell.evaluations.length === 0) return null;
  return el(
    'ul',
    { class: 'evals' },
    ...cell.evaluations.map((e) => {
      const regression = e.passed === false && regressed.includes(e.name);
      return el(
        'li',
        { class: e.passed === null ? 'eval skipped' : e.passed ? 'eval pass' : regression ? 'eval fail regressed' : 'eval fail', title: e.detail },
        e.passed === null ? '– ' : e.passed ? '✓ ' : '✗ ',
        e.name,
        e.passed === null ? ' (hosted, not run here)' : '',
        regression ? el('span', { class: 'regression-mark' }, ' · regression: the base passes it') : '',
      );
    }),
  );
}

export class CompareView implements ResultsView {
  readonly root = el('div', { class: 'compare-results' });
  private columns = new Map<string, { body: HTMLElement; stats: HTMLElement; evals: HTMLElement; status: HTMLElement }>();
  private pending = new Set<string>();
  private frame = 0;

  constructor(private readonly ctx: Ctx) {}

  private get run(): RunView | undefined {
    return this.ctx.s.compare;
  }

  /** The whole result area (a new run, a toggle). */
  render(): void {
    const run = this.run;
    this.columns.clear();
    if (!run) {
      this.root.replaceChildren(
        el(
          'div',
          { class: 'empty' },
          el('p', {}, 'Pick a test case and the variants to compare, then Run (Ctrl+Enter).'),
          el('p', { class: 'muted' }, 'Outputs stream into one column per variant; each column shows the time to the first token and the tokens per second.'),
        ),
      );
      return;
    }
    const s = this.ctx.s;
    const caseIndex = run.header.cases[0]?.index ?? 0;
    const baseId = run.header.variants[0]?.id;
    const toolbar = el(
      'div',
      { class: 'toolbar' },
      el('label', { class: 'toggle' }, this.toggle('shade', s.shade), ' Shade tokens by probability'),
      el('label', { class: 'toggle' }, this.toggle('diff', s.diff), ` Word diff against ${run.header.variants[0]?.name ?? 'the first column'}`),
      s.shade ? shadeLegend() : null,
      el('span', { class: 'spacer' }),
      this.diffPicker(run, caseIndex),
    );
    const grid = el('div', { class: 'columns', role: 'list' });
    for (const v of run.header.variants) {
      const status = el('span', { class: 'col-status' });
      const statsEl = el('div', { class: 'stats' });
      const body = el('div', { class: 'output', tabindex: '0', role: 'region', 'aria-label': `Output of ${v.name}`, 'data-variant': v.id });
      const evals = el('div', { class: 'col-evals' });
      const actions =
        v.id !== baseId && baseId
          ? button(
              [icon('diff'), ' Diff editor'],
              { class: 'secondary small', title: `Open ${v.name} against ${run.header.variants[0]!.name} in the diff editor` },
              () => this.ctx.post({ type: 'run/openDiff', runId: run.header.runId, left: { variant: baseId, caseIndex }, right: { variant: v.id, caseIndex } }),
            )
          : null;
      grid.append(
        el(
          'article',
          { class: 'column', role: 'listitem', 'data-variant': v.id },
          el('header', {}, el('strong', {}, v.name), ' ', el('span', { class: 'chip-kind' }, v.kind), ' ', dtypeTag(v, run.header.dtypeFrom), status),
          statsEl,
          body,
          evals,
          actions ? el('footer', {}, actions) : null,
        ),
      );
      this.columns.set(v.id, { body, stats: statsEl, evals, status });
    }
    const progress = el('p', { class: 'muted small progress', role: 'status' }, run.end ? endText(run) : (run.progress ?? 'Starting…'));
    const expected = run.header.cases[0]?.expected;
    this.root.replaceChildren(toolbar, progress, ...(expected !== undefined ? [expectedBlock(expected)] : []), grid);
    for (const v of run.header.variants) this.draw(v.id);
  }

  private toggle(which: 'shade' | 'diff', checked: boolean): HTMLInputElement {
    const box = el('input', { type: 'checkbox', checked, id: `toggle-${which}` });
    box.addEventListener('change', () => {
      this.ctx.s[which] = box.checked;
      this.ctx.save();
      this.render();
      document.getElementById(`toggle-${which}`)?.focus();
    });
    return box;
  }

  private diffPicker(run: RunView, caseIndex: number): HTMLElement {
    const mk = (id: string, selected: number) => {
      const sel = el('select', { id, 'aria-label': id === 'diff-left' ? 'left output' : 'right output' });
      run.header.variants.forEach((v, i) => sel.append(el('option', { value: v.id, selected: i === selected }, v.name)));
      return sel;
    };
    const left = mk('diff-left', 0);
    const right = mk('diff-right', Math.min(1, run.header.variants.length - 1));
    return el(
      'span',
      { class: 'diff-picker' },
      left,
      ' ↔ ',
      right,
      button([icon('diff'), ' Open in diff editor'], { class: 'secondary', id: 'open-diff' }, () =>
        this.ctx.post({ type: 'run/openDiff', runId: run.header.runId, left: { variant: left.value, caseIndex }, right: { variant: right.value, caseIndex } }),
      ),
    );
  }

  /**
   * A cell changed: repaint it (and, with the diff on, the columns diffed against it), at most once a
   * frame. One case per run, so the variant names the column.
   */
  paint(variant: string): void {
    const run = this.run;
    if (!run) return;
    this.pending.add(variant);
    // The base's output feeds the others' word diffs and regression marks: redraw them with it.
    if (variant === run.header.variants[0]?.id) for (const v of run.header.variants) this.pending.add(v.id);
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        for (const v of this.pending) this.draw(v);
        this.pending.clear();
      });
    }
  }

  private draw(variant: string): void {
    const run = this.run;
    const col = this.columns.get(variant);
    if (!run || !col) return;
    const caseIndex = run.header.cases[0]?.index ?? 0;
    const c = run.cells.get(cellKey(variant, caseIndex));
    const baseId = run.header.variants[0]?.id;
    const error = run.variantErrors.get(variant) ?? c?.cell?.error;
    if (error) {
      col.body.replaceChildren(el('p', { class: 'error' }, error));
      col.status.textContent = ' failed';
      col.status.className = 'col-status fail';
      col.stats.textContent = '';
      return;
    }
    // The diff is drawn once both outputs are complete (a half-streamed output would read as all removed).
    const baseCell = baseId && baseId !== variant && this.ctx.s.diff ? run.cells.get(cellKey(baseId, caseIndex)) : undefined;
    const base = baseCell && !baseCell.running && c && !c.running ? baseCell : undefined;
    renderOutput(col.body, c, { shade: this.ctx.s.shade, against: base ? cellText(base) : undefined });
    col.body.dataset.state = c ? (c.running ? 'running' : 'done') : 'waiting';
    col.stats.textContent = stats(c);
    const regressed = c && !c.running ? (scoresOf(run).regressed.get(cellKey(variant, caseIndex)) ?? []) : [];
    const expected = run.header.cases[0]?.expected;
    // Once both outputs are complete: where this one leaves the base's tokens, and what each model weighed there.
    const baseDone = baseId && baseId !== variant ? run.cells.get(cellKey(baseId, caseIndex)) : undefined;
    const parts =
      baseDone?.cell && !baseDone.running && c?.cell && !c.running && c.cell.finish !== 'error' && baseDone.cell.finish !== 'error'
        ? divergenceBlock(baseDone.tokens, c.tokens, {
            base: run.header.variants[0]!.name,
            other: run.header.variants.find((v) => v.id === variant)?.name ?? variant,
          })
        : null;
    col.evals.replaceChildren(...[expectedMark(c, expected), evaluationList(c?.cell, regressed), parts].filter((x): x is HTMLElement => x !== null));
    const cancelled = c?.cell?.finish === 'cancelled';
    col.status.textContent = c?.running
      ? ' streaming'
      : cancelled
        ? ' stopped'
        : c?.cell
          ? c.cell.evaluations.length
            ? c.cell.passed
              ? ' passed'
              : ' failed checks'
            : ' done'
          : isRunning(run)
            ? ' waiting'
            : '';
    col.status.className = `col-status ${c?.cell && !cancelled ? (c.cell.passed ? 'pass' : 'fail') : ''}`;
  }

  progress(): void {
    const el = this.root.querySelector('.progress');
    if (el && this.run) el.textContent = this.run.end ? endText(this.run) : (this.run.progress ?? '');
  }
}

export function endText(run: RunView): string {
  const e = run.end!;
  if (e.status === 'failed') return `Failed: ${e.message ?? 'see the Tuneloop log'}`;
  if (e.status === 'cancelled') return 'Stopped.';
  const dtype = run.header.variants[0]?.dtype;
  return `Done: ${count(run.header.variants.length, 'variant')} on ${run.header.modelLabel}${dtype ? ` (${dtype})` : ''}.`;
}
