import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { meetsMinPassRate } from '../core/compare/matrix';
import { planMatrix } from '../core/compare/plan';
import { meetsMaxRegressions } from '../core/compare/scores';
import { readPromptFile } from '../core/compare/prompt-file';
import { appendHistory, historyFileOf } from '../core/compare/history';
import { compareSnapshot, readSnapshot, snapshotModelId, writeSnapshot } from '../core/compare/snapshot';
import { formatDiff, wordDiff } from '../core/compare/words';
import { compareSince, snapshotAtRef } from '../core/compare/since';
import { TuneloopError } from '../core/errors';
import { DOWNLOAD_HINT, defaultModelDir, dtypeHelp, parseDtypeOption, parseRoot, parseThreads, trustedReads, UsageError } from './options';
import { findRoot } from '../core/fs/root';
import { type FileReport, historyLine, jsonReport, junitReport, outputsOf, percent1, scoresOf, tableReport } from './eval-report';
import { defaultCacheDir, fileSha256 } from '../core/export/cache';
import { ADAPTER_WEIGHTS } from '../core/lora/config';
import { runCommandMatrix } from './matrix';

/** `tuneloop run` and `tuneloop eval`: the compare core (core/compare/matrix.ts), printed for terminals and CI. */

export { defaultModelDir } from './options';

function threadsOption(value: string | undefined): { threads?: number } {
  const threads = parseThreads(value);
  return threads ? { threads } : {};
}

const colour = () => process.stdout.isTTY === true && !process.env.NO_COLOR;

export const RUN_USAGE = `tuneloop run FILE.prompt.yml [--case N] [--var NAME=VALUE]... [--model DIR] [--dtype fp32|q8|q4] [--variant NAME]... [--download]

Streams the output of the base model and of each adapter the prompt file lists for one test case
(the first unless --case), then shows each adapter's output as a word diff against the base, and
the evaluators' results. A file without testData takes its values from --var.

  --model DIR    the base model (default: the prompt's model, else the embedded model): a folder,
                 or a Hub id found in the Hugging Face cache
${dtypeHelp('the base model and every adapter run')}
  --download     allow downloading a Hub model the Hugging Face cache does not hold
  --threads N    onnxruntime threads
  --root DIR     the workspace root the file's paths must stay inside (default: the nearest
                 folder above the file holding .git, else the current folder)`;

