import * as path from 'node:path';
import { meetsMinPassRate } from '../core/compare/matrix';
import type { Snapshot, SnapshotChange } from '../core/compare/snapshot';
import { formatDiff, wordDiff } from '../core/compare/words';
import type { Matrix } from './matrix';

/** `tuneloop eval`'s reports of each prompt file's matrix: a table for terminals, JSON and JUnit XML for CI. */

const colour = () => process.stdout.isTTY === true && !process.env.NO_COLOR;

export interface FileReport {
  readonly matrix: Matrix;
  readonly snapshot?: { readonly file: string; readonly status: 'same' | 'changed' | 'missing' | 'updated'; readonly changes: readonly SnapshotChange[] };
  readonly failures: readonly string[];
}

/** A pass rate as the reports print it: a percentage, or none when no test case completed. */
function rateText(rate: number | undefined): string {
  return rate === undefined ? 'none (no test case completed)' : `${(rate * 100).toFixed(0)}%`;
}

export function outputsOf(m: Matrix): Snapshot['outputs'] {
  return Object.fromEntries(Object.entries(m.results).map(([v, cells]) => [v, Object.fromEntries(Object.entries(cells).map(([i, c]) => [i, c.text]))]));
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

export function tableReport(r: FileReport): string {
  const m = r.matrix;
  const lines = [`${path.relative(process.cwd(), m.file)}  (model ${m.model.id}${m.model.hosted ? `, for hosted ${m.model.hosted}` : ''})`];
  const width = Math.max(4, ...m.variants.map((v) => v.name.length));
  lines.push(`  case  ${m.variants.map((v) => v.name.padEnd(width)).join('  ')}`);
  for (const c of m.cases)
    lines.push(`  ${String(c.index).padStart(4)}  ${m.variants.map((v) => (m.results[v.name]?.[c.index]?.passed ? 'pass' : 'FAIL').padEnd(width)).join('  ')}`);
  for (const v of m.variants) {
    const rate = m.passRates[v.name];
    lines.push(
      `  ${v.name.padEnd(width)} pass rate ${rateText(rate)} (required ${(v.minPassRate * 100).toFixed(0)}%)${meetsMinPassRate(rate, v.minPassRate) ? '' : '  FAIL'}`,
    );
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
  return lines.join('\n');
}

export function junitReport(reports: readonly FileReport[]): string {
  const suites = reports.flatMap((r) =>
    r.matrix.variants.map((v) => {
      const cases = r.matrix.cases.map((c) => {
        const cell = r.matrix.results[v.name]?.[c.index];
        const failed = cell?.evaluations.filter((e) => e.passed === false) ?? [];
        const body = failed.length
          ? `<failure message="${escapeXml(failed.map((e) => e.name).join(', '))}">${escapeXml(failed.map((e) => `${e.name}: ${e.detail}`).join('\n'))}</failure>`
          : '';
        return `    <testcase classname="${escapeXml(path.basename(r.matrix.file))}.${escapeXml(v.name)}" name="case ${c.index}">${body}<system-out>${escapeXml(cell?.text ?? '')}</system-out></testcase>`;
      });
      const failures = r.matrix.cases.filter((c) => !r.matrix.results[v.name]?.[c.index]?.passed).length;
      return `  <testsuite name="${escapeXml(path.basename(r.matrix.file))} [${escapeXml(v.name)}]" tests="${r.matrix.cases.length}" failures="${failures}">\n${cases.join('\n')}\n  </testsuite>`;
    }),
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n${suites.join('\n')}\n</testsuites>`;
}

export function jsonReport(reports: readonly FileReport[]): string {
  const json = reports.map((r) => ({
    file: r.matrix.file,
    model: {
      id: r.matrix.model.id,
      from: r.matrix.model.from,
      ...(r.matrix.model.hosted ? { hosted: r.matrix.model.hosted } : {}),
      sha256: r.matrix.modelSha256,
    },
    variants: r.matrix.variants.map((v) => ({
      name: v.name,
      adapter: v.adapterDir ?? null,
      passRate: r.matrix.passRates[v.name] ?? null,
      minPassRate: v.minPassRate,
    })),
    cases: r.matrix.cases.map((c) => ({
      index: c.index,
      vars: c.vars,
      outputs: Object.fromEntries(r.matrix.variants.map((v) => [v.name, r.matrix.results[v.name]?.[c.index]])),
    })),
    snapshot: r.snapshot ?? null,
    failures: r.failures,
  }));
  return JSON.stringify({ ok: reports.every((r) => r.failures.length === 0), files: json }, null, 2);
}
