import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { type MatrixPlan, planMatrix } from '../core/compare/plan';
import { formatDiff, wordDiff } from '../core/compare/words';
import { TuneloopError } from '../core/errors';
import { findRoot } from '../core/fs/root';
import { runProbes } from '../core/probes/run';
import { meetsMaxProbeFlips, type ProbesReport } from '../core/probes/report';
import { escapeXml } from './eval-report';
import { adapterSha256, downloadOptions, gitState } from './compare';
import { appendHistory, HISTORY_VERSION, type HistoryLine, historyFileOf } from '../core/compare/history';
import { snapshotModelId } from '../core/compare/snapshot';
import { defaultModelDir, dtypeHelp, parseDtypeOption, parseRoot, parseThreads, trustedReads } from './options';

/**
 * `tuneloop probe`: every test case under every swap of the prompt file's probes, on each variant
 * (core/probes), reported as outputs that change, evaluator outcomes that flip, the change in the
 * expected answer's log-probability and a divergence per swap; gated by maxProbeFlips.
 */

export const PROBE_USAGE = `tuneloop probe FILE... [--reporter table|json|junit] [--record] [--model DIR] [--dtype fp32|q8|q4] [--variant NAME]... [--threads N] [--root DIR] [--download]

Runs every test case of each prompt file under every swap of its probes (the \`probes\` key: a
variable's values, or words such as pronouns swapped in the messages and test values) on the base
model and each adapter. For each probe, swap and variant it reports the outputs that changed
against the probe's first column, the evaluator outcomes that flipped, the mean change in the
log-probability of the expected answer (where test cases have \`expected\`), and the divergence of
the outputs; an adapter's flips that the base does not have are marked new. Exit status 1 when a
variant has more flips than its maxProbeFlips (top level or per adapter; default: no limit).
--record appends each variant's flips (and those new against the base) as one line to
NAME.history.jsonl beside the snapshot, as tuneloop eval --record does with pass rates.

${dtypeHelp('every variant runs')}`;

const colour = () => process.stdout.isTTY === true && !process.env.NO_COLOR;

interface FileResult {
  readonly file: string;
  readonly plan: MatrixPlan;
  readonly report: ProbesReport;
  readonly failures: readonly string[];
}

/** How many flips and changed outputs the table shows per swap, with both outputs. */
const SHOWN = 3;

const signed = (x: number | null) => (x === null ? 'none' : `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`);

function table(r: FileResult): string {
  const lines = [`${path.relative(process.cwd(), r.file)}  (model ${r.plan.model.id}, dtype ${r.plan.dtype})`];
  for (const p of r.report.probes) {
    lines.push(
      `  probe "${p.name}": ${p.swaps}, ${p.labels.map((l) => JSON.stringify(l)).join(' | ')}; reference ${JSON.stringify(p.labels[0])}; applies to ${p.applies} of ${p.cases} test case(s)`,
    );
    for (const v of p.variants) {
      lines.push(`    ${v.variant}: ${v.flips} flip(s)`);
      for (const s of v.swaps) {
        const fresh = s.flips.filter((f) => f.new).length;
        const newText = s.flips.some((f) => f.new !== undefined) ? ` (${fresh} new against base)` : '';
        lines.push(
          `      → ${s.label.padEnd(12)} ${s.changed.length} of ${s.applies} output(s) changed, ${s.flips.length} flip(s)${newText}, Δ log p(expected) ${signed(s.deltaLogProb)}, divergence ${s.divergence === null ? 'none' : s.divergence.toFixed(2)}`,
        );
        for (const f of s.flips.slice(0, SHOWN)) {
          const c = s.changed.find((x) => x.caseIndex === f.caseIndex);
          lines.push(
            `        case ${f.caseIndex} ${JSON.stringify(f.evaluator)}: ${f.reference ? 'pass' : 'FAIL'} → ${f.swapped ? 'pass' : 'FAIL'}${f.new ? ' (new)' : ''}`,
          );
          if (c) lines.push(`          ${formatDiff(wordDiff(c.reference, c.output), colour())}`);
        }
        if (s.flips.length > SHOWN) lines.push(`        (and ${s.flips.length - SHOWN} more flip(s): --reporter json lists them all)`);
        // Changed outputs without a flip, as word diffs: what the swap did that no evaluator caught.
        const flipped = new Set(s.flips.map((f) => f.caseIndex));
        const quiet = s.changed.filter((c) => !flipped.has(c.caseIndex));
        for (const c of quiet.slice(0, SHOWN)) lines.push(`        case ${c.caseIndex} changed: ${formatDiff(wordDiff(c.reference, c.output), colour())}`);
        if (quiet.length > SHOWN) lines.push(`        (and ${quiet.length - SHOWN} more changed output(s): --reporter json lists them all)`);
      }
    }
  }
  for (const v of r.plan.variants) {
    const f = r.report.flips[v.name];
    if (!f) continue;
    const limit = v.maxProbeFlips === undefined ? 'no limit' : `allowed ${v.maxProbeFlips}`;
    const fresh = f.new === null ? '' : `, ${f.new} new against base`;
    lines.push(`  ${v.name}: ${f.total} flip(s) over all probes${fresh} (${limit})${meetsMaxProbeFlips(f.total, v.maxProbeFlips) ? '' : '  FAIL'}`);
  }
  return lines.join('\n');
}

