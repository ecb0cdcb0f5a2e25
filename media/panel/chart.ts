import uPlot from 'uplot';
import type { TrainEvent } from '../../src/extension/panel/protocol';
import { count, el } from '../dom';

/**
 * The live loss curve of a fine-tuning run: training loss per step and validation loss at each
 * evaluation, drawn with uPlot (a maintained charting library, canvas-based and small). Colours come
 * from the theme's chart colours; the chart is rebuilt when the theme changes and resized with its box.
 */
function themeColour(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

export class LossChart {
  readonly root: HTMLElement;
  private readonly box: HTMLElement;
  private plot: uPlot | undefined;
  private readonly steps = new Map<number, { train?: number; validation?: number }>();
  private readonly observer: ResizeObserver;
  private readonly themeObserver: MutationObserver;
  private readonly summary: HTMLElement;

  constructor() {
    this.box = el('div', { class: 'chart-box', role: 'img', 'aria-label': 'Loss curve: no steps yet' });
    this.summary = el('p', { class: 'muted chart-summary' }, 'No steps yet.');
    this.root = el('div', { class: 'chart' }, this.box, this.summary);
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(this.box);
    this.themeObserver = new MutationObserver(() => this.rebuild());
    this.themeObserver.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  }

  reset(): void {
    this.steps.clear();
    this.update();
  }

  add(events: readonly TrainEvent[]): void {
    let changed = false;
    for (const e of events) {
      if (e.type === 'step') {
        this.steps.set(e.step, { ...this.steps.get(e.step), train: e.loss });
        changed = true;
      } else if (e.type === 'eval') {
        this.steps.set(e.step, { ...this.steps.get(e.step), validation: e.loss });
        changed = true;
      }
    }
    if (changed) this.update();
  }

  /** Points drawn so far (tests read them). */
  get points(): { train: number; validation: number } {
    let train = 0;
    let validation = 0;
    for (const v of this.steps.values()) {
      if (v.train !== undefined) train++;
      if (v.validation !== undefined) validation++;
    }
    return { train, validation };
  }

  private data(): uPlot.AlignedData {
    const xs = [...this.steps.keys()].sort((a, b) => a - b);
    return [xs, xs.map((x) => this.steps.get(x)!.train ?? null), xs.map((x) => this.steps.get(x)!.validation ?? null)];
  }

  private update(): void {
    const p = this.points;
    const data = this.data();
    const series = (i: 1 | 2) => Array.from(data[i] as ArrayLike<number | null | undefined>);
    const lastTrain = series(1).findLast((v) => v !== null && v !== undefined);
    const lastVal = series(2).findLast((v) => v !== null && v !== undefined);
    const text =
      p.train === 0
        ? 'No steps yet.'
        : `${count(p.train, 'step')}${lastTrain != null ? `, training loss ${lastTrain.toFixed(4)}` : ''}${p.validation ? `; ${count(p.validation, 'evaluation')}, validation loss ${lastVal!.toFixed(4)}` : ''}.`;
    this.summary.textContent = text;
    this.box.setAttribute('aria-label', `Loss curve: ${text}`);
    this.root.dataset.train = String(p.train);
    this.root.dataset.validation = String(p.validation);
    if (!this.plot) this.rebuild();
    else this.plot.setData(data);
  }

  private size(): { width: number; height: number } {
    return { width: Math.max(240, Math.floor(this.box.clientWidth || 480)), height: 220 };
  }

  private resize(): void {
    if (this.plot) this.plot.setSize(this.size());
  }

  private rebuild(): void {
    this.plot?.destroy();
    const fg = themeColour('--vscode-foreground', '#888');
    const grid = themeColour('--vscode-editorWidget-border', themeColour('--vscode-panel-border', 'rgba(128,128,128,0.3)'));
    const axis = (label: string): uPlot.Axis => ({ label, stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } });
    this.plot = new uPlot(
      {
        ...this.size(),
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: false } },
        axes: [axis('step'), axis('loss')],
        series: [
          { label: 'step' },
          { label: 'training loss', stroke: themeColour('--vscode-charts-blue', '#3794ff'), width: 2, spanGaps: true, points: { show: false } },
          { label: 'validation loss', stroke: themeColour('--vscode-charts-orange', '#d18616'), width: 2, spanGaps: true, points: { show: true, size: 6 } },
        ],
      },
      this.data(),
      this.box,
    );
  }

  dispose(): void {
    this.observer.disconnect();
    this.themeObserver.disconnect();
    this.plot?.destroy();
  }
}
