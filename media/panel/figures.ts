import { answerConfidence, matrixConfidence } from '../../src/core/compare/confidence';
import { matrixLabelMetrics } from '../../src/core/compare/labels';
import { el } from '../dom';
import { cellKey, type RunView } from './state';

/**
 * The matrix's figures beyond pass rates, computed on the page from the cells received, with the
 * same core functions `tuneloop eval` reports them with: label metrics (accuracy, macro-F1) when
 * the prompt is a classification (`task: classification`, or `expected` values that look like
 * labels), and confidence (each answer's mean token probability; per variant the mean on passing
 * and on failing answers and the calibration error, ECE).
 */

/** A run's completed cells, by variant id and case index, as the core functions read them. */
function cellsOf(run: RunView) {
  const results: Record<string, Record<number, { text: string; finish: string; passed: boolean; tokens: readonly { logprob: number }[] }>> = {};
  for (const v of run.header.variants) {
    const cells: Record<number, { text: string; finish: string; passed: boolean; tokens: readonly { logprob: number }[] }> = {};
    for (const c of run.header.cases) {
      const cell = run.cells.get(cellKey(v.id, c.index))?.cell;
      if (!cell || cell.finish === 'error') continue;
      cells[c.index] = { text: cell.text, finish: cell.finish, passed: cell.passed, tokens: cell.tokens };
    }
    results[v.id] = cells;
  }
  return results;
}

export function confidenceOf(run: RunView) {
  return matrixConfidence(
    run.header.cases,
    run.header.variants.map((v) => v.id),
    cellsOf(run),
  );
}

/** " · p 0.93 (lowest 0.41)": how sure the model was of an answer. */
export function confidenceText(tokens: readonly { readonly logprob: number }[]): string {
  const a = answerConfidence(tokens);
  return a ? ` · p ${a.mean.toFixed(2)} (lowest ${a.min.toFixed(2)})` : '';
}

const fixed2 = (x: number) => x.toFixed(2);

/** The footer rows: confidence and calibration for every run; accuracy and macro-F1 in label mode. */
export function figureRows(run: RunView): HTMLTableRowElement[] {
  const ids = run.header.variants.map((v) => v.id);
  const results = cellsOf(run);
  const rows: HTMLTableRowElement[] = [];
  const labels = matrixLabelMetrics(
    run.header.task,
    run.header.cases.map((c) => ({ index: c.index, vars: c.expected === undefined ? {} : { expected: c.expected } })),
    ids,
    results,
  );
  if (labels) {
    const why = labels.mode === 'task' ? 'task: classification' : 'expected values are labels';
    const row = (name: string, cls: string, f: (id: string) => string) =>
      el('tr', { class: cls, title: why }, el('th', { scope: 'row' }, name), ...ids.map((id) => el('td', { 'data-variant': id }, f(id))));
    rows.push(
      row('Accuracy (labels)', 'label-accuracy', (id) => {
        const m = labels.byVariant[id];
        return m ? `${Math.round(m.accuracy * 100)}%` : '—';
      }),
      row('Macro-F1 (labels)', 'label-f1', (id) => {
        const m = labels.byVariant[id];
        return m ? fixed2(m.macroF1) : '—';
      }),
    );
  }
  const sure = matrixConfidence(run.header.cases, ids, results);
  rows.push(
    el(
      'tr',
      {
        class: 'confidence',
        title: 'Mean token probability of the answers, on passing and failing ones, and the expected calibration error (0: sure exactly as often as right)',
      },
      el('th', { scope: 'row' }, 'Confidence (passing / failing; ECE)'),
      ...ids.map((id) => {
        const c = sure[id];
        if (!c?.reliability) return el('td', { 'data-variant': id }, '—');
        const mean = (pass: boolean) => {
          const xs = Object.entries(c.answers)
            .filter(([i]) => results[id]?.[Number(i)]?.passed === pass)
            .map(([, a]) => a.mean);
          return xs.length ? fixed2(xs.reduce((a, b) => a + b, 0) / xs.length) : '–';
        };
        return el('td', { 'data-variant': id }, `${mean(true)} / ${mean(false)}; ECE ${fixed2(c.reliability.ece)}`);
      }),
    ),
  );
  return rows;
}
