import * as path from 'node:path';
import { matrixConfidence } from '../core/compare/confidence';
import { HISTORY_VERSION, type HistoryLine } from '../core/compare/history';
import { type LabelMetrics, matrixLabelMetrics } from '../core/compare/labels';
import { meetsMinPassRate } from '../core/compare/matrix';
import { meetsMaxRegressions, type Regression, type VariantScores } from '../core/compare/scores';
import type { Snapshot, SnapshotChange } from '../core/compare/snapshot';
import type { RepeatScores } from '../core/compare/repeats';
import type { SinceReport } from '../core/compare/since';
import { formatDiff, wordDiff } from '../core/compare/words';
import type { Matrix } from './matrix';

/**
 * `tuneloop eval`'s reports of each prompt file's matrix: a table for terminals, JSON and JUnit XML for
 * CI. Each puts every evaluator's own pass rate and each adapter's regressions against the base
 * (core/compare/scores.ts) beside the overall pass rate, so that a format check that passes cannot
 * stand for the result.
 */

const colour = () => process.stdout.isTTY === true && !process.env.NO_COLOR;

export interface FileReport {
  readonly matrix: Matrix;
  readonly snapshot?: { readonly file: string; readonly status: 'same' | 'changed' | 'missing' | 'updated'; readonly changes: readonly SnapshotChange[] };
  /** With --since REF: this run against the snapshot committed at REF. */
  readonly since?: SinceReport | undefined;
  readonly failures: readonly string[];
}

/** A pass rate as the reports print it: a percentage, or none when no test case completed. */
function rateText(rate: number | undefined): string {
  return rate === undefined ? 'none (no test case completed)' : percent(rate);
}

const percent = (rate: number) => `${(rate * 100).toFixed(0)}%`;

/** The k-th evaluator's pass rate for a variant: a percentage; `not run` for a judge that runs elsewhere; `none` with no completed test case. */
function evaluatorRateText(scores: VariantScores | undefined, k: number): string {
  const rate = scores?.evaluators[k]?.rate;
  if (rate !== undefined) return percent(rate);
  return scores && scores.completed > 0 ? 'not run' : 'none';
}

/** A variant's scores (the matrix computes one per variant). */
export function scoresOf(m: Matrix, variant: string): VariantScores | undefined {
  return m.scores.find((s) => s.variant === variant);
}

/** How many regressions a table shows, as cases with both outputs. */
const SHOWN_REGRESSIONS = 3;

/** An output quoted on one line (newlines and control characters escaped), shortened past `max` characters. */
export function quoteOutput(text: string, max = 160): string {
  const q = JSON.stringify(text);
  return q.length > max ? `${q.slice(0, max - 4)}..."` : q;
}

/** Regressions grouped by test case, in case order: each case's evaluators and its two outputs. */
function byCase(regressions: readonly Regression[]): { caseIndex: number; evaluators: string[]; base: string; output: string }[] {
  const out: { caseIndex: number; evaluators: string[]; base: string; output: string }[] = [];
  for (const r of regressions) {
    const last = out.at(-1);
    if (last?.caseIndex === r.caseIndex) last.evaluators.push(r.evaluator);
    else out.push({ caseIndex: r.caseIndex, evaluators: [r.evaluator], base: r.base, output: r.output });
  }
  return out;
}

export function outputsOf(m: Matrix): Snapshot['outputs'] {
  return Object.fromEntries(Object.entries(m.results).map(([v, cells]) => [v, Object.fromEntries(Object.entries(cells).map(([i, c]) => [i, c.text]))]));
}

/**
 * Text for XML: markup characters escaped, and characters XML 1.0 cannot hold at all (control
 * characters other than tab and newlines, lone surrogates; a model's output may have them) written
 * as \\uXXXX, so that a CI's JUnit parser still reads the report.
 */
export function escapeXml(s: string): string {
  return s
    .replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!)
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The dtype a matrix ran in, and where it was chosen: `q8 (--dtype)`. */
function dtypeText(m: Matrix): string {
  const from = { option: '--dtype', prompt: "the prompt's dtype", setting: 'the setting', default: 'the default' }[m.dtypeFrom];
  return `${m.dtype} (${from})`;
}

/** The file's label metrics per variant, when label mode is on (core/compare/labels.ts). */
function labelsOf(m: Matrix) {
  return matrixLabelMetrics(
    m.prompt.task,
    m.cases,
    m.variants.map((v) => v.name),
    m.results,
  );
}

