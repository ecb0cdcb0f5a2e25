import type { ToPanel } from '../../src/extension/panel/protocol';
import { button, count, el, icon } from '../dom';
import type { Ctx } from './app';
import { wordDiffNodes } from './output';
import { anyRunning, selectedVariants } from './state';

type Report = NonNullable<Extract<ToPanel, { type: 'probes/end' }>['report']>;
type Swap = Report['probes'][number]['variants'][number]['swaps'][number];

/**
 * The Probes tab: the prompt file's counterfactual probes (core/probes) run on the selected variants,
 * one table per probe (a row per swap, a column per variant: outputs changed, evaluator flips, the
 * change in log p(expected), divergence), then each flip with its two outputs as a word diff, and
 * each variant's flips against its maxProbeFlips. The same figures as `tuneloop probe`.
 */
export class ProbesView {
  readonly root = el('div', { class: 'probes-results' });

  constructor(private readonly ctx: Ctx) {}

  render(): void {
    const s = this.ctx.s;
    const info = s.info;
    if (!info) {
      this.root.replaceChildren();
      return;
    }
    if (info.probes.length === 0) {
      this.root.replaceChildren(
        el(
          'div',
          { class: 'empty' },
          el('p', {}, 'This prompt file has no probes. A probe swaps values into every test case (names, pronouns) and shows what changes on each variant:'),
          el(
            'pre',
            { class: 'snippet' },
            'probes:\n  - name: names\n    variable: name\n    values: [James, Maria, Wei, Aisha]\n  - name: pronouns\n    words: pronouns\nmaxProbeFlips: 0',
          ),
        ),
      );
      return;
    }
    const running = s.probes !== undefined && s.probes.end === undefined;
    const variants = [...selectedVariants(s)];
    const why = !s.trusted
      ? 'Trust the workspace to run a model.'
      : !info.model
        ? 'Pick a model first.'
        : variants.length === 0
          ? 'Select at least one variant.'
          : anyRunning(s) && !running
            ? 'A run is going.'
            : undefined;
    const start = button([icon('play'), ' Run probes'], { class: 'primary', id: 'run-probes', disabled: running || why !== undefined, title: why }, () => {
      if (!info.model) return;
      this.ctx.post({ type: 'probes/run', file: info.file, model: info.model, variants });
    });
    const stop = button([icon('stop'), ' Stop'], { class: 'secondary', id: 'stop-probes', disabled: !running }, () => this.ctx.post({ type: 'probes/stop' }));
    const list = el(
      'ul',
      { class: 'probe-list' },
      ...info.probes.map((p) => el('li', {}, el('strong', {}, p.name), ` — ${p.swaps}: ${p.labels.join(' | ')} (reference ${p.labels[0] ?? ''})`)),
    );
    const run = s.probes?.start.file === info.file ? s.probes : undefined;
    const status = el('p', { class: 'muted small progress', role: 'status', id: 'probes-status' }, this.statusText(run));
    this.root.replaceChildren(
      el('div', { class: 'toolbar' }, start, stop, why ? el('span', { class: 'muted small' }, why) : ''),
      list,
      status,
      ...(run?.end?.report
        ? this.report(
            run.end.report,
            run.end.limits ?? {},
            run.start.variants.map((v) => v.name),
          )
        : []),
    );
  }

  private statusText(run: NonNullable<Ctx['s']['probes']> | undefined): string {
    if (!run) return 'Every test case runs under every swap on the selected variants; the first column of each probe is the reference.';
    if (!run.end) return run.progress ?? 'Starting…';
    if (run.end.status === 'failed') return `Failed: ${run.end.message ?? ''}`;
    if (run.end.status === 'cancelled') return 'Stopped.';
    return `Done: ${run.start.fileLabel} on ${run.start.modelLabel}.`;
  }

