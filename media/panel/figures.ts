import { answerConfidence, matrixConfidence } from '../../src/core/compare/confidence';
import { labelMode, matrixLabelMetrics } from '../../src/core/compare/labels';
import { el } from '../dom';
import { resultCells, type RunView } from './state';

/**
 * The matrix's figures beyond pass rates, computed on the page from the cells received, with the
 * same core functions `tuneloop eval` reports them with: label metrics (accuracy, macro-F1) when
 * the prompt is a classification (`task: classification`, or `expected` values that look like
 * labels), and confidence (each answer's mean token probability; per variant the mean on passing
 * and on failing answers and the calibration error, ECE).
 */

export function confidenceOf(run: RunView) {
  return matrixConfidence(
    run.header.cases,
    run.header.variants.map((v) => v.id),
    resultCells(run),
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
  const results = resultCells(run);
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

/**
 * Label mode's detail under the matrix: each label's precision, recall and F1 per variant, and each
 * variant's confusion matrix (rows: expected; columns: what the output reads as). Filled into one
 * <details> kept across updates, so that an open one stays open while cells arrive.
 */
export function fillLabelDetails(run: RunView, details: HTMLDetailsElement): void {
  const ids = run.header.variants.map((v) => v.id);
  const labels = matrixLabelMetrics(
    run.header.task,
    run.header.cases.map((c) => ({ index: c.index, vars: c.expected === undefined ? {} : { expected: c.expected } })),
    ids,
    resultCells(run),
  );
  const any = labels ? ids.map((id) => labels.byVariant[id]).find((x) => x !== undefined) : undefined;
  details.hidden = !labels || !any;
  if (!labels || !any) return;
  const names = new Map(run.header.variants.map((v) => [v.id, v.name]));
  const perLabel = el(
    'table',
    { class: 'matrix label-table' },
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Label (n)'), ...ids.map((id) => el('th', { scope: 'col' }, `${names.get(id)}: P / R / F1`)))),
    el(
      'tbody',
      {},
      ...any.confusion.labels.map((l) =>
        el(
          'tr',
          { 'data-label': l },
          el('th', { scope: 'row' }, `${l} (${any.perLabel[l]?.support ?? 0})`),
          ...ids.map((id) => {
            const x = labels.byVariant[id]?.perLabel[l];
            return el('td', {}, x ? `${fixed2(x.precision)} / ${fixed2(x.recall)} / ${fixed2(x.f1)}` : '—');
          }),
        ),
      ),
    ),
  );
  const confusions = ids.flatMap((id) => {
    const m = labels.byVariant[id];
    if (!m) return [];
    return [
      el('h4', {}, `Confusion, ${names.get(id)} (rows: expected; columns: read as)`),
      el(
        'table',
        { class: 'matrix confusion', 'data-variant': id },
        el('thead', {}, el('tr', {}, el('th', {}, ''), ...m.confusion.columns.map((c) => el('th', { scope: 'col' }, c)))),
        el(
          'tbody',
          {},
          ...m.confusion.labels.map((l, i) =>
            el(
              'tr',
              {},
              el('th', { scope: 'row' }, l),
              ...m.confusion.matrix[i]!.map((n, j) => el('td', { class: n && m.confusion.columns[j] !== l ? 'off' : n ? 'on' : '' }, String(n))),
            ),
          ),
        ),
      ),
    ];
  });
  const summary = details.querySelector('summary') ?? el('summary', {}, 'Per-label precision, recall and F1, and confusion matrices');
  details.replaceChildren(
    summary,
    el('div', { class: 'table-wrap' }, perLabel),
    ...confusions.map((x) => (x.tagName === 'TABLE' ? el('div', { class: 'table-wrap' }, x) : x)),
  );
}

/** In label mode, the labels (the expected values) an output is read against; undefined otherwise. */
export function labelsOfRun(run: RunView): readonly string[] | undefined {
  const expected = run.header.cases.map((c) => c.expected);
  if (!labelMode(run.header.task, expected)) return undefined;
  return [...new Set(expected.filter((e): e is string => e !== undefined))].sort();
}