const fixed2 = (x: number) => x.toFixed(2);

/** Label metrics as table lines: accuracy and macro-F1 per variant, each label's P/R/F1, and each variant's confusion matrix. */
function labelLines(m: Matrix, width: number, first: number): string[] {
  const labels = labelsOf(m);
  if (!labels) return [];
  const names = m.variants.map((v) => v.name);
  const any = names.map((n) => labels.byVariant[n]).find((x): x is LabelMetrics => x !== undefined);
  if (!any) return [];
  const why = labels.mode === 'task' ? 'task: classification' : `expected holds ${any.confusion.labels.length} labels`;
  const cell = (n: string, f: (x: LabelMetrics) => string) => {
    const x = labels.byVariant[n];
    return x ? f(x) : 'none';
  };
  const labelText = (l: string) => `${l} (${any.perLabel[l]?.support ?? 0})`;
  const lw = Math.max(first, 'label (n)'.length, ...any.confusion.labels.map((l) => labelText(l).length));
  // As wide as a "P / R / F1" cell (1.00 / 1.00 / 1.00).
  const w = Math.max(width, 18);
  const row = (label: string, cells: readonly string[]) => `  ${label.padEnd(lw)}  ${cells.map((c) => c.padEnd(w)).join('  ')}`.trimEnd();
  const lines = [`  label metrics (${why}; an output reads as a label when equal to it, ignoring case and a final full stop):`];
  lines.push(
    row(
      'accuracy',
      names.map((n) => cell(n, (x) => percent(x.accuracy))),
    ),
  );
  lines.push(
    row(
      'macro-F1',
      names.map((n) => cell(n, (x) => fixed2(x.macroF1))),
    ),
  );
  lines.push(`  ${'label (n)'.padEnd(lw)}  ${names.map(() => 'P / R / F1'.padEnd(w)).join('  ')}`.trimEnd());
  for (const l of any.confusion.labels) {
    lines.push(
      row(
        labelText(l),
        names.map((n) =>
          cell(n, (x) => {
            const s = x.perLabel[l];
            return s ? `${fixed2(s.precision)} / ${fixed2(s.recall)} / ${fixed2(s.f1)}` : '–';
          }),
        ),
      ),
    );
  }
  for (const n of names) {
    const x = labels.byVariant[n];
    if (!x) continue;
    const cw = Math.max(5, ...x.confusion.columns.map((c) => c.length));
    lines.push(`  confusion, ${n} (rows: expected; columns: read as):`);
    lines.push(`    ${''.padEnd(lw)}  ${x.confusion.columns.map((c) => c.padStart(cw)).join(' ')}`);
    x.confusion.labels.forEach((l, i) => lines.push(`    ${l.padEnd(lw)}  ${x.confusion.matrix[i]!.map((v) => String(v).padStart(cw)).join(' ')}`));
  }
  return lines;
}

/** Each variant's answer confidences and reliability (core/compare/confidence.ts). */
function confidenceOf(m: Matrix) {
  return matrixConfidence(
    m.cases,
    m.variants.map((v) => v.name),
    m.results,
  );
}

/** One line a variant: mean token probability over its answers, on passing and failing ones, and the ECE. */
function confidenceLine(m: Matrix, confidence: ReturnType<typeof confidenceOf>, variant: string, width: number): string | undefined {
  const c = confidence[variant];
  if (!c?.reliability) return undefined;
  const mean = (pass: boolean | undefined) => {
    const xs = Object.entries(c.answers)
      .filter(([i]) => pass === undefined || m.results[variant]?.[Number(i)]?.passed === pass)
      .map(([, a]) => a.mean);
    return xs.length ? fixed2(xs.reduce((a, b) => a + b, 0) / xs.length) : '–';
  };
  return `  ${variant.padEnd(width)}  confidence: mean token probability ${mean(undefined)} (passing ${mean(true)}, failing ${mean(false)}); calibration error (ECE) ${fixed2(c.reliability.ece)} over ${c.reliability.answers} answer(s)`;
}

/** A rate to one decimal: `80.8%`. */
export const percent1 = (rate: number) => `${(rate * 100).toFixed(1)}%`;

