import * as path from 'node:path';
import type { Snapshot } from '../../core/compare/snapshot';
import type { GenerationParams } from '../../core/infer/generate';
import type { RequestEvent } from '../../worker/protocol';
import type { PanelEnv, WorkerLike } from './env';
import { type CellInfo, type GenerationOverrides, RUN_MODES, type RunHeader, type RunRequest, type TokenInfo, type ToPanel } from './protocol';
import { expectedText, fileParams, matrixRequest, type PromptSource, type ResolvedVariant, snapshotOutputs, typedCase } from './sources';
import { chooseDtype } from '../../core/compare/variants';
import type { ExportDtype } from '../../core/dtypes';

interface CellState {
  readonly variant: string;
  readonly caseIndex: number;
  tokens: TokenInfo[];
  cell?: CellInfo;
}

export interface GenerationRun {
  readonly header: RunHeader;
  readonly source: PromptSource;
  readonly variants: readonly ResolvedVariant[];
  /** Generated with other settings or values than the prompt file's (then `tuneloop eval` would not reproduce it). */
  readonly overridden: boolean;
  readonly modelId: string;
  /** The dtype every variant ran in: the prompt file's, else tuneloop.dtype, else fp32. */
  readonly dtype: ExportDtype;
  readonly abort: AbortController;
  readonly cells: Map<string, CellState>;
  readonly variantErrors: Map<string, string>;
  end?: Extract<ToPanel, { type: 'run/end' }>;
  modelSha256?: string;
}

const TOKEN_FLUSH_MS = 40;
const KEEP_RUNS = 4;

export const cellKey = (variant: string, caseIndex: number) => `${variant}\n${caseIndex}`;

function sameParams(a: GenerationOverrides, b: GenerationOverrides): boolean {
  const norm = (p: GenerationOverrides) =>
    JSON.stringify(
      Object.fromEntries(
        Object.entries(p)
          .filter(([, v]) => v !== undefined)
          .sort(([x], [y]) => x.localeCompare(y)),
      ),
    );
  return norm(a) === norm(b);
}

/**
 * Generation runs of the compare view and of the matrix: each sent to the worker (request runMatrix:
 * model loading, adapter merging and generation never run in the extension host), its cells streamed
 * to the page as they come (tokens batched), and the last few kept, so that a rebuilt page gets them
 * again and their outputs can be diffed or accepted as the snapshot.
 */
