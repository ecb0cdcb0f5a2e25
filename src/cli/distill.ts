import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { chooseDtype } from '../core/compare/variants';
import { contaminationError, contaminationProblem, type DistillDataset, writeDistillDataset, writeJsonl } from '../core/distill/dataset';
import { percent1 } from './eval-report';
import { type HeldOutReport, type HeldOutSide, heldOutReport, type SideFigures } from '../core/distill/held-out';
import { type DistillPlan, planDistill, studentRow } from '../core/distill/plan';
import { TuneloopError } from '../core/errors';
import { defaultCacheDir } from '../core/export/cache';
import { count } from '../core/format';
import { generationParams } from '../core/prompts/params';
import type { Variables } from '../core/prompts/render';
import { DOWNLOAD_HINT, parseRoot, parseThreads, trustedReads, UsageError } from './options';
import { follow, startAndReport, startOptionsFrom } from './train';

export const DISTILL_USAGE = `tuneloop distill RECIPE.adapter.yml [--baseline FIELD] [--no-train] [--runs DIR] [--threads N]
                 [--json] [--download] [--force] [--root DIR]

Distils a teacher (a long prompt, or another model) into an adapter: the recipe's teacher answers
its inputs (cached by content, so a stopped run resumes), the answers become the student's rows
(dataset.path), the adapter is trained on them, and the student (its short prompt and the new
adapter) is compared with the teacher on the teacher prompt file's held-out test cases.

  --baseline FIELD  also train the same student, same steps and seed, on the inputs' FIELD as the
                    answer (reference answers, no teacher), and compare it too
  --no-train        stop after writing the dataset
  --json            print the held-out comparison as JSON
  --runs DIR        where run folders go (default: .tuneloop/runs under the current folder)
  --threads N       onnxruntime threads (default: its own choice)
  --download        allow downloading a Hub model the Hugging Face cache does not hold
  --force           replace the recipe's output folder even if it holds files Tuneloop did not write
  --root DIR        the workspace root the recipe's paths must stay inside
Ctrl-C stops the teacher (its answers so far are kept) or the training (after a checkpoint).
Exit status: 0 when done, 1 on an error (a contaminated input, with contamination.action: refuse),
130 when stopped.`;

function sideLine(s: SideFigures): string {
  const a = s.agreement
    ? `; agrees exactly on ${percent1(s.agreement.exact)}, passes ${percent1(s.agreement.passedWhereTeacherPassed)} of the ${s.agreement.teacherPassed} the teacher passes`
    : '';
  return `  ${s.name.padEnd(26)} ${percent1(s.passRate).padStart(6)} (${s.passed}/${s.cases})${a}`;
}

function reportLines(r: HeldOutReport): string[] {
  const sides = [r.teacher, ...r.students];
  const evaluators = Object.keys(r.teacher.evaluators);
  const width = Math.max(...sides.map((s) => s.name.length), 8);
  return [
    `held-out cases: ${r.cases} (the teacher prompt file's testData)`,
    ...sides.map(sideLine),
    '  per evaluator:',
    ...evaluators.map(
      (e) => `    ${e.padEnd(20)} ${sides.map((s) => `${s.name} ${s.evaluators[e] === undefined ? '–' : percent1(s.evaluators[e]!)}`).join(' · ')}`,
    ),
    '  input tokens per call and decode time per case:',
    ...sides.map(
      (s) => `    ${s.name.padEnd(width)} ${s.meanPromptTokens.toFixed(1).padStart(7)} tokens · ${(s.meanSeconds * 1000).toFixed(0).padStart(5)} ms`,
    ),
    `  input tokens fall by ${percent1(r.inputTokenSaving)} (${r.students[0]?.name ?? 'student'} against the teacher)`,
  ];
}

/** The data stage with a progress line on stderr; Ctrl-C stops the teacher (its answers are kept). */
async function dataStage(plan: DistillPlan, options: { cacheDir: string; threads?: number | undefined }): Promise<DistillDataset | 'stopped'> {
  const controller = new AbortController();
  const onInt = () => {
    process.stderr.write('\nstopping the teacher: the answers so far are kept, and a second run goes on from them\n');
    controller.abort();
  };
  process.once('SIGINT', onInt);
  const tty = process.stderr.isTTY === true;
  let last = 0;
  try {
    return await writeDistillDataset(plan, {
      cacheDir: options.cacheDir,
      threads: options.threads,
      signal: controller.signal,
      onMessage: (m) => process.stderr.write(`${m}\n`),
      onProgress: (done, total, cached) => {
        const now = Date.now();
        if (done !== total && now - last < (tty ? 200 : 5000)) return;
        last = now;
        const line = `teacher: ${done}/${total} answers${cached ? ` (${cached} from the cache)` : ''}`;
        process.stderr.write(tty ? `\r\x1b[2K${line}${done === total ? '\n' : ''}` : `${line}\n`);
      },
    });
  } finally {
    process.off('SIGINT', onInt);
  }
}