/** With --repeat: the pass rate over all runs with its 95% interval (the gate reads the lower bound), and the flaky cases. */
function repeatLines(x: RepeatScores, variant: string, minPassRate: number, width: number): string[] {
  const name = variant.padEnd(width);
  if (x.rate === undefined) return [`  ${name}  pass rate none (no run completed) on all evaluators (required ${percent(minPassRate)})  FAIL`];
  const ok = meetsMinPassRate(x.low, minPassRate);
  const lines = [
    `  ${name}  pass rate ${percent1(x.rate)} over ${x.completed} runs (${x.repeat} per case), 95% interval ${percent1(x.low!)}–${percent1(x.high!)}; lower bound against the required ${percent(minPassRate)}${ok ? '' : '  FAIL'}`,
  ];
  const flaky = x.flaky.map((i) => `case ${i} (${x.byCase[i]!.passed} of ${x.byCase[i]!.runs})`);
  lines.push(`  ${name}  ${x.flaky.length} flaky case(s) (passed in some runs, failed in others)${flaky.length ? `: ${flaky.join(', ')}` : ''}`);
  return lines;
}

export function tableReport(r: FileReport): string {
  const m = r.matrix;
  const lines = [
    `${path.relative(process.cwd(), m.file)}  (model ${m.model.id}${m.model.hosted ? `, for hosted ${m.model.hosted}` : ''}, dtype ${dtypeText(m)})`,
  ];
  const width = Math.max(4, ...m.variants.map((v) => v.name.length));
  // Rows: the test cases (pass when no evaluator failed), then each evaluator's pass rate.
  const first = Math.max(4, ...m.prompt.evaluators.map((e) => e.name.length));
  const row = (label: string, cells: readonly string[]) => `  ${label.padEnd(first)}  ${cells.map((c) => c.padEnd(width)).join('  ')}`.trimEnd();
  lines.push(
    row(
      'case',
      m.variants.map((v) => v.name),
    ),
  );
  for (const c of m.cases)
    lines.push(
      row(
        String(c.index).padStart(4),
        m.variants.map((v) => {
          // With repeats: the runs it passed, of those completed.
          const x = m.repeats?.[v.name]?.byCase[c.index];
          if (x) return `${x.passed}/${x.runs}`;
          return m.results[v.name]?.[c.index]?.passed ? 'pass' : 'FAIL';
        }),
      ),
    );
  if (m.prompt.evaluators.length) {
    lines.push(
      m.repeats
        ? '  pass rate of each evaluator (passed ÷ completed runs it ran on):'
        : '  pass rate of each evaluator (passed ÷ completed test cases it ran on):',
    );
    m.prompt.evaluators.forEach((e, k) =>
      lines.push(
        row(
          e.name,
          m.variants.map((v) => evaluatorRateText(scoresOf(m, v.name), k)),
        ),
      ),
    );
  }
  lines.push(...labelLines(m, width, first));
  const confidence = confidenceOf(m);
  for (const v of m.variants) {
    const rate = m.passRates[v.name];
    const repeated = m.repeats?.[v.name];
    if (repeated) lines.push(...repeatLines(repeated, v.name, v.minPassRate, width));
    else
      lines.push(
        `  ${v.name.padEnd(width)}  pass rate ${rateText(rate)} on all evaluators (required ${percent(v.minPassRate)})${meetsMinPassRate(rate, v.minPassRate) ? '' : '  FAIL'}`,
      );
    const sure = confidenceLine(m, confidence, v.name, width);
    if (sure) lines.push(sure);
    const regressions = scoresOf(m, v.name)?.regressions;
    if (regressions === undefined) continue;
    const limit = v.maxRegressions === undefined ? 'no limit' : `allowed ${v.maxRegressions}`;
    const ok = meetsMaxRegressions(regressions.length, v.maxRegressions);
    const which = m.repeats ? ', on run 0 of each case' : '';
    lines.push(`  ${v.name.padEnd(width)}  ${regressions.length} regression(s) against base (${limit}${which})${ok ? '' : '  FAIL'}`);
    const cases = byCase(regressions);
    for (const c of cases.slice(0, SHOWN_REGRESSIONS)) {
      lines.push(`    case ${c.caseIndex}: base passes and ${v.name} fails ${c.evaluators.map((e) => JSON.stringify(e)).join(', ')}`);
      lines.push(`      ${'base'.padEnd(width)}  ${quoteOutput(c.base)}`);
      lines.push(`      ${v.name.padEnd(width)}  ${quoteOutput(c.output)}`);
    }
    if (cases.length > SHOWN_REGRESSIONS) lines.push(`    (and ${cases.length - SHOWN_REGRESSIONS} more test case(s): --reporter json lists them all)`);
  }
  if (r.snapshot) {
    const s = r.snapshot;
    lines.push(`  snapshot ${path.relative(process.cwd(), s.file)}: ${s.status}${s.changes.length ? ` (${s.changes.length} output(s))` : ''}`);
    for (const ch of s.changes.slice(0, 10)) {
      lines.push(
        `    ${ch.variant} case ${ch.caseIndex} ${ch.kind}${ch.kind === 'changed' ? `: ${formatDiff(wordDiff(ch.before!, ch.after!), colour())}` : ''}`,
      );
    }
  }
  if (r.since) lines.push(...sinceLines(r.since, m, width));
  return lines.join('\n');
}

