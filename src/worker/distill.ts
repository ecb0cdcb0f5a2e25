import { contaminationError, contaminationProblem, writeDistillDataset } from '../core/distill/dataset';
import { heldOutReport } from '../core/distill/held-out';
import { inputText, messageVariables, planDistill } from '../core/distill/plan';
import { chooseDtype, trainedAdapterOf } from '../core/compare/variants';
import { generationParams } from '../core/prompts/params';
import type { Variables } from '../core/prompts/render';
import { defaultCacheDir } from '../core/export/cache';
import type { HandlerContext } from './handlers';
import type { RequestParams, RequestResult } from './protocol';

/** The extension's "Distill into an Adapter" (request `distillData`): the data stage, as `tuneloop distill` runs it. */
export async function distillDataRequest(p: RequestParams<'distillData'>, ctx: HandlerContext): Promise<RequestResult<'distillData'>> {
  const progress = (message: string) => ctx.emit({ type: 'progress', message });
  const cacheDir = p.cacheDir ?? defaultCacheDir();
  const plan = await planDistill(p.recipe, {
    ...(p.root ? { root: p.root } : {}),
    ...(p.trustedReads ? { trustedReads: p.trustedReads } : {}),
    cacheDir,
    threads: p.threads,
    signal: ctx.signal,
    onProgress: progress,
  });
  const refused = contaminationError(plan, p.recipe);
  if (refused) throw refused;
  const problem = contaminationProblem(plan);
  let last = 0;
  const data = await writeDistillDataset(plan, {
    cacheDir,
    threads: p.threads,
    signal: ctx.signal,
    onMessage: progress,
    onProgress: (done, total, cached) => {
      if (done === total || Date.now() - last > 500) {
        last = Date.now();
        progress(`teacher: ${done}/${total} answers${cached ? ` (${cached} from the cache)` : ''}`);
      }
    },
  });
  const counts = {
    datasetFile: plan.datasetFile,
    inputs: plan.inputs.length,
    rewordings: plan.inputs.filter((r) => r.paraphrase !== undefined).length,
    dropped: plan.dropped.length,
    ...(problem ? { warning: `${problem.message}:\n${problem.lines.join('\n')}` } : {}),
  };
  if (data === 'stopped') return { cancelled: true, ...counts, rows: 0, generated: 0, cached: 0, cut: 0 };
  return { cancelled: false, ...counts, rows: data.rows, generated: data.generated, cached: data.cached, cut: data.cut };
}

/** The panel's "Compare with the teacher" (request `distillReport`): the held-out comparison, as `tuneloop distill` ends. */
export async function distillReportRequest(p: RequestParams<'distillReport'>, ctx: HandlerContext): Promise<RequestResult<'distillReport'>> {
  const cacheDir = p.cacheDir ?? defaultCacheDir();
  const paths = { ...(p.root ? { root: p.root } : {}), ...(p.trustedReads ? { trustedReads: [...p.trustedReads] } : {}) };
  const plan = await planDistill(p.recipe, { ...paths, cacheDir, threads: p.threads, signal: ctx.signal });
  const adapter = trainedAdapterOf(p.recipe, p.runsDirs, paths);
  const side = (name: string, adapterDir?: string) => ({
    name,
    prompt: plan.studentPrompt,
    file: plan.studentFile,
    modelDir: plan.studentModelDir,
    ...(adapterDir ? { adapterDir } : {}),
  });
  const report = await heldOutReport(
    { name: 'teacher', prompt: plan.teacherPrompt, file: plan.teacherFile, modelDir: plan.teacherModelDir, adapterDir: plan.teacherAdapterDir },
    [side('student', adapter)],
    {
      params: generationParams(plan.teacherPrompt),
      dtype: chooseDtype(plan.teacherPrompt).dtype,
      cacheDir,
      threads: p.threads,
      signal: ctx.signal,
      onSide: (name) => ctx.emit({ type: 'progress', message: `held-out cases: ${name}` }),
    },
  );
  const names = messageVariables(plan.studentPrompt);
  return {
    adapter,
    cases: (plan.teacherPrompt.testData ?? []).map((t) => inputText(t.values as Variables, names)),
    teacher: report.teacher as RequestResult<'distillReport'>['teacher'],
    student: report.students[0]! as RequestResult<'distillReport'>['student'],
    inputTokenSaving: report.inputTokenSaving,
  };
}