export async function runCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      case: { type: 'string' },
      var: { type: 'string', multiple: true },
      model: { type: 'string' },
      dtype: { type: 'string' },
      variant: { type: 'string', multiple: true },
      threads: { type: 'string' },
      root: { type: 'string' },
      download: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`usage: ${RUN_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new TuneloopError('run takes one prompt file');
  const vars: Record<string, string> = {};
  for (const kv of values.var ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new TuneloopError(`--var takes NAME=VALUE, got "${kv}"`);
    vars[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const caseIndex = values.case === undefined ? 0 : Number(values.case);
  if (!Number.isInteger(caseIndex) || caseIndex < 0) throw new UsageError(`--case takes a test case number (0, 1, ...), got "${values.case}"`);
  const threads = threadsOption(values.threads);
  const dtype = parseDtypeOption(values.dtype);
  const root = parseRoot(values.root);
  const plan = await planMatrix(path.resolve(positionals[0]!), {
    defaultModel: defaultModelDir(),
    ...(values.model ? { model: values.model } : {}),
    ...(dtype ? { dtype } : {}),
    ...(root ? { root } : {}),
    trustedReads: trustedReads(),
    ...(values.variant ? { variants: values.variant } : {}),
    cases: [caseIndex],
    vars,
    ...downloadOptions(values.download),
  });
  let current = '';
  const m = await runCommandMatrix(plan, threads, (e) => {
    if (e.type === 'variantStart') {
      if (current) process.stdout.write('\n');
      current = e.variant.name;
      // The dtype is named when it is not the default, beside the variant it ran.
      const quantized = plan.dtype === 'fp32' ? '' : ` [${plan.dtype}]`;
      process.stdout.write(`── ${e.variant.name}${e.variant.adapterDir ? ` (${path.relative(process.cwd(), e.variant.adapterDir)})` : ''}${quantized} ──\n`);
    }
    if (e.type === 'token') process.stdout.write(e.token.text);
    if (e.type === 'cellDone')
      process.stdout.write(
        `\n   ${e.cell.tokens.length} tokens, first after ${e.cell.timeToFirstTokenMs.toFixed(0)} ms, ${e.cell.tokensPerSecond.toFixed(1)} tokens/s\n`,
      );
  });
  const base = m.results.base?.[caseIndex];
  for (const v of m.variants) {
    const cell = m.results[v.name]?.[caseIndex];
    if (!cell) continue;
    if (v.name !== 'base' && base) process.stdout.write(`\n── ${v.name} vs base ──\n${formatDiff(wordDiff(base.text, cell.text), colour())}\n`);
  }
  if (m.prompt.evaluators.length) {
    process.stdout.write('\nevaluators:\n');
    for (const v of m.variants) {
      const cell = m.results[v.name]?.[caseIndex];
      if (!cell) continue;
      const regressed = new Set(scoresOf(m, v.name)?.regressions?.map((r) => r.evaluator));
      for (const e of cell.evaluations)
        process.stdout.write(
          `  ${v.name.padEnd(12)} ${e.passed === undefined ? 'not run' : e.passed ? 'pass   ' : 'FAIL   '} ${e.name}: ${e.detail}${e.passed === false && regressed.has(e.name) ? ' (a regression: base passes it)' : ''}\n`,
        );
    }
    // Each evaluator on its own: how many of them each variant passes, and what it lost against the base.
    for (const s of m.scores) {
      const ran = s.evaluators.filter((e) => e.ran > 0);
      if (s.completed === 0) continue;
      const regressions = s.regressions ? `; ${s.regressions.length} regression(s) against base` : '';
      process.stdout.write(`  ${s.variant.padEnd(12)} passes ${ran.filter((e) => e.passed > 0).length} of ${ran.length} evaluator(s) run${regressions}\n`);
    }
  }
  return 0;
}

export const EVAL_USAGE = `tuneloop eval FILE... [--reporter table|json|junit] [--update-snapshots] [--record] [--repeat N] [--since REF] [--model DIR] [--dtype fp32|q8|q4] [--threads N] [--root DIR] [--download]

