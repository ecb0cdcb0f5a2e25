import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { meetsMinPassRate } from '../core/compare/matrix';
import { planMatrix } from '../core/compare/plan';
import { readPromptFile } from '../core/compare/prompt-file';
import { type CaseVerdict, caseVerdicts, meetsMaxRegressions, worstCase } from '../core/compare/scores';
import { chooseDtype } from '../core/compare/variants';
import { formatDiff, wordDiff } from '../core/compare/words';
import { TuneloopError } from '../core/errors';
import { followEvents, type RunEvent } from '../core/train/events';
import { EVENTS, launchedOwnerAlive, requestCancel } from '../core/train/run';
import { startRun } from '../core/train/start';
import { defaultModelDir, dtypeHelp, parseDtypeOption, parseThreads, trustedReads } from './options';
import type { ExportDtype } from '../core/dtypes';
import { RECIPE_FILE } from '../core/recipes/recipe';
import { type Matrix, runCommandMatrix } from './matrix';

/**
 * `tuneloop demo`: the whole loop on the example workspace, in a copy of it (the repository is left as
 * it is): the prompt on the base model, a LoRA fine-tune in the background trainer, and the
 * comparison: each evaluator's pass rate before and after, the regressions against the base, and
 * three cases side by side with word diffs, the worst among them.
 */
export const DEMO_USAGE = `tuneloop demo [FOLDER] [--threads N] [--dtype fp32|q8|q4] [--keep]

Runs the example workspace (default: the examples/ folder shipped with Tuneloop) end to end in a
temporary copy: evaluates its prompt file on the base model, fine-tunes the adapter its recipe
describes, and prints the comparison. --keep leaves the copy for you to open.

${dtypeHelp('the base model and the tuned one run')}`;

const tty = () => process.stdout.isTTY === true && !process.env.NO_COLOR;
const bold = (s: string) => (tty() ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s = '') => process.stdout.write(`${s}\n`);
/** A pass rate for people; none when no test case completed. */
const percent = (rate: number | undefined) => (rate === undefined ? 'none' : `${(rate * 100).toFixed(0)}%`);

const scoresOf = (m: Matrix, variant: string) => m.scores.find((s) => s.variant === variant);

/**
 * The three cases the demo shows side by side, in this order: the worst for tuned (the most
 * evaluators regressed against the base, then the most failed by tuned, then the first:
 * core/compare/scores.ts worstCase), the best (the most evaluators tuned gained, then the fewest
 * it fails, then the first), and the first case not shown yet; fewer when there are fewer cases.
 */
function shownCases(verdicts: readonly CaseVerdict[]): { verdict: CaseVerdict; why: string }[] {
  const out: { verdict: CaseVerdict; why: string }[] = [];
  const worst = worstCase(verdicts);
  if (worst) {
    const why = worst.regressed
      ? `worst: tuned lost ${worst.regressed} evaluator(s) the base passes`
      : worst.failed
        ? `worst: tuned fails ${worst.failed} evaluator(s), none of which the base passes`
        : 'worst: tuned fails no evaluator on any case';
    out.push({ verdict: worst, why });
  }
  let best: CaseVerdict | undefined;
  for (const v of verdicts) if (v !== worst && (!best || v.gained > best.gained || (v.gained === best.gained && v.failed < best.failed))) best = v;
  if (best)
    out.push({
      verdict: best,
      why: best.gained ? `best: tuned gained ${best.gained} evaluator(s) the base fails` : 'best: tuned gains no evaluator on any other case',
    });
  const other = verdicts.find((v) => v !== worst && v !== best);
  if (other) out.push({ verdict: other, why: 'the first other case' });
  return out;
}

function findExample(dir: string): { prompt: string; recipe: string } {
  for (const f of fs.readdirSync(dir).sort()) {
    if (!/\.prompt\.ya?ml$/.test(f)) continue;
    const prompt = readPromptFile(path.join(dir, f));
    const recipe = prompt.adapters.map((a) => a.path).find((p) => RECIPE_FILE.test(p));
    if (recipe) return { prompt: path.join(dir, f), recipe: path.resolve(dir, recipe) };
  }
  throw new TuneloopError('no prompt file with an adapter recipe in this folder', { file: dir });
}

