import type { PromptSource, ResolvedVariant } from './panel/sources';
import { expectedText, fileParams, matrixRequest } from './panel/sources';
import type { WorkerLike } from './panel/env';
import type { GenerationParams } from '../core/infer/generate';
import type { ExportDtype } from '../core/dtypes';
import type { MatrixCell } from '../worker/protocol';

/**
 * The Testing view's runs (testing.ts), without `vscode`: a prompt file's test cases × variants
 * through the worker's matrix (the same as the panel's and `tuneloop eval`'s), each cell turned into
 * a test outcome with its messages. A failure carries the case's `expected` beside the output, so
 * that VS Code offers its diff; each failed evaluator is a message, and so is a regression against
 * the base (the base passed that evaluator on that case). A passing cell lists its evaluators as
 * output.
 */

export interface TestMessageSpec {
  readonly message: string;
  /** Both set when the case has `expected`: VS Code shows the two in its diff editor. */
  readonly expected?: string;
  readonly actual?: string;
}

export type TestOutcome =
  | { readonly kind: 'passed'; readonly output: string; readonly durationMs: number }
  | { readonly kind: 'failed'; readonly messages: readonly TestMessageSpec[]; readonly output: string; readonly durationMs: number }
  | { readonly kind: 'errored'; readonly message: string };

export interface TestRunRequest {
  readonly source: PromptSource;
  readonly model: string;
  /** Which cells: each case with the variant ids to run on it. */
  readonly cells: readonly { readonly caseIndex: number; readonly variantId: string }[];
  readonly settings: { readonly cacheDir: string; readonly threads?: number | undefined; readonly dtype: ExportDtype };
  readonly signal: AbortSignal;
  started(variantId: string, caseIndex: number): void;
  finished(variantId: string, caseIndex: number, outcome: TestOutcome): void;
}

/** A cell's outcome: its evaluators, the expected value beside the output, and its regressions against the base's cell. */
export function outcomeOf(cell: MatrixCell, expected: string | undefined, base: MatrixCell | undefined, baseName: string): TestOutcome {
  const durationMs = cell.tokensPerSecond > 0 ? cell.timeToFirstTokenMs + (cell.tokens.length / cell.tokensPerSecond) * 1000 : cell.timeToFirstTokenMs;
  const lines = cell.evaluations.map((e) => `${e.passed === null ? 'not run' : e.passed ? 'pass' : 'FAIL'} ${e.name}: ${e.detail}`);
  const output = [`output: ${JSON.stringify(cell.text)}`, ...lines].join('\r\n');
  if (cell.finish === 'cancelled') return { kind: 'errored', message: 'stopped before the output was complete' };
  if (cell.passed) return { kind: 'passed', output, durationMs };
  const withExpected = (message: string): TestMessageSpec => (expected !== undefined ? { message, expected, actual: cell.text } : { message });
  const messages: TestMessageSpec[] = [];
  cell.evaluations.forEach((e, k) => {
    if (e.passed !== false) return;
    // Evaluators are matched with the base's by position (core/compare/scores.ts).
    const regressed = base?.evaluations[k]?.passed === true;
    messages.push(
      withExpected(
        `${e.name}: ${e.detail}${regressed ? `\n\nA regression against ${baseName}: it passes this evaluator here with ${JSON.stringify(base!.text)}` : ''}`,
      ),
    );
  });
  if (messages.length === 0) messages.push(withExpected('failed'));
  return { kind: 'failed', messages, output, durationMs };
}

/** Runs the requested cells in the worker; every requested cell gets an outcome (errored when its variant could not load or the run failed). */
export async function runTests(worker: WorkerLike, r: TestRunRequest): Promise<void> {
  const prompt = r.source.prompt;
  const done = new Set<string>();
  const key = (variantId: string, caseIndex: number) => `${variantId}\n${caseIndex}`;
  const finish = (variantId: string, caseIndex: number, outcome: TestOutcome) => {
    if (done.has(key(variantId, caseIndex))) return;
    done.add(key(variantId, caseIndex));
    r.finished(variantId, caseIndex, outcome);
  };
  const failAll = (message: string) => {
    for (const c of r.cells) finish(c.variantId, c.caseIndex, { kind: 'errored', message });
  };
  if (!prompt || r.source.info.problems.length) return failAll(`the prompt file has problems: ${r.source.info.problems[0] ?? 'cannot read it'}`);
  const variants: ResolvedVariant[] = [];
  for (const id of new Set(r.cells.map((c) => c.variantId))) {
    const v = r.source.variants.get(id);
    if (v) variants.push(v);
    else for (const c of r.cells.filter((x) => x.variantId === id)) finish(id, c.caseIndex, { kind: 'errored', message: `the variant ${id} is not available` });
  }
  // An adapter's cell is judged against the base's too (regressions): the base runs with it, unreported when not asked for.
  const baseVariant = [...r.source.variants.values()].find((v) => v.kind === 'base');
  if (baseVariant && variants.length > 0 && !variants.includes(baseVariant)) variants.push(baseVariant);
  // The base first, so that each adapter's cell can be compared with the base's as it arrives.
  variants.sort((a, b) => (a.kind === 'base' ? -1 : b.kind === 'base' ? 1 : 0));
  const base = variants.find((v) => v.kind === 'base');
  const caseIndices = [...new Set(r.cells.map((c) => c.caseIndex))].sort((a, b) => a - b);
  const wanted = new Set(r.cells.map((c) => key(c.variantId, c.caseIndex)));
  const byName = new Map(variants.map((v) => [v.name, v]));
  const baseCells = new Map<number, MatrixCell>();
  if (variants.length === 0) return;
  try {
    await worker.request(
      'runMatrix',
      matrixRequest(
        r.source,
        r.model,
        variants,
        caseIndices.map((index) => ({ index, vars: (prompt.testData?.[index]?.values ?? {}) as Record<string, unknown> })),
        { params: fileParams(prompt) as GenerationParams, ...r.settings },
      ),
      r.signal,
      (e) => {
        if (e.type === 'token' || e.type === 'progress' || e.type === 'cellToken' || e.type === 'variantLoaded') return;
        const v = byName.get(e.variant);
        if (!v) return;
        if (e.type === 'variantError') {
          for (const i of caseIndices) if (wanted.has(key(v.id, i))) finish(v.id, i, { kind: 'errored', message: e.message.split('\n')[0]! });
          return;
        }
        if (!wanted.has(key(v.id, e.caseIndex))) {
          // A base cell run only to compare the adapters with.
          if (e.type === 'cell' && v === base) baseCells.set(e.caseIndex, e.cell);
          return;
        }
        if (e.type === 'cellStart') r.started(v.id, e.caseIndex);
        else if (e.type === 'cellError') finish(v.id, e.caseIndex, { kind: 'errored', message: e.message.split('\n')[0]! });
        else if (e.type === 'cell') {
          if (v === base) baseCells.set(e.caseIndex, e.cell);
          finish(
            v.id,
            e.caseIndex,
            outcomeOf(
              e.cell,
              expectedText(prompt.testData?.[e.caseIndex]?.values ?? {}),
              v === base ? undefined : baseCells.get(e.caseIndex),
              base?.name ?? 'base',
            ),
          );
        }
      },
    );
  } catch (e) {
    return failAll(r.signal.aborted ? 'stopped' : (e instanceof Error ? e.message : String(e)).split('\n')[0]!);
  }
  // Cells the run never reached (stopped): errored, so none is left spinning.
  failAll('stopped before it ran');
}