/** How many changed outputs the --since section shows with word diffs. */
const SHOWN_SINCE_CHANGES = 10;

/** The --since section: the model then and now, each variant's pass rate then and now with the cases that flipped, and the outputs that changed. */
function sinceLines(s: SinceReport, m: Matrix, width: number): string[] {
  const lines = [`  since ${s.ref} (commit ${s.commit.slice(0, 12)}, ${s.snapshot}):`];
  const sameModel = s.modelThen.sha256 === m.modelSha256;
  lines.push(
    `    model: ${sameModel ? 'the same' : `changed (then ${s.modelThen.id} ${s.modelThen.sha256.slice(0, 12)}, now ${m.model.id} ${(m.modelSha256 ?? '').slice(0, 12)})`}`,
  );
  const rate = (x: number | null) => (x === null ? 'none' : percent(x));
  const list = (xs: readonly number[]) => (xs.length ? xs.join(', ') : 'none');
  for (const v of s.variants)
    lines.push(
      `    ${v.name.padEnd(width)}  pass rate ${rate(v.passRateThen)} → ${rate(v.passRateNow)}; pass → FAIL: ${list(v.newlyFailing)}; FAIL → pass: ${list(v.newlyPassing)}`,
    );
  lines.push(`    ${s.changes.length} output(s) changed (verdicts then are today's evaluators on the outputs at ${s.ref})${s.changes.length ? ':' : ''}`);
  for (const ch of s.changes.slice(0, SHOWN_SINCE_CHANGES))
    lines.push(
      `      ${ch.variant} case ${ch.caseIndex} ${ch.kind}${ch.kind === 'changed' ? `: ${formatDiff(wordDiff(ch.before!, ch.after!), colour())}` : ''}`,
    );
  if (s.changes.length > SHOWN_SINCE_CHANGES) lines.push(`      (and ${s.changes.length - SHOWN_SINCE_CHANGES} more: --reporter json lists them all)`);
  return lines;
}

/**
 * JUnit XML: a suite per file and variant, a test case per test case. A suite's properties hold its
 * pass rates (all evaluators, then each) and, for an adapter, its regression count; a case that
 * regressed says so first in its failure, naming the evaluators and quoting both outputs.
 */
