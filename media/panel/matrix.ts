import { button, el, formatNumber, icon } from '../dom';
import { dtypeTag } from './dtype';
import { expectedBlock, expectedMark } from './expected';
import type { Ctx } from './app';
import { endText, evaluationList } from './compare';
import type { ResultsView } from './results';
import { scoresOf } from './scores';
import { cellKey, cellText, isRunning, type RunView } from './state';
import { confidenceOf, confidenceText, figureRows, fillLabelDetails, labelsOfRun } from './figures';

/**
 * The matrix: every test case × the selected variants, each output with its evaluators' results;
 * pass rates per variant against the minimum the file asks; a filter for the rows where the variants
 * differ; "Accept as snapshot" writes the outputs to the prompt file's snapshot file.
 */
export class MatrixView implements ResultsView {
  readonly root = el('div', { class: 'matrix-results' });
  private cells = new Map<string, HTMLTableCellElement>();
  private rows = new Map<number, HTMLTableRowElement>();
  private foot: HTMLTableSectionElement | undefined;
  private status: HTMLElement | undefined;
  private accept: HTMLButtonElement | undefined;
  private readonly acceptNote = el('span', { class: 'muted small', id: 'accept-note' });
  private readonly labelDetails = el('details', { class: 'label-details', hidden: true });
  /** The rows were put in another order than the file's. */
  private sorted = false;

  constructor(private readonly ctx: Ctx) {}

  private get run(): RunView | undefined {
    return this.ctx.s.matrix;
  }

  render(): void {
    const run = this.run;
    this.cells.clear();
    this.rows.clear();
    this.sorted = false;
    if (!run) {
      const info = this.ctx.s.info;
      this.root.replaceChildren(
        el(
          'div',
          { class: 'empty' },
          el('p', {}, `Run every test case${info ? ` (${Math.max(1, info.cases.length)})` : ''} on the selected variants, with each evaluator's result.`),
          info?.snapshot
            ? el('p', { class: 'muted' }, `Accept the outputs to write them to ${info.snapshot.label}, which tuneloop eval compares against in CI.`)
            : el('p', { class: 'muted' }, 'Add "snapshot: NAME.snapshot.json" to the prompt file to accept outputs as a snapshot for CI.'),
        ),
      );
      return;
    }
    const s = this.ctx.s;
    const filter = el('input', { type: 'checkbox', id: 'only-differing', checked: s.onlyDiffering });
    filter.addEventListener('change', () => {
      s.onlyDiffering = filter.checked;
      this.ctx.save();
      this.applyFilter();
    });
    const regressions = el('input', { type: 'checkbox', id: 'only-regressions', checked: s.onlyRegressions });
    regressions.addEventListener('change', () => {
      s.onlyRegressions = regressions.checked;
      this.ctx.save();
      this.applyFilter();
    });
    // Rows in file order, or least sure first for one variant: where it does not know, is it wrong?
    const sort = el(
      'select',
      { id: 'sort-confidence', 'aria-label': 'Order the rows' },
      el('option', { value: '', selected: !s.sortByConfidence }, 'In file order'),
      ...run.header.variants.map((v) => el('option', { value: v.id, selected: s.sortByConfidence === v.id }, `Least confident first: ${v.name}`)),
    );
    sort.addEventListener('change', () => {
      s.sortByConfidence = sort.value || undefined;
      this.ctx.save();
      this.order();
    });
    this.accept = button([icon('check'), ' Accept as snapshot'], { class: 'primary', id: 'accept-snapshot', 'aria-describedby': 'accept-note' }, () =>
      this.ctx.post({ type: 'snapshot/accept', runId: run.header.runId }),
    );
    this.status = el('p', { class: 'muted small progress', role: 'status' });
    const head = el(
      'tr',
      {},
      el('th', { scope: 'col' }, 'Test case'),
      ...run.header.variants.map((v) =>
        el('th', { scope: 'col', 'data-variant': v.id }, v.name, ' ', el('span', { class: 'chip-kind' }, v.kind), ' ', dtypeTag(v, run.header.dtypeFrom)),
      ),
    );
    const body = el('tbody');
    for (const c of run.header.cases) {
      const tr = el('tr', { 'data-case': String(c.index) }, el('th', { scope: 'row' }, c.label, c.expected !== undefined ? expectedBlock(c.expected) : ''));
      for (const v of run.header.variants) {
        const td = el('td', { 'data-variant': v.id });
        this.cells.set(cellKey(v.id, c.index), td);
        tr.append(td);
      }
      this.rows.set(c.index, tr);
      body.append(tr);
    }
    this.foot = el('tfoot');
    this.root.replaceChildren(
      el(
        'div',
        { class: 'toolbar' },
        el('label', { class: 'toggle' }, filter, ' Only rows where the variants differ'),
        el('label', { class: 'toggle' }, regressions, ' Only regressions against the base'),
        sort,
        el('span', { class: 'spacer' }),
        this.acceptNote,
        this.accept,
      ),
      this.status,
      el('div', { class: 'table-wrap' }, el('table', { class: 'matrix' }, el('thead', {}, head), body, this.foot)),
      this.labelDetails,
    );
    for (const v of run.header.variants) for (const c of run.header.cases) this.paint(v.id, c.index);
    this.summary();
  }