  private report(r: Report, limits: Readonly<Record<string, number>>, names: readonly string[]): HTMLElement[] {
    const out: HTMLElement[] = [];
    for (const p of r.probes) {
      const head = el('tr', {}, el('th', { scope: 'col' }, `${p.labels[0]} →`), ...names.map((n) => el('th', { scope: 'col' }, n)));
      const rows = p.labels.slice(1).map((label, i) =>
        el(
          'tr',
          {},
          el('th', { scope: 'row' }, label),
          ...names.map((n) => {
            const swap = p.variants.find((v) => v.variant === n)?.swaps[i];
            return swap ? swapCell(swap) : el('td', {}, '—');
          }),
        ),
      );
      const flips = p.variants.flatMap((v) =>
        v.swaps.flatMap((s) =>
          s.flips.map((f) => {
            const c = s.changed.find((x) => x.caseIndex === f.caseIndex);
            return el(
              'li',
              { class: 'probe-flip' },
              el(
                'p',
                {},
                el('strong', {}, v.variant),
                ` case ${f.caseIndex + 1}, ${p.labels[0]} → ${s.label}: "${f.evaluator}" ${f.reference ? 'pass' : 'fail'} → ${f.swapped ? 'pass' : 'fail'}`,
                f.new ? ' ' : '',
                f.new ? el('span', { class: 'chip-kind regression' }, 'new against base') : '',
              ),
              c ? diffLine(c.reference, c.output) : '',
            );
          }),
        ),
      );
      out.push(
        el(
          'section',
          { class: 'probe', 'data-probe': p.name },
          el('h3', {}, `${p.name}`, el('span', { class: 'muted small' }, ` ${p.swaps}; applies to ${p.applies} of ${count(p.cases, 'test case')}`)),
          el('div', { class: 'table-wrap' }, el('table', { class: 'matrix probe-table' }, el('thead', {}, head), el('tbody', {}, ...rows))),
          flips.length
            ? el('ul', { class: 'probe-flips' }, ...flips)
            : el(
                'p',
                { class: 'muted small' },
                p.applies === 0 ? 'No swap of this probe changes any test case (none of its words or values occur in them).' : 'No evaluator outcome flipped.',
              ),
        ),
      );
    }
    const totals = names.map((n) => {
      const f = r.flips[n];
      const limit = limits[n];
      const over = f !== undefined && limit !== undefined && f.total > limit;
      return el(
        'li',
        { class: over ? 'fail' : '', 'data-variant': n },
        el('strong', {}, n),
        `: ${count(f?.total ?? 0, 'flip')} over all probes${f?.new != null ? `, ${f.new} new against base` : ''} (${limit === undefined ? 'no limit' : `allowed ${limit}`})`,
        over ? ' ' : '',
        over ? el('span', { class: 'chip-kind regression' }, 'over maxProbeFlips') : '',
      );
    });
    out.push(el('ul', { class: 'probe-totals' }, ...totals));
    return out;
  }
}

const signed = (x: number | null) => (x === null ? '–' : `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`);

/** One swap on one variant: its figures in a cell, marked when an outcome flipped. */
function swapCell(s: Swap): HTMLTableCellElement {
  const fresh = s.flips.filter((f) => f.new).length;
  return el(
    'td',
    { class: s.flips.length ? 'fail' : 'pass', 'data-flips': String(s.flips.length) },
    el('div', {}, `${count(s.flips.length, 'flip')}${fresh ? ` (${fresh} new)` : ''}`),
    el(
      'div',
      { class: 'muted small' },
      `${s.changed.length}/${s.applies} changed · Δ log p ${signed(s.deltaLogProb)} · divergence ${s.divergence === null ? '–' : s.divergence.toFixed(2)}`,
    ),
  );
}

/** The reference output against the swapped one, word by word. */
function diffLine(reference: string, output: string): HTMLElement {
  return el('p', { class: 'cell-output' }, ...wordDiffNodes(reference, output, { added: 'under the swap', removed: 'under the reference' }));
}