export function junitReport(reports: readonly FileReport[]): string {
  const suites = reports.flatMap((r) => {
    const labels = labelsOf(r.matrix);
    const confidence = confidenceOf(r.matrix);
    return r.matrix.variants.map((v) => {
      const scores = scoresOf(r.matrix, v.name);
      const repeats = r.matrix.repeats?.[v.name];
      const regressed = new Map(byCase(scores?.regressions ?? []).map((c) => [c.caseIndex, c]));
      const cases = r.matrix.cases.map((c) => {
        const cell = r.matrix.results[v.name]?.[c.index];
        const failed = cell?.evaluations.filter((e) => e.passed === false) ?? [];
        const repeatedCase = repeats?.byCase[c.index];
        const regression = regressed.get(c.index);
        const said = regression
          ? [
              `regressed against base on ${regression.evaluators.map((e) => JSON.stringify(e)).join(', ')}: base ${quoteOutput(regression.base)} passes, ${v.name} ${quoteOutput(regression.output)} fails`,
            ]
          : [];
        const others = failed.filter((e) => !regression?.evaluators.includes(e.name));
        // With repeats a case fails when any run failed; the message counts its runs (a flaky case passed in some).
        const runsFailed = repeatedCase ? repeatedCase.runs - repeatedCase.passed : 0;
        const runsSaid = runsFailed ? [`failed in ${runsFailed} of ${repeatedCase!.runs} runs${repeatedCase!.passed > 0 ? ' (flaky)' : ''}`] : [];
        const message = [
          ...runsSaid,
          ...said,
          ...(others.length ? [`${said.length ? 'also failed' : 'failed'}: ${others.map((e) => e.name).join(', ')}`] : []),
        ].join('; ');
        const body =
          failed.length || runsFailed
            ? `<failure message="${escapeXml(message)}">${escapeXml([...runsSaid, ...said, ...failed.map((e) => `${e.name}: ${e.detail}`)].join('\n'))}</failure>`
            : '';
        return `    <testcase classname="${escapeXml(path.basename(r.matrix.file))}.${escapeXml(v.name)}" name="case ${c.index}">${body}<system-out>${escapeXml(cell?.text ?? '')}</system-out></testcase>`;
      });
      const property = (name: string, value: number | string | undefined) =>
        value === undefined ? [] : [`      <property name="${escapeXml(name)}" value="${escapeXml(String(value))}"/>`];
      const properties = [
        ...property('model', r.matrix.model.id),
        ...property('dtype', r.matrix.dtypes[v.name] ?? r.matrix.dtype),
        ...property('passRate', r.matrix.passRates[v.name]),
        ...property('repeat', repeats?.repeat),
        ...property('passRateLow', repeats?.low),
        ...property('passRateHigh', repeats?.high),
        ...property('flakyCases', repeats ? repeats.flaky.join(' ') : undefined),
        ...(scores?.evaluators ?? []).flatMap((e) => property(`passRate: ${e.name}`, e.rate)),
        ...property('regressionCount', scores?.regressions?.length),
        ...property('accuracy', labels?.byVariant[v.name]?.accuracy),
        ...property('macroF1', labels?.byVariant[v.name]?.macroF1),
        ...property('ece', confidence[v.name]?.reliability?.ece),
        ...property('maxRegressions', v.maxRegressions),
        ...property(`passRate since ${r.since?.ref}`, r.since?.variants.find((x) => x.name === v.name)?.passRateThen ?? undefined),
      ];
      const failures = r.matrix.cases.filter((c) => {
        const x = repeats?.byCase[c.index];
        return x ? x.passed < x.runs : !r.matrix.results[v.name]?.[c.index]?.passed;
      }).length;
      return `  <testsuite name="${escapeXml(path.basename(r.matrix.file))} [${escapeXml(v.name)}]" tests="${r.matrix.cases.length}" failures="${failures}">\n${properties.length ? `    <properties>\n${properties.join('\n')}\n    </properties>\n` : ''}${cases.join('\n')}\n  </testsuite>`;
    });
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n${suites.join('\n')}\n</testsuites>`;
}

export function jsonReport(reports: readonly FileReport[]): string {
  const json = reports.map((r) => {
    const labels = labelsOf(r.matrix);
    const confidence = confidenceOf(r.matrix);
    return {
      /** Why label metrics are on ('task': the prompt says task: classification; 'expected': its expected values are labels), or null. */
      labelMode: labels?.mode ?? null,
      file: r.matrix.file,
      model: {
        id: r.matrix.model.id,
        from: r.matrix.model.from,
        ...(r.matrix.model.hosted ? { hosted: r.matrix.model.hosted } : {}),
        sha256: r.matrix.modelSha256,
        /** The dtype asked for, and where from: option (--dtype), prompt (its dtype key) or default. */
        dtype: r.matrix.dtype,
        dtypeFrom: r.matrix.dtypeFrom,
      },
      variants: r.matrix.variants.map((v) => {
        const scores = scoresOf(r.matrix, v.name);
        const regressions = scores?.regressions;
        return {
          name: v.name,
          adapter: v.adapterDir ?? null,
          /** The dtype its model ran in, as loaded; null when it did not load. */
          dtype: r.matrix.dtypes[v.name] ?? null,
          /** Over all evaluators: a test case passes when none failed. With --repeat, over every completed run. */
          passRate: r.matrix.passRates[v.name] ?? null,
          /**
           * With --repeat N on a sampled prompt: runs per case, passed and completed runs, the 95% Wilson
           * interval (low is what minPassRate gates), the flaky cases and each case's passes; else null.
           */
          repeat: (() => {
            const x = r.matrix.repeats?.[v.name];
            return x
              ? { runs: x.repeat, passed: x.passed, completed: x.completed, low: x.low ?? null, high: x.high ?? null, flaky: x.flaky, byCase: x.byCase }
              : null;
          })(),
          minPassRate: v.minPassRate,
          evaluators: (scores?.evaluators ?? []).map((e) => ({ name: e.name, passRate: e.rate ?? null, passed: e.passed, ran: e.ran })),
          /** Null for the base (nothing to regress against). */
          regressions: regressions ? regressions.map((x) => ({ caseIndex: x.caseIndex, evaluator: x.evaluator, base: x.base, output: x.output })) : null,
          regressionCount: regressions?.length ?? null,
          maxRegressions: v.maxRegressions ?? null,
          /** In label mode: accuracy, macroF1, perLabel {precision, recall, f1, support}, confusion {labels (rows), columns, matrix}; else null. */
          labelMetrics: labels?.byVariant[v.name] ?? null,
          /**
           * From the tokens' log-probabilities: per case, the answer's mean and lowest token probability;
           * a reliability table (bins of mean token probability against the pass rate) and its ECE.
           */
          confidence: (() => {
            const c = confidence[v.name];
            return c?.reliability ? { ece: c.reliability.ece, answers: c.reliability.answers, bins: c.reliability.bins, byCase: c.answers } : null;
          })(),
        };
      }),
      cases: r.matrix.cases.map((c) => ({
        index: c.index,
        vars: c.vars,
        outputs: Object.fromEntries(r.matrix.variants.map((v) => [v.name, r.matrix.results[v.name]?.[c.index]])),
        /** With --repeat: every run's output and verdict, by variant (outputs above hold run 0). */
        ...(r.matrix.runs
          ? {
              runs: Object.fromEntries(
                r.matrix.variants.map((v) => [
                  v.name,
                  (r.matrix.runs?.[v.name]?.[c.index] ?? []).map((x) => ({ text: x.text, passed: x.passed, finish: x.finish })),
                ]),
              ),
            }
          : {}),
      })),
      snapshot: r.snapshot ?? null,
      /** With --since REF: {ref, commit, snapshot (its path in the repository), modelThen, changes, variants: [{name, passRateThen, passRateNow, newlyFailing, newlyPassing}]}; else null. */
      since: r.since ?? null,
      failures: r.failures,
    };
  });
  return JSON.stringify({ ok: reports.every((r) => r.failures.length === 0), files: json }, null, 2);
}

/** The history line of a file's run (tuneloop eval --record): what a run over commits needs. */
export function historyLine(
  r: FileReport,
  at: {
    readonly commit: string | null;
    readonly dirty: boolean | null;
    readonly date: string;
    readonly root: string;
    /** The model as a snapshot names it (the same on every machine: snapshot.ts snapshotModelId). */
    readonly modelId: string;
    readonly adapterSha256: (dir: string) => string | null;
  },
): HistoryLine {
  const m = r.matrix;
  const labels = labelsOf(m);
  const confidence = confidenceOf(m);
  return {
    version: HISTORY_VERSION,
    commit: at.commit,
    dirty: at.dirty,
    date: at.date,
    file: path.relative(at.root, m.file),
    model: { id: at.modelId, sha256: m.modelSha256 ?? null },
    variants: m.variants.map((v) => {
      const scores = scoresOf(m, v.name);
      const lm = labels?.byVariant[v.name];
      return {
        name: v.name,
        adapter: v.adapterDir ? path.relative(at.root, v.adapterDir) : null,
        adapterSha256: v.adapterDir ? at.adapterSha256(v.adapterDir) : null,
        dtype: m.dtypes[v.name] ?? null,
        passRate: m.passRates[v.name] ?? null,
        evaluators: Object.fromEntries((scores?.evaluators ?? []).map((e) => [e.name, e.rate ?? null])),
        regressionCount: scores?.regressions?.length ?? null,
        labelMetrics: lm ? { accuracy: lm.accuracy, macroF1: lm.macroF1 } : null,
        ece: confidence[v.name]?.reliability?.ece ?? null,
        repeat: (() => {
          const x = m.repeats?.[v.name];
          return x ? { runs: x.repeat, low: x.low ?? null, high: x.high ?? null, flaky: x.flaky.length } : null;
        })(),
      };
    }),
    failures: r.failures,
  };
}