async function evaluateWithProgress(
  file: string,
  label: string,
  options: { threads?: number; dtype?: ExportDtype; variants: string[]; runsDirs: string[] },
): Promise<Matrix> {
  let done = 0;
  const total = readPromptFile(file).testData?.length ?? 1;
  // The copy names the embedded model by its absolute path: a trusted read, as for the trainer below.
  const plan = await planMatrix(file, {
    defaultModel: defaultModelDir(),
    trustedReads: trustedReads(),
    variants: options.variants,
    runsDirs: options.runsDirs,
    ...(options.dtype ? { dtype: options.dtype } : {}),
  });
  const m = await runCommandMatrix(plan, options.threads ? { threads: options.threads } : {}, (e) => {
    if (e.type !== 'cellDone') return;
    done++;
    process.stdout.write(
      tty() ? `\r  ${label}: ${done}/${total * options.variants.length} outputs (${e.variant})` : done % 10 === 0 ? `  ${label}: ${done} outputs\n` : '',
    );
  });
  if (tty()) process.stdout.write('\n');
  return m;
}

export async function demoCommand(args: string[], trainerEntry: string): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { threads: { type: 'string' }, dtype: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    say(`usage: ${DEMO_USAGE}`);
    return 0;
  }
  const dtype = parseDtypeOption(values.dtype);
  const started = Date.now();
  const source = path.resolve(positionals[0] ?? path.join(__dirname, '..', 'examples'));
  if (!fs.existsSync(source)) throw new TuneloopError('no example workspace here', { file: source });
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-demo-'));
  fs.cpSync(source, ws, {
    recursive: true,
    filter: (p) => !p.includes(`${path.sep}.tuneloop`) && !p.includes(`${path.sep}adapters${path.sep}`) && !p.endsWith(`${path.sep}adapters`),
  });
  // The copy lives elsewhere: point its relative model paths at the embedded model itself.
  for (const f of fs.readdirSync(ws).filter((n) => /\.(prompt|adapter)\.ya?ml$/.test(n))) {
    const file = path.join(ws, f);
    const text = fs.readFileSync(file, 'utf8').replace(/^(model|base_model): *(\.\.?\/\S*)\s*$/gm, (line, key: string, rel: string) => {
      const abs = path.resolve(source, rel);
      return fs.existsSync(abs) ? `${key}: ${abs}` : line;
    });
    fs.writeFileSync(file, text);
  }
  const threads = parseThreads(values.threads);
  try {
    const { prompt, recipe } = findExample(ws);
    const p = readPromptFile(prompt);
    const runsDirs = [path.join(ws, '.tuneloop', 'runs')];
    say(bold(`Tuneloop demo: ${p.name ?? path.basename(prompt)}`));
    const d = chooseDtype(p, { option: dtype });
    say(
      `  model: ${defaultModelDir()} (trained from scratch by Tuneloop's engine), dtype ${d.dtype}${d.from === 'option' ? ' (--dtype)' : d.from === 'prompt' ? " (the prompt file's)" : ''}`,
    );
    say(`  prompt file: ${path.basename(prompt)}, ${p.testData?.length ?? 0} test cases, evaluators: ${p.evaluators.map((e) => e.name).join(', ')}`);
    say();
    say(bold('1. The prompt on the base model'));
    const before = await evaluateWithProgress(prompt, 'base', { variants: ['base'], runsDirs, ...(threads ? { threads } : {}), ...(dtype ? { dtype } : {}) });
    for (const e of scoresOf(before, 'base')?.evaluators ?? []) say(`  base model passes "${e.name}" on ${percent(e.rate)} of the test cases`);
    say();
    say(bold(`2. Fine-tuning a LoRA adapter (${path.basename(recipe)}) in the background trainer`));
    const { runDir } = await startRun(recipe, { runsDir: runsDirs[0]!, trainerEntry, root: ws, trustedReads: trustedReads(), ...(threads ? { threads } : {}) });
    const onInt = () => requestCancel(runDir);
    process.on('SIGINT', onInt);
    let total = 0;
    const t0 = Date.now();
    const last = await followEvents(
      path.join(runDir, EVENTS),
      (e: RunEvent) => {
        if (e.type === 'started') total = e.totalSteps;
        if (e.type === 'step') {
          const line = `  step ${e.step}/${total}  loss ${e.loss.toFixed(3)}  ${e.tokensPerSecond.toFixed(0)} tokens/s  ETA ${Math.round(e.etaSeconds)} s`;
          if (tty()) process.stdout.write(`\r\x1b[2K${line}`);
          else if (e.step % 10 === 0 || e.step === total) say(line);
        }
        if (e.type === 'eval') {
          if (tty()) process.stdout.write('\n');
          say(`  validation loss ${e.loss.toFixed(3)} at step ${e.step}`);
        }
        if (e.type === 'failed') say(`  training failed: ${e.message}`);
      },
      { isOwnerAlive: launchedOwnerAlive(runDir) },
    );
    process.off('SIGINT', onInt);
    if (last?.type !== 'done') throw new TuneloopError(`the fine-tune did not finish (${last?.type ?? 'no events'})`, { file: runDir });
    say(`  done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    say();
    say(bold('3. Base and tuned, side by side'));
    const after = await evaluateWithProgress(prompt, 'compare', {
      variants: ['base', path.basename(recipe).replace(RECIPE_FILE, '')],
      runsDirs,
      ...(threads ? { threads } : {}),
      ...(dtype ? { dtype } : {}),
    });
    const tuned = after.variants[1]!.name;
    for (const { verdict, why } of shownCases(caseVerdicts(after.results, tuned))) {
      const c = after.cases.find((x) => x.index === verdict.caseIndex)!;
      const question = Object.entries(c.vars)
        .filter(([k]) => k !== 'expected')
        .map(([, v]) => String(v))
        .join(' ');
      const b = after.results.base![c.index]!;
      const t = after.results[tuned]![c.index]!;
      say(`  ${bold(`case ${c.index}`)} (${why}) ${question}`);
      say(`    base  ${b.passed ? 'pass' : 'FAIL'}  ${b.text.replace(/\n/g, ' ')}`);
      say(`    tuned ${t.passed ? 'pass' : 'FAIL'}  ${formatDiff(wordDiff(b.text, t.text), tty()).replace(/\n/g, ' ')}`);
    }
    say();
    // Each evaluator on its own, so that a format check cannot stand for the result.
    const baseScores = scoresOf(after, 'base');
    const tunedScores = scoresOf(after, tuned);
    say(`  pass rate of each evaluator (${after.cases.length} test cases the adapter never saw):`);
    (baseScores?.evaluators ?? []).forEach((e, k) => say(`    ${e.name}: base ${percent(e.rate)}  →  tuned ${percent(tunedScores?.evaluators[k]?.rate)}`));
    say(`  all evaluators: base ${percent(after.passRates.base)}  →  tuned ${percent(after.passRates[tuned])}`);
    const regressions = tunedScores?.regressions ?? [];
    const listed = regressions.slice(0, 5).map((r) => `case ${r.caseIndex} "${r.evaluator}"`);
    if (regressions.length > 5) listed.push(`${regressions.length - 5} more`);
    say(`  regressions: ${regressions.length} (a test case and an evaluator the base passes and tuned fails)${listed.length ? `: ${listed.join(', ')}` : ''}`);
    say();
    say(bold('What you just saw'));
    say('  A prompt file with test cases and evaluators ran on a local model; an adapter recipe fine-tuned a');
    say('  LoRA adapter in a background process; the same prompt ran on base and tuned, with word diffs and');
    say('  evaluator pass rates. Everything ran locally on ONNX Runtime, and the adapter is in PEFT format.');
    say(bold('Where to go next'));
    say(`  Open the examples folder in VS Code with the Tuneloop extension: CodeLens runs and compares the`);
    say(`  prompt file, the recipe fine-tunes from the editor, and \`npx tuneloop eval examples/*.prompt.yml\``);
    say(`  checks the committed snapshots as CI does.  (${((Date.now() - started) / 1000).toFixed(0)} s in all)`);
    if (values.keep) say(`  The workspace copy is kept at ${ws}`);
    const v = after.variants[1]!;
    return meetsMinPassRate(after.passRates[tuned], v.minPassRate) && meetsMaxRegressions(regressions.length, v.maxRegressions) ? 0 : 1;
  } finally {
    if (!values.keep) fs.rmSync(ws, { recursive: true, force: true });
  }
}
