import uPlot from 'uplot';
import type { HistoryPoint } from '../../src/extension/panel/protocol';
import { count, el } from '../dom';
import type { Ctx } from './app';

/**
 * The History tab: the prompt file's NAME.history.jsonl (one line per `tuneloop eval --record`),
 * each variant's pass rate over the recorded runs, drawn with uPlot as the loss curve is, and the
 * runs as a table (date, commit, pass rates, regressions, failures); runs of `tuneloop probe --record`
 * are rows of the table with each variant's probe flips, not points of the plot. Colours from the theme's chart
 * colours; rebuilt when the theme changes and resized with its box.
 */
const SERIES_COLOURS = [
  '--vscode-charts-blue',
  '--vscode-charts-orange',
  '--vscode-charts-green',
  '--vscode-charts-purple',
  '--vscode-charts-red',
  '--vscode-charts-yellow',
];
const FALLBACKS = ['#3794ff', '#d18616', '#89d185', '#b180d7', '#f14c4c', '#cca700'];

function themeColour(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

export class HistoryView {
  readonly root = el('div', { class: 'history-results' });
  private plot: uPlot | undefined;
  private box: HTMLElement | undefined;
  private readonly observer = new ResizeObserver(() => this.plot?.setSize(this.size()));
  private readonly themeObserver = new MutationObserver(() => this.render());
  /** The file whose history was asked for last, so that showing the tab again asks only when it changed. */
  private asked: string | undefined;

  constructor(private readonly ctx: Ctx) {
    this.themeObserver.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  }

  /** The tab was shown or the prompt file changed: ask for its history (again, as runs may have been recorded since). */
  load(force = false): void {
    const file = this.ctx.s.info?.file;
    if (!file || (!force && this.asked === file)) return;
    this.asked = file;
    this.ctx.post({ type: 'history/load', file });
  }

  render(): void {
    this.plot?.destroy();
    this.plot = undefined;
    if (this.box) this.observer.unobserve(this.box);
    const s = this.ctx.s;
    const h = s.history?.file === s.info?.file ? s.history : undefined;
    if (!s.info) {
      this.root.replaceChildren();
      return;
    }
    if (!h) {
      this.root.replaceChildren(el('p', { class: 'muted' }, 'Loading the history…'));
      return;
    }
    const unreadable = h.unreadable
      ? el('p', { class: 'warn small' }, `${count(h.unreadable, 'line')} of ${h.historyLabel} could not be read: the Tuneloop log names them.`)
      : '';
    if (h.points.length === 0) {
      this.root.replaceChildren(
        el(
          'div',
          { class: 'empty' },
          el('p', {}, `No recorded runs in ${h.historyLabel} yet.`),
          el(
            'p',
            { class: 'muted' },
            'Each tuneloop eval --record appends one (commit, date, pass rates); commit the file and add "*.history.jsonl merge=union" to .gitattributes.',
          ),
          unreadable,
        ),
      );
      return;
    }
    const names = variantNames(h.points);
    // The plot is of pass rates: eval runs; probe runs (flips) are listed in the table.
    const evals = h.points.filter((p) => p.kind === 'eval');
    this.box = el('div', { class: 'chart-box', role: 'img', 'aria-label': summary(evals, names) });
    const table = runsTable(h.points, names);
    this.root.replaceChildren(
      el('p', { class: 'muted small' }, `${count(h.points.length, 'recorded run')} in ${h.historyLabel}.`),
      unreadable,
      el('div', { class: 'history-chart', 'data-points': String(evals.length), 'data-series': String(names.length) }, this.box),
      table,
    );
    this.observer.observe(this.box);
    const fg = themeColour('--vscode-foreground', '#888');
    const grid = themeColour('--vscode-editorWidget-border', themeColour('--vscode-panel-border', 'rgba(128,128,128,0.3)'));
    const axis = (label: string): uPlot.Axis => ({ label, stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } });
    const xs = evals.map((_, i) => i + 1);
    const data: uPlot.AlignedData = [xs, ...names.map((n) => evals.map((p) => rateOf(p, n)))];
    this.plot = new uPlot(
      {
        ...this.size(),
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: false }, y: { range: [0, 100] } },
        axes: [{ ...axis('recorded run'), incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }, axis('pass rate (%)')],
        series: [
          { label: 'run' },
          ...names.map((n, i) => ({
            label: n,
            stroke: themeColour(SERIES_COLOURS[i % SERIES_COLOURS.length]!, FALLBACKS[i % FALLBACKS.length]!),
            width: 2,
            spanGaps: true,
            points: { show: true, size: 6 },
          })),
        ],
      },
      data,
      this.box,
    );
  }

  private size(): { width: number; height: number } {
    return { width: Math.max(240, Math.floor(this.box?.clientWidth || 480)), height: 220 };
  }
}

/** Every variant named in the history, in the order first seen. */
function variantNames(points: readonly HistoryPoint[]): string[] {
  const names: string[] = [];
  for (const p of points) for (const v of p.variants) if (!names.includes(v.name)) names.push(v.name);
  return names;
}

/** A variant's pass rate in percent at a run; null where it did not run. */
function rateOf(p: HistoryPoint, name: string): number | null {
  const r = p.variants.find((v) => v.name === name)?.passRate;
  return r === null || r === undefined ? null : Math.round(r * 1000) / 10;
}

function summary(points: readonly HistoryPoint[], names: readonly string[]): string {
  const last = points.at(-1);
  if (!last) return 'No recorded eval runs to plot';
  return `Pass rates over ${count(points.length, 'recorded run')}; latest: ${names.map((n) => `${n} ${rateOf(last, n) ?? '–'}%`).join(', ')}`;
}

function runsTable(points: readonly HistoryPoint[], names: readonly string[]): HTMLElement {
  const head = el(
    'tr',
    {},
    el('th', { scope: 'col' }, '#'),
    el('th', { scope: 'col' }, 'Date'),
    el('th', { scope: 'col' }, 'Commit'),
    ...names.map((n) => el('th', { scope: 'col' }, n)),
    el('th', { scope: 'col' }, 'Failures'),
  );
  // Newest first: the question is usually "what changed lately".
  const rows = points
    .map((p, i) =>
      el(
        'tr',
        { 'data-run': String(i + 1) },
        el('td', {}, p.kind === 'probe' ? `${i + 1} (probes)` : String(i + 1)),
        el('td', {}, p.date.replace('T', ' ').replace(/\.\d+Z$|Z$/, '')),
        el('td', { class: 'mono' }, p.commit ? `${p.commit.slice(0, 8)}${p.dirty ? ' (changed)' : ''}` : 'not in git'),
        ...names.map((n) => {
          const v = p.variants.find((x) => x.name === n);
          if (p.kind === 'probe')
            return el('td', { class: v?.probeFlips ? 'fail' : '' }, v?.probeFlips === null || v === undefined ? '–' : `${count(v.probeFlips, 'probe flip')}`);
          const rate = rateOf(p, n);
          const extra = v?.regressionCount ? `, ${count(v.regressionCount, 'regression')}` : '';
          return el('td', {}, rate === null ? '–' : `${rate}%${extra}`);
        }),
        el('td', { class: p.failures ? 'fail' : '' }, String(p.failures)),
      ),
    )
    .reverse();
  return el('div', { class: 'table-wrap' }, el('table', { class: 'matrix history-table' }, el('thead', {}, head), el('tbody', {}, ...rows)));
}