Runs every test case of each prompt file on the base model and each adapter it lists, runs the
evaluators, and compares the outputs with the prompt file's snapshot (its \`snapshot\` key).
Reports each evaluator's pass rate for each variant, and each adapter's regressions against the
base (a test case and an evaluator the base passes and the adapter fails). Exit status 1 when a
snapshot changed, a variant's pass rate over all evaluators (passed ÷ completed test cases; none
completed fails) is under its minPassRate (default 1), or an adapter has more regressions than its
maxRegressions (default: no limit); 0 otherwise. --update-snapshots writes the snapshots instead
of comparing. --record appends the run's figures (commit, date, model and adapter hashes, pass
rates, regressions, label metrics, ECE) as one line to NAME.history.jsonl beside the snapshot.
--repeat N runs each test case N times when the prompt samples (temperature > 0), run r with seed
seed + r: each pass rate comes with its 95% interval, cases that pass in some runs and fail in
others are listed as flaky, and minPassRate is compared with the interval's lower bound.
--since REF compares the outputs with the snapshot as committed at a git ref (a tag, a branch, a
commit): the outputs that changed, and each variant's pass rate then (today's evaluators on the
outputs at REF) and now, with the cases that turned from pass to fail and back. It reports; the
exit status is decided as without it.
A Hub id (the prompt's model or --model) is found in the Hugging Face cache;
--download allows downloading one it does not hold.

${dtypeHelp('every variant runs')}`;

/** --repeat N: a whole number from 1 to 1000 (default 1). */
function parseRepeat(value: string | undefined): number {
  if (value === undefined) return 1;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 1000) throw new UsageError(`--repeat takes a number of runs per test case from 1 to 1000, got "${value}"`);
  return n;
}

/** `--download`: the permission, and how a message tells the user to give it. */
export function downloadOptions(download: boolean | undefined): { allowDownload?: true; downloadHint: string; onProgress: (message: string) => void } {
  return { ...(download ? { allowDownload: true } : {}), downloadHint: DOWNLOAD_HINT, onProgress: (message) => process.stderr.write(`${message}\n`) };
}

/** The commit of the repository holding `dir` and whether its work tree has changes; nulls outside git (or without git). */
export function gitState(dir: string): { commit: string | null; dirty: boolean | null } {
  const git = (...a: string[]) => spawnSync('git', ['-C', dir, ...a], { encoding: 'utf8' });
  const head = git('rev-parse', 'HEAD');
  if (head.status !== 0) return { commit: null, dirty: null };
  const status = git('status', '--porcelain');
  return { commit: head.stdout.trim(), dirty: status.status === 0 ? status.stdout.trim() !== '' : null };
}

/** sha256 of an adapter folder's weights file, or null when it has none. */
export function adapterSha256(dir: string): string | null {
  const f = path.join(dir, ADAPTER_WEIGHTS);
  return fs.existsSync(f) ? fileSha256(f, defaultCacheDir()) : null;
}

export async function evalCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      reporter: { type: 'string' },
      'update-snapshots': { type: 'boolean' },
      model: { type: 'string' },
      dtype: { type: 'string' },
      threads: { type: 'string' },
      root: { type: 'string' },
      download: { type: 'boolean' },
      record: { type: 'boolean' },
      repeat: { type: 'string' },
      since: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`usage: ${EVAL_USAGE}\n`);
    return 0;
  }
  const reporter = values.reporter ?? 'table';
  if (!['table', 'json', 'junit'].includes(reporter)) throw new TuneloopError(`unknown reporter "${reporter}" (table, json or junit)`);
  if (positionals.length === 0) throw new TuneloopError('eval takes one or more prompt files');
  const threads = threadsOption(values.threads);
  const dtype = parseDtypeOption(values.dtype);
  const rootOption = parseRoot(values.root);
  const repeat = parseRepeat(values.repeat);
  const reports: FileReport[] = [];
  for (const f of positionals) {
    const file = path.resolve(f);
    const root = findRoot(file, rootOption);
    if (values['update-snapshots']) {
      // Before any model runs: asked to write a snapshot the file does not name, say so.
      const p = readPromptFile(file);
      if (!p.snapshot)
        throw new TuneloopError(
          '--update-snapshots, but the prompt file has no "snapshot" key, so there is nothing to write',
          { file },
          'add snapshot: NAME.snapshot.json to it',
        );
    }
    // --since: the snapshot at the ref is read before any model runs, so that a wrong ref costs nothing.
    let then: ReturnType<typeof snapshotAtRef> | undefined;
    if (values.since !== undefined) {
      const p = readPromptFile(file);
      if (!p.snapshot)
        throw new TuneloopError(
          '--since compares with the snapshot at a git ref, and the prompt file has no "snapshot" key',
          { file },
          'add snapshot: NAME.snapshot.json, accept it (--update-snapshots) and commit it',
        );
      then = snapshotAtRef(path.resolve(path.dirname(file), p.snapshot), values.since);
    }
    const progress = (msg: string) => process.stderr.write(`${path.basename(file)}: ${msg}\n`);
    const plan = await planMatrix(file, {
      defaultModel: defaultModelDir(),
      ...(values.model ? { model: values.model } : {}),
      ...(dtype ? { dtype } : {}),
      root,
      trustedReads: trustedReads(),
      ...downloadOptions(values.download),
      onProgress: progress,
    });
    // Repeats only where outputs are sampled: greedy decoding gives the same output every run.
    const sampled = (plan.params.temperature ?? 0) > 0;
    if (repeat > 1 && !sampled)
      progress(`--repeat ${repeat}: the prompt's temperature is 0 (greedy), so every run would give the same output; each case runs once`);
    const m = await runCommandMatrix({ ...plan, ...(repeat > 1 && sampled ? { repeat } : {}) }, { ...threads, hashModel: true }, (e) => {
      if (e.type === 'variantStart') progress(`running ${e.variant.name}`);
      if (e.type === 'progress') progress(e.message);
    });
    const failures: string[] = [];
    for (const v of m.variants) {
      const rate = m.passRates[v.name];
      const repeated = m.repeats?.[v.name];
      if (repeated) {
        // With repeats the gate is the interval's lower bound: passes at least this often, with 95% confidence.
        if (meetsMinPassRate(repeated.low, v.minPassRate)) continue;
        failures.push(
          repeated.low === undefined
            ? `${v.name}: no run completed, so there is no pass rate to meet the required ${(v.minPassRate * 100).toFixed(0)}%`
            : `${v.name}: pass rate ${percent1(repeated.rate!)} over ${repeated.completed} runs; its 95% lower bound ${percent1(repeated.low)} is under the required ${(v.minPassRate * 100).toFixed(0)}%${v.minPassRate >= 1 ? ' (with --repeat the lower bound is gated, and no number of runs shows 100%: set minPassRate below 1)' : ''}`,
        );
        continue;
      }
      if (meetsMinPassRate(rate, v.minPassRate)) continue;
      failures.push(
        rate === undefined
          ? `${v.name}: no test case completed, so there is no pass rate to meet the required ${(v.minPassRate * 100).toFixed(0)}%`
          : `${v.name}: pass rate ${(rate * 100).toFixed(0)}% is under the required ${(v.minPassRate * 100).toFixed(0)}%`,
      );
    }
    for (const v of m.variants) {
      const count = scoresOf(m, v.name)?.regressions?.length;
      if (meetsMaxRegressions(count, v.maxRegressions)) continue;
      failures.push(
        count === undefined
          ? `${v.name}: its regressions against base could not be counted (the base model did not run), so it cannot meet maxRegressions ${v.maxRegressions}`
          : `${v.name}: ${count} regression(s) against base (a test case and an evaluator that base passes and ${v.name} fails), over its maxRegressions of ${v.maxRegressions}`,
      );
    }
    let snapshot: FileReport['snapshot'];
    if (m.prompt.snapshot) {
      const sfile = path.resolve(path.dirname(file), m.prompt.snapshot);
      const outputs = outputsOf(m);
      if (values['update-snapshots']) {
        writeSnapshot(sfile, {
          version: 1,
          model: { id: snapshotModelId(m.model, file, { embeddedModel: defaultModelDir(), root }), sha256: m.modelSha256 ?? '' },
          outputs,
        });
        snapshot = { file: sfile, status: 'updated', changes: [] };
      } else {
        const s = readSnapshot(sfile);
        if (!s) {
          snapshot = { file: sfile, status: 'missing', changes: [] };
          failures.push(`no snapshot at ${sfile}: accept the outputs with tuneloop eval --update-snapshots`);
        } else {
          const changes = compareSnapshot(s, outputs);
          if (s.model.sha256 !== m.modelSha256) failures.push(`the snapshot was taken with another model (${s.model.id})`);
          snapshot = { file: sfile, status: changes.length ? 'changed' : 'same', changes };
          if (changes.length) failures.push(`${changes.length} output(s) differ from the snapshot ${path.relative(process.cwd(), sfile)}`);
        }
      }
    }
    const since =
      then && values.since !== undefined
        ? compareSince(
            { ref: values.since, ...then },
            {
              prompt: m.prompt,
              cases: m.cases,
              variants: m.variants.map((v) => v.name),
              outputs: outputsOf(m),
              passed: (v, i) => m.results[v]?.[i]?.passed,
            },
          )
        : undefined;
    const report: FileReport = { matrix: m, ...(snapshot ? { snapshot } : {}), ...(since ? { since } : {}), failures };
    reports.push(report);
    if (values.record) {
      const hfile = historyFileOf(file, m.prompt.snapshot);
      const git = gitState(path.dirname(file));
      const modelId = snapshotModelId(m.model, file, { embeddedModel: defaultModelDir(), root });
      appendHistory(hfile, historyLine(report, { ...git, date: new Date().toISOString(), root, modelId, adapterSha256 }));
      progress(`recorded in ${path.relative(process.cwd(), hfile)}`);
    }
  }
  if (reporter === 'table') for (const r of reports) process.stdout.write(`${tableReport(r)}\n`);
  else if (reporter === 'junit') process.stdout.write(`${junitReport(reports)}\n`);
  else process.stdout.write(`${jsonReport(reports)}\n`);
  const failures = reports.flatMap((r) => r.failures.map((f) => `${path.relative(process.cwd(), r.matrix.file)}: ${f}`));
  for (const f of failures) process.stderr.write(`tuneloop eval: ${f}\n`);
  return failures.length ? 1 : 0;
}
