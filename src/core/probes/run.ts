import { type CellResult, type MatrixOptions, type MatrixSpec, runMatrix } from '../compare/matrix';
import { TuneloopError } from '../errors';
import { count } from '../format';
import { expandProbes } from './expand';
import { type ProbesReport, probeReport } from './report';

/**
 * A prompt file's probes run on its variants: every test case under every swap (expand.ts) as one
 * matrix (core/compare/matrix.ts) that also scores each case's expected answer, then the report
 * (report.ts). The first error (a variant that cannot load, a cell that fails) stops it, as the
 * figures of a probe with a missing run would mislead. `tuneloop probe` and the panel's worker
 * both run this.
 */
export async function runProbes(
  spec: MatrixSpec,
  options: MatrixOptions & { readonly onProgress?: ((message: string) => void) | undefined } = {},
): Promise<{ readonly report: ProbesReport; readonly cancelled: boolean }> {
  if (spec.prompt.probes.length === 0)
    throw new TuneloopError(
      'the prompt file has no probes, so there is nothing to swap',
      { file: spec.file },
      'add probes: [{name: names, variable: name, values: [James, Maria]}] or [{name: pronouns, words: pronouns}]',
    );
  const expanded = expandProbes(spec.prompt, spec.cases);
  const progress = options.onProgress ?? (() => undefined);
  progress(
    `${count(expanded.cases.length, 'distinct run')} per variant for ${count(spec.prompt.probes.length, 'probe')} over ${count(spec.cases.length, 'test case')}`,
  );
  const cells: Record<string, Record<number, CellResult>> = {};
  let cancelled = false;
  let done = 0;
  for await (const e of runMatrix({ ...spec, cases: expanded.cases, scoreExpected: true }, options)) {
    if (e.type === 'variantError' || e.type === 'cellError') throw e.error;
    if (e.type === 'variantStart') {
      done = 0;
      progress(`running ${e.variant.name}`);
    }
    if (e.type === 'progress') progress(e.message);
    if (e.type === 'cellDone') {
      (cells[e.variant] ??= {})[e.caseIndex] = e.cell;
      done++;
      if (done % 10 === 0 || done === expanded.cases.length) progress(`${e.variant}: ${done} of ${count(expanded.cases.length, 'run')}`);
    }
    if (e.type === 'end') cancelled = e.cancelled;
  }
  return { report: probeReport({ probes: spec.prompt.probes, expanded, variants: spec.variants.map((v) => v.name), results: cells }), cancelled };
}