export async function distillCommand(args: string[], trainerEntry: string): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      baseline: { type: 'string' },
      'no-train': { type: 'boolean' },
      json: { type: 'boolean' },
      runs: { type: 'string' },
      threads: { type: 'string' },
      download: { type: 'boolean' },
      force: { type: 'boolean' },
      root: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`usage: ${DISTILL_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('distill takes one recipe file');
  const started = Date.now();
  const recipeFile = path.resolve(positionals[0]!);
  const threads = parseThreads(values.threads);
  const root = parseRoot(values.root);
  const cacheDir = defaultCacheDir();
  const plan = await planDistill(recipeFile, {
    root,
    cacheDir,
    threads,
    trustedReads: trustedReads(),
    allowDownload: values.download,
    downloadHint: DOWNLOAD_HINT,
    onProgress: (m) => process.stderr.write(`${m}\n`),
  });
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const reworded = plan.inputs.filter((r) => r.paraphrase !== undefined).length;
  out(
    `inputs: ${count(plan.inputs.length, 'row')}${reworded ? `, ${reworded} of them rewordings` : ''}${plan.dropped.length ? ` (${count(plan.dropped.length, 'duplicate')} dropped, e.g. ${plan.dropped[0]!.source} repeats ${plan.dropped[0]!.duplicateOf})` : ''}`,
  );
  const problem = contaminationProblem(plan);
  const refused = contaminationError(plan, recipeFile);
  if (refused) throw refused;
  if (problem) process.stderr.write(`warning: ${problem.message}:\n${problem.lines.join('\n')}\n`);

  const data = await dataStage(plan, { cacheDir, threads });
  if (data === 'stopped') {
    out('stopped: run the same command again to go on from the answers kept');
    return 130;
  }
  out(`teacher: ${data.generated} answers generated, ${data.cached} from the cache (${data.cacheFile})`);
  out(
    `dataset: ${count(data.rows, 'row')} written to ${path.relative(process.cwd(), data.datasetFile)}${data.cut ? ` (${count(data.cut, 'answer')} cut at the teacher's maxTokens)` : ''}`,
  );
  if (values['no-train']) return 0;

  const startOptions = startOptionsFrom(values, trainerEntry);
  const train = async (variant?: { name: string; dataset: string }): Promise<string | number> => {
    const { runDir, pid } = await startAndReport(recipeFile, { ...startOptions, ...(variant ? { variant } : {}) });
    const status = await follow(runDir, process.stdout, 0, true, pid);
    return status === 0 ? path.join(runDir, 'adapter') : status;
  };
  const adapter = await train();
  if (typeof adapter === 'number') return adapter;

  let baselineAdapter: string | undefined;
  if (values.baseline) {
    const field = values.baseline;
    const missing = plan.inputs.find((r) => typeof r.vars[field] !== 'string');
    if (missing) throw new TuneloopError(`input ${missing.source} has no text "${field}" for --baseline`, {}, 'name a field every input row has');
    const file = plan.datasetFile.replace(/(\.jsonl)?$/, '.baseline.jsonl');
    writeJsonl(
      file,
      plan.inputs.map((r) => studentRow(plan.studentPrompt, r.vars as Variables, r.vars[field] as string)),
    );
    out(`baseline: the same student trained on the inputs' "${field}" (${path.relative(process.cwd(), file)})`);
    const b = await train({ name: `${plan.recipe.name}-baseline`, dataset: file });
    if (typeof b === 'number') return b;
    baselineAdapter = b;
  }

  const studentDir = plan.studentModelDir;
  const teacher: HeldOutSide = {
    name: 'teacher',
    prompt: plan.teacherPrompt,
    file: plan.teacherFile,
    modelDir: plan.teacherModelDir,
    adapterDir: plan.teacherAdapterDir,
  };
  const student = (name: string, adapterDir?: string): HeldOutSide => ({
    name,
    prompt: plan.studentPrompt,
    file: plan.studentFile,
    modelDir: studentDir,
    ...(adapterDir ? { adapterDir } : {}),
  });
  const report = await heldOutReport(
    teacher,
    [student('student', adapter), student('student, no adapter'), ...(baselineAdapter ? [student('baseline (reference answers)', baselineAdapter)] : [])],
    {
      params: generationParams(plan.teacherPrompt),
      dtype: chooseDtype(plan.teacherPrompt).dtype,
      cacheDir,
      threads,
      onSide: (name) => process.stderr.write(`held-out: ${name}\n`),
    },
  );
  if (values.json)
    out(JSON.stringify({ ...report, adapter, ...(baselineAdapter ? { baselineAdapter } : {}), seconds: (Date.now() - started) / 1000 }, null, 2));
  else {
    for (const line of reportLines(report)) out(line);
    out(`distilled in ${((Date.now() - started) / 1000).toFixed(0)} s; the adapter is in ${path.relative(process.cwd(), adapter)}`);
  }
  return 0;
}