export class Generations {
  private readonly runs = new Map<string, GenerationRun>();
  private active: GenerationRun | undefined;
  private nextRun = 1;
  private readonly tokenBuffer = new Map<string, TokenInfo[]>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly env: PanelEnv,
    private readonly worker: WorkerLike,
    private readonly post: (m: ToPanel) => void,
  ) {}

  /** A run is going: one at a time. */
  get busy(): boolean {
    return this.active !== undefined && !this.active.end;
  }

  /** A kept run, by the id the page was sent. */
  get(runId: string): GenerationRun | undefined {
    return this.runs.get(runId);
  }

  stop(): void {
    this.active?.abort.abort();
  }

  /** Runs a request on `source` (the prompt file as it is now), streaming its cells to the page. */
  async run(req: RunRequest, source: PromptSource): Promise<void> {
    const prompt = source.prompt;
    if (!prompt || source.info.problems.length) throw new Error(`the prompt file has problems: ${source.info.problems[0] ?? 'cannot read it'}`);
    if (!source.models.has(req.model)) throw new Error(`unknown model: ${req.model}`);
    const variants = req.variants.map((id) => {
      const v = source.variants.get(id);
      if (!v) throw new Error(`the variant ${id} is not available`);
      return v;
    });
    let cases: { index: number; label: string; vars: Record<string, unknown> }[];
    if (req.values) cases = [{ index: 0, label: 'Typed values', vars: typedCase(req.values) }];
    else if (!prompt.testData?.length) cases = [{ index: 0, label: 'No test data', vars: {} }];
    else {
      const wanted = req.cases ?? prompt.testData.map((_, i) => i);
      cases = wanted.map((i) => {
        const t = prompt.testData![i];
        if (!t) throw new Error(`no test case ${i + 1}`);
        return { index: i, label: source.info.cases[i]?.label ?? `Case ${i + 1}`, vars: t.values as Record<string, unknown> };
      });
    }
    if (cases.length === 0) throw new Error('no test case selected');
    const fromFile = fileParams(prompt);
    const params = { ...fromFile, ...req.params } as GenerationParams;
    const runId = `run-${this.nextRun++}`;
    const s = this.env.settings();
    const dtype = chooseDtype(prompt, { setting: s.dtype });
    const header: RunHeader = {
      runId,
      mode: req.mode,
      file: req.file,
      fileLabel: source.info.label,
      modelLabel: this.env.label(req.model),
      variants: variants.map((v) => ({ id: v.id, name: v.name, kind: v.kind, minPassRate: v.minPassRate, dtype: dtype.dtype })),
      dtypeFrom: dtype.from,
      cases: cases.map((c) => {
        const expected = expectedText(c.vars);
        return { index: c.index, label: c.label, ...(expected !== undefined ? { expected } : {}) };
      }),
      hasSnapshot: source.snapshotFile !== undefined,
      ...(prompt.task ? { task: prompt.task } : {}),
    };
    const run: GenerationRun = {
      header,
      source,
      variants,
      overridden: req.values !== undefined || !sameParams({ ...fromFile, ...req.params }, fromFile),
      modelId: req.model,
      dtype: dtype.dtype,
      abort: new AbortController(),
      cells: new Map(),
      variantErrors: new Map(),
    };
    this.runs.set(runId, run);
    while (this.runs.size > KEEP_RUNS) this.runs.delete(this.runs.keys().next().value!);
    this.active = run;
    this.post({ type: 'run/start', header });
    // Matrix cells are marked against the snapshot (every cell is new when the file has not been written yet).
    const snapshot = req.mode === 'matrix' && source.snapshotFile ? (snapshotOutputs(source.snapshotFile) ?? {}) : undefined;
    const byName = new Map(variants.map((v) => [v.name, v]));
    const started = Date.now();
    try {
      const result = await this.worker.request(
        'runMatrix',
        {
          ...matrixRequest(source, req.model, variants, cases, { params, dtype: dtype.dtype, cacheDir: s.cacheDir, threads: s.threads }),
          hashModel: req.mode === 'matrix',
        },
        run.abort.signal,
        (e) => this.onWorkerEvent(run, byName, e, snapshot),
      );
      this.flushTokens();
      if (result.modelSha256) run.modelSha256 = result.modelSha256;
      const passRates = Object.fromEntries(
        Object.entries(result.passRates).flatMap(([name, rate]) => (byName.has(name) ? [[byName.get(name)!.id, rate]] : [])),
      );
      run.end = { type: 'run/end', runId, status: result.cancelled ? 'cancelled' : 'done', passRates };
      this.env.log.info(
        `panel: ${req.mode} of ${source.info.label} on ${header.modelLabel} (${dtype.dtype}): ${variants.length} variant(s) × ${cases.length} case(s) ${result.cancelled ? 'stopped' : 'done'} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    } catch (e) {
      this.flushTokens();
      const message = e instanceof Error ? e.message : String(e);
      this.env.log.error(`panel: ${req.mode} of ${source.info.label}: ${message}`);
      run.end = { type: 'run/end', runId, status: run.abort.signal.aborted ? 'cancelled' : 'failed', message: message.split('\n')[0]!, passRates: {} };
    }
    this.post(run.end);
  }

  private onWorkerEvent(run: GenerationRun, byName: ReadonlyMap<string, ResolvedVariant>, e: RequestEvent, snapshot: Snapshot['outputs'] | undefined): void {
    const runId = run.header.runId;
    if (e.type === 'progress') return this.post({ type: 'run/progress', runId, message: e.message });
    if (e.type === 'token') return;
    const v = byName.get(e.variant);
    if (!v) return;
    if (e.type === 'variantLoaded') return this.env.log.debug(`panel: ${v.name} loaded in ${e.dtype}`);
    if (e.type === 'variantError') {
      run.variantErrors.set(v.id, e.message);
      this.post({ type: 'run/variantError', runId, variant: v.id, message: e.message.split('\n')[0]! });
      return;
    }
    const k = cellKey(v.id, e.caseIndex);
    if (e.type === 'cellStart') {
      run.cells.set(k, { variant: v.id, caseIndex: e.caseIndex, tokens: [] });
      this.post({ type: 'run/cellStart', runId, variant: v.id, caseIndex: e.caseIndex });
      return;
    }
    const state = run.cells.get(k) ?? { variant: v.id, caseIndex: e.caseIndex, tokens: [] };
    run.cells.set(k, state);
    if (e.type === 'cellToken') {
      const t = tokenInfo(e.token);
      state.tokens.push(t);
      const buf = this.tokenBuffer.get(`${runId}\n${k}`) ?? [];
      buf.push(t);
      this.tokenBuffer.set(`${runId}\n${k}`, buf);
      this.flushTimer ??= setTimeout(() => this.flushTokens(), TOKEN_FLUSH_MS);
      return;
    }
    this.flushTokens();
    let cell: CellInfo;
    if (e.type === 'cellError') {
      cell = {
        text: '',
        tokens: state.tokens,
        evaluations: [],
        passed: false,
        timeToFirstTokenMs: 0,
        tokensPerSecond: 0,
        finish: 'error',
        error: e.message.split('\n')[0]!,
      };
    } else {
      const c = e.cell;
      const before = snapshot?.[v.name]?.[String(e.caseIndex)];
      cell = {
        text: c.text,
        tokens: c.tokens.map(tokenInfo),
        evaluations: c.evaluations.map((x) => ({ ...x })),
        passed: c.passed,
        timeToFirstTokenMs: Math.max(0, c.timeToFirstTokenMs),
        tokensPerSecond: Math.max(0, Number.isFinite(c.tokensPerSecond) ? c.tokensPerSecond : 0),
        finish: c.finish,
        ...(snapshot && v.kind !== 'run' && v.kind !== 'checkpoint'
          ? { snapshot: before === undefined ? ('new' as const) : before === c.text ? ('same' as const) : ('changed' as const) }
          : {}),
      };
    }
    state.cell = cell;
    state.tokens = cell.tokens;
    this.post({ type: 'run/cell', runId, variant: v.id, caseIndex: e.caseIndex, cell });
  }

  private flushTokens(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    for (const [k, tokens] of this.tokenBuffer) {
      const [runId, variant, caseIndex] = k.split('\n') as [string, string, string];
      this.post({ type: 'run/tokens', runId, variant, caseIndex: Number(caseIndex), tokens });
    }
    this.tokenBuffer.clear();
  }

  /** The latest run of each mode again, for a page that was rebuilt. */
  replayLatest(): void {
    for (const mode of RUN_MODES) {
      const last = [...this.runs.values()].reverse().find((r) => r.header.mode === mode);
      if (last) this.replay(last);
    }
  }

  /** A run's messages again: its cells as they stand. */
  private replay(run: GenerationRun): void {
    const runId = run.header.runId;
    this.post({ type: 'run/start', header: run.header });
    for (const [variant, message] of run.variantErrors) this.post({ type: 'run/variantError', runId, variant, message: message.split('\n')[0]! });
    for (const c of run.cells.values()) {
      if (c.cell) this.post({ type: 'run/cell', runId, variant: c.variant, caseIndex: c.caseIndex, cell: c.cell });
      else {
        this.post({ type: 'run/cellStart', runId, variant: c.variant, caseIndex: c.caseIndex });
        if (c.tokens.length) this.post({ type: 'run/tokens', runId, variant: c.variant, caseIndex: c.caseIndex, tokens: c.tokens });
      }
    }
    if (run.end) this.post(run.end);
  }

  /** Two outputs of a kept run in the editor's diff view. */
  async openDiff(runId: string, left: { variant: string; caseIndex: number }, right: { variant: string; caseIndex: number }): Promise<void> {
    const run = this.runs.get(runId);
    if (!run) throw new Error('that run is no longer kept: run it again');
    const side = (ref: { variant: string; caseIndex: number }) => {
      const cell = run.cells.get(cellKey(ref.variant, ref.caseIndex));
      const v = run.header.variants.find((x) => x.id === ref.variant);
      if (!cell || !v) throw new Error('no such output');
      const text = cell.cell?.text ?? cell.tokens.map((t) => t.text).join('');
      const caseLabel = run.header.cases.length > 1 || run.header.mode === 'matrix' ? ` · case ${ref.caseIndex + 1}` : '';
      return { title: `${v.name}${caseLabel}`, text };
    };
    const l = side(left);
    const r = side(right);
    await this.env.openDiff(l, r, `${path.basename(run.header.file)}: ${l.title} ↔ ${r.title}`);
  }

  /** The page went away: stop generating for it. */
  dispose(): void {
    this.active?.abort.abort();
    if (this.flushTimer) clearTimeout(this.flushTimer);
  }
}

/** A worker token as the page gets it, ids included (the page tells tokens apart by id: two may decode alike). */
function tokenInfo(t: { id: number; text: string; logprob: number; top?: readonly { id: number; text: string; logprob: number }[] | undefined }): TokenInfo {
  return { text: t.text, logprob: t.logprob, id: t.id, ...(t.top ? { top: t.top.map((a) => ({ id: a.id, text: a.text, logprob: a.logprob })) } : {}) };
}