  paint(variant: string, caseIndex: number): void {
    const run = this.run;
    const td = this.cells.get(cellKey(variant, caseIndex));
    if (!run || !td) return;
    const c = run.cells.get(cellKey(variant, caseIndex));
    const error = run.variantErrors.get(variant) ?? c?.cell?.error;
    td.className = c?.running ? 'running' : c?.cell ? (c.cell.passed ? 'pass' : 'fail') : '';
    if (error) {
      td.className = 'fail';
      td.replaceChildren(el('p', { class: 'error' }, error));
      return;
    }
    if (!c) {
      td.replaceChildren(el('span', { class: 'muted' }, isRunning(run) ? 'waiting' : '—'));
      return;
    }
    const text = cellText(c);
    const out = el('div', { class: 'cell-output clamp', tabindex: '0', title: 'Click or press Enter to show it all' }, text || (c.running ? '…' : '(empty)'));
    const expand = () => out.classList.toggle('clamp');
    out.addEventListener('click', expand);
    out.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        expand();
      }
    });
    const snap = c.cell?.snapshot;
    const scores = c.running ? undefined : scoresOf(run);
    const regressed = scores?.regressed.get(cellKey(variant, caseIndex)) ?? [];
    // A regression shows the base's output beside the variant's: what was right, and what it became.
    const baseText = regressed.length && scores?.base ? cellText(run.cells.get(cellKey(scores.base, caseIndex))) : undefined;
    if (regressed.length) td.classList.add('regressed');
    const expected = run.header.cases.find((x) => x.index === caseIndex)?.expected;
    td.replaceChildren(
      out,
      expectedMark(c, expected, labelsOfRun(run)) ?? '',
      evaluationList(c.cell, regressed) ?? '',
      baseText !== undefined ? el('div', { class: 'regression-base small' }, el('span', { class: 'muted' }, 'base: '), baseText || '(empty)') : '',
      c.cell && c.cell.finish !== 'error'
        ? el(
            'div',
            { class: 'small muted' },
            `${formatNumber(c.cell.tokensPerSecond, 1)} tokens/s`,
            confidenceText(c.cell.tokens),
            snap ? el('span', { class: `snap ${snap}` }, snap === 'same' ? ' · = snapshot' : snap === 'changed' ? ' · ≠ snapshot' : ' · not in snapshot') : '',
          )
        : '',
    );
    if (!c.running) this.applyFilterRow(caseIndex);
  }

  /** The state line is part of the summary. */
  progress(): void {
    this.summary();
  }

  /** Pass rates (when the run ends) and the state line. */
  summary(): void {
    const run = this.run;
    if (!run || !this.foot || !this.status || !this.accept) return;
    this.status.textContent = run.end ? (run.snapshotWritten ? `Snapshot written to ${run.snapshotWritten}.` : endText(run)) : (run.progress ?? 'Starting…');
    // Each evaluator's rate first (a format check alone must not read as the result), then the rate
    // over all evaluators that the file's minPassRate gates, then each adapter's regressions.
    const scores = scoresOf(run);
    const rate = (r: number | undefined) => (r === undefined ? '—' : `${Math.round(r * 100)}%`);
    const evaluatorRows = scores.evaluators.map((name, k) =>
      el(
        'tr',
        { class: 'evaluator-rate' },
        el('th', { scope: 'row' }, name),
        ...run.header.variants.map((v) => {
          const e = scores.byVariant.get(v.id)?.evaluators[k];
          return el('td', { 'data-variant': v.id }, rate(e?.rate), ' ', el('span', { class: 'muted small' }, e?.ran ? `(${e.passed}/${e.ran})` : ''));
        }),
      ),
    );
    const regressionRow = el(
      'tr',
      { class: 'regressions' },
      el('th', { scope: 'row' }, 'Regressions against base'),
      ...run.header.variants.map((v) => {
        const r = scores.byVariant.get(v.id)?.regressions;
        if (v.id === scores.base || r === undefined) return el('td', { class: 'muted' }, '—');
        return el('td', { class: r.length ? 'fail' : 'pass', 'data-variant': v.id }, String(r.length));
      }),
    );
    const overall = el('tr', { class: 'overall' });
    this.foot.replaceChildren(...evaluatorRows, overall, regressionRow, ...figureRows(run));
    fillLabelDetails(run, this.labelDetails);
    overall.replaceChildren(
      el('th', { scope: 'row' }, scores.evaluators.length > 1 ? 'All evaluators' : 'Pass rate'),
      ...run.header.variants.map((v) => {
        const done = run.header.cases
          .map((c) => run.cells.get(cellKey(v.id, c.index))?.cell)
          .filter((x) => x && x.finish !== 'cancelled' && x.finish !== 'error');
        const passed = done.filter((x) => x!.passed).length;
        const rate = run.end?.passRates[v.id] ?? (done.length ? passed / done.length : undefined);
        if (rate === undefined) return el('td', {}, '—');
        const ok = rate >= v.minPassRate;
        return el(
          'td',
          { class: ok ? 'pass' : 'fail', 'data-variant': v.id },
          `${ok ? '✓' : '✗'} ${Math.round(rate * 100)}% `,
          el('span', { class: 'muted small' }, `(${passed}/${done.length}, needs ${Math.round(v.minPassRate * 100)}%)`),
        );
      }),
    );
    // The snapshot holds what `tuneloop eval` produces: base and every adapter the file lists, every case.
    const info = this.ctx.s.info?.file === run.header.file ? this.ctx.s.info : undefined;
    const missing = (info?.variants ?? []).filter((v) => v.listed && !run.header.variants.some((h) => h.id === v.id));
    const why = !run.header.hasSnapshot
      ? 'The prompt file names no snapshot file (add "snapshot: NAME.snapshot.json")'
      : run.end?.status !== 'done'
        ? 'Run the matrix to the end first'
        : missing.length
          ? `The snapshot holds base and every adapter the file lists: run the matrix with ${missing.map((v) => (v.available ? v.name : `${v.name} (${v.reason ?? 'not available'})`)).join(', ')} too`
          : !this.ctx.s.trusted
            ? 'Trust the workspace first'
            : undefined;
    this.accept.disabled = why !== undefined;
    this.accept.title = why ?? 'Write these outputs to the snapshot file';
    this.acceptNote.textContent = why && run.end?.status === 'done' ? why : '';
    this.applyFilter();
  }

  private differs(caseIndex: number): boolean {
    const run = this.run!;
    const texts = run.header.variants.map((v) => cellText(run.cells.get(cellKey(v.id, caseIndex))));
    return texts.some((t) => t !== texts[0]);
  }

  private regresses(caseIndex: number): boolean {
    const run = this.run!;
    const regressed = scoresOf(run).regressed;
    return run.header.variants.some((v) => regressed.has(cellKey(v.id, caseIndex)));
  }

  private applyFilterRow(caseIndex: number): void {
    const tr = this.rows.get(caseIndex);
    if (tr) tr.hidden = (this.ctx.s.onlyDiffering && !this.differs(caseIndex)) || (this.ctx.s.onlyRegressions && !this.regresses(caseIndex));
  }

  private applyFilter(): void {
    for (const c of this.run?.header.cases ?? []) this.applyFilterRow(c.index);
    this.order();
  }

  /** The rows in file order, or by the chosen variant's mean token probability, least sure first (cases without one last). */
  private order(): void {
    const run = this.run;
    const body = this.rows.values().next().value?.parentElement;
    if (!run || !body) return;
    const by = this.ctx.s.sortByConfidence;
    // Rows are built in file order: nothing to move until a sort was chosen.
    if (!by && !this.sorted) return;
    this.sorted = by !== undefined;
    const sure = by ? confidenceOf(run)[by]?.answers : undefined;
    const key = (i: number) => (sure ? (sure[i]?.mean ?? Number.POSITIVE_INFINITY) : i);
    const ordered = [...run.header.cases].sort((a, b) => key(a.index) - key(b.index) || a.index - b.index);
    for (const c of ordered) {
      const tr = this.rows.get(c.index);
      if (tr) body.append(tr);
    }
  }
}