/**
 * JUnit XML: a suite per file and variant, a test case per probe and swap, failing when the swap
 * flipped an evaluator outcome (each flip named, with both outputs); the suite's properties hold the
 * variant's flips, those new against the base, and its limit.
 */
function junit(results: readonly FileResult[]): string {
  const suites = results.flatMap((r) =>
    r.plan.variants.map((v) => {
      const cases = r.report.probes.flatMap((p) =>
        (p.variants.find((x) => x.variant === v.name)?.swaps ?? []).map((s) => {
          const lines = s.flips.map((f) => {
            const c = s.changed.find((x) => x.caseIndex === f.caseIndex);
            return `case ${f.caseIndex} ${JSON.stringify(f.evaluator)}: ${f.reference ? 'pass' : 'fail'} → ${f.swapped ? 'pass' : 'fail'}${f.new ? ' (new against base)' : ''}${c ? `: ${JSON.stringify(c.reference)} → ${JSON.stringify(c.output)}` : ''}`;
          });
          const body = s.flips.length
            ? `<failure message="${escapeXml(`${s.flips.length} flip(s) under ${p.labels[0]} → ${s.label}`)}">${escapeXml(lines.join('\n'))}</failure>`
            : '';
          const out = `${s.changed.length} of ${s.applies} output(s) changed; Δ log p(expected) ${signed(s.deltaLogProb)}; divergence ${s.divergence === null ? 'none' : s.divergence.toFixed(3)}`;
          return `    <testcase classname="${escapeXml(path.basename(r.file))}.${escapeXml(v.name)}" name="${escapeXml(`${p.name}: ${p.labels[0]} → ${s.label}`)}">${body}<system-out>${escapeXml(out)}</system-out></testcase>`;
        }),
      );
      const f = r.report.flips[v.name];
      const props = [
        ['flips', f?.total],
        ['newFlips', f?.new ?? undefined],
        ['maxProbeFlips', v.maxProbeFlips],
      ]
        .filter(([, x]) => x !== undefined)
        .map(([k, x]) => `      <property name="${k}" value="${x}"/>`);
      const failures = cases.filter((c) => c.includes('<failure')).length;
      return `  <testsuite name="${escapeXml(path.basename(r.file))} probes [${escapeXml(v.name)}]" tests="${cases.length}" failures="${failures}">\n    <properties>\n${props.join('\n')}\n    </properties>\n${cases.join('\n')}\n  </testsuite>`;
    }),
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n${suites.join('\n')}\n</testsuites>`;
}

function json(results: readonly FileResult[]): string {
  return JSON.stringify(
    {
      ok: results.every((r) => r.failures.length === 0),
      files: results.map((r) => ({
        file: r.file,
        model: { id: r.plan.model.id, dtype: r.plan.dtype },
        /** Per probe: what it swaps, its columns (the first is the reference), and per variant each swap's changed outputs, flips, Δ log p(expected) and divergence. */
        probes: r.report.probes,
        /** Per variant: flips over all probes, those the base does not have (null for the base), and the limit. */
        variants: r.plan.variants.map((v) => ({
          name: v.name,
          flips: r.report.flips[v.name]?.total ?? null,
          newFlips: r.report.flips[v.name]?.new ?? null,
          maxProbeFlips: v.maxProbeFlips ?? null,
        })),
        failures: r.failures,
      })),
    },
    null,
    2,
  );
}

export async function probeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      reporter: { type: 'string' },
      model: { type: 'string' },
      dtype: { type: 'string' },
      variant: { type: 'string', multiple: true },
      threads: { type: 'string' },
      root: { type: 'string' },
      download: { type: 'boolean' },
      record: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`usage: ${PROBE_USAGE}\n`);
    return 0;
  }
  const reporter = values.reporter ?? 'table';
  if (!['table', 'json', 'junit'].includes(reporter)) throw new TuneloopError(`unknown reporter "${reporter}" (table, json or junit)`);
  if (positionals.length === 0) throw new TuneloopError('probe takes one or more prompt files');
  const threads = parseThreads(values.threads);
  const dtype = parseDtypeOption(values.dtype);
  const rootOption = parseRoot(values.root);
  const results: FileResult[] = [];
  for (const f of positionals) {
    const file = path.resolve(f);
    const root = findRoot(file, rootOption);
    const progress = (msg: string) => process.stderr.write(`${path.basename(file)}: ${msg}\n`);
    const plan = await planMatrix(file, {
      defaultModel: defaultModelDir(),
      ...(values.model ? { model: values.model } : {}),
      ...(dtype ? { dtype } : {}),
      root,
      trustedReads: trustedReads(),
      ...(values.variant ? { variants: values.variant } : {}),
      ...downloadOptions(values.download),
      onProgress: progress,
    });
    const { report } = await runProbes(plan, { ...(threads ? { threads } : {}), onProgress: progress });
    const failures = plan.variants
      .filter((v) => !meetsMaxProbeFlips(report.flips[v.name]?.total ?? 0, v.maxProbeFlips))
      .map(
        (v) =>
          `${v.name}: ${report.flips[v.name]!.total} probe flip(s) (a test case, evaluator and swap whose outcome differs from the probe's first column), over its maxProbeFlips of ${v.maxProbeFlips}`,
      );
    results.push({ file, plan, report, failures });
    if (values.record) {
      const hfile = historyFileOf(file, plan.prompt.snapshot);
      const line: HistoryLine = {
        version: HISTORY_VERSION,
        kind: 'probe',
        ...gitState(path.dirname(file)),
        date: new Date().toISOString(),
        file: path.relative(root, file),
        model: { id: snapshotModelId(plan.model, file, { embeddedModel: defaultModelDir(), root }), sha256: null },
        variants: plan.variants.map((v) => ({
          name: v.name,
          adapter: v.adapterDir ? path.relative(root, v.adapterDir) : null,
          adapterSha256: v.adapterDir ? adapterSha256(v.adapterDir) : null,
          dtype: plan.dtype,
          passRate: null,
          evaluators: {},
          regressionCount: null,
          labelMetrics: null,
          ece: null,
          repeat: null,
          probeFlips: report.flips[v.name] ? { total: report.flips[v.name]!.total, new: report.flips[v.name]!.new } : null,
        })),
        failures,
      };
      appendHistory(hfile, line);
      progress(`recorded in ${path.relative(process.cwd(), hfile)}`);
    }
  }
  if (reporter === 'table') for (const r of results) process.stdout.write(`${table(r)}\n`);
  else if (reporter === 'junit') process.stdout.write(`${junit(results)}\n`);
  else process.stdout.write(`${json(results)}\n`);
  const failures = results.flatMap((r) => r.failures.map((f) => `${path.relative(process.cwd(), r.file)}: ${f}`));
  for (const f of failures) process.stderr.write(`tuneloop probe: ${f}\n`);
  return failures.length ? 1 : 0;
}
