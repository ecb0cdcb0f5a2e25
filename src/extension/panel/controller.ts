import * as path from 'node:path';
import { compareSnapshot, type Snapshot, writeSnapshot } from '../../core/compare/snapshot';
import type { GenerationParams } from '../../core/infer/generate';
import { VERSION } from '../../core/version';
import type { Params, RequestEvent, RequestMethod, Result } from '../../worker/protocol';
import { describeInvalid } from '../webview/invalid';
import { type CellInfo, FromPanel, type GenerationOverrides, type RunHeader, type RunRequest, type Tab, type TokenInfo, type ToPanel } from './protocol';
import { EventCursor, RunsScanner } from './runs';
import { describePrompt, fileParams, type PromptSource, type ResolvedVariant, snapshotOutputs, typedCase } from './sources';

/**
 * The panel's logic, between the page (messages, validated here on receipt) and the machine: the
 * worker process generates (request runMatrix: model loading, adapter merging and generation never
 * run in the extension host), the detached trainer trains (started through `env.train`), and run
 * folders are read incrementally. It has no `vscode` import: `PanelEnv` is all it needs of the
 * editor, so unit tests drive it with a fake page and a real worker.
 */
export interface PanelEnv {
  /** Sends a message to the page; the page validates it again on receipt. */
  post(message: ToPanel): void;
  isTrusted(): boolean;
  hasWorkspace(): boolean;
  /** The path rule for a file (core/fs/root.ts): its workspace folder as the root, and the folders read from anywhere. */
  paths(file: string): { root?: string; trustedReads: string[] };
  runsFolder(): string | undefined;
  findFiles(kind: 'prompt' | 'recipe'): Promise<string[]>;
  /** The text of a file as the editor holds it (unsaved edits included). */
  readDocument(file: string): Promise<string>;
  settings(): { defaultModel: string; settingBase: string | undefined; threads: number; cacheDir: string };
  cachedHubModel?(id: string): string | undefined;
  /** Whether a path lies in one of the workspace's folders (the panel writes nowhere else). */
  inWorkspace(file: string): boolean;
  /** A path as the page shows it (relative to the workspace). */
  label(file: string): string;
  pickFolder(): Promise<string | undefined>;
  openDiff(left: { title: string; text: string }, right: { title: string; text: string }, title: string): Promise<void>;
  openFile(file: string): Promise<void>;
  revealFolder(dir: string): Promise<void>;
  readonly train: {
    /** Starts a run in the detached trainer; its folder. */
    start(recipe: string): Promise<string | undefined>;
    cancel(dir: string): void;
    resume(dir: string): void;
  };
  readonly log: { info(m: string): void; warn(m: string): void; error(m: string): void; debug(m: string): void };
}

/** What the controller needs of the worker: WorkerClient's request. */
export interface WorkerLike {
  request<M extends RequestMethod>(method: M, params: Params<M>, signal?: AbortSignal, onEvent?: (e: RequestEvent) => void): Promise<Result<M>>;
}

export interface ShowOptions {
  readonly tab?: Tab;
  readonly file?: string;
  readonly autorun?: 'run' | 'compare';
  readonly run?: string;
}

interface CellState {
  readonly variant: string;
  readonly caseIndex: number;
  tokens: TokenInfo[];
  cell?: CellInfo;
}

interface GenerationRun {
  readonly header: RunHeader;
  readonly source: PromptSource;
  readonly variants: readonly ResolvedVariant[];
  readonly overridden: boolean;
  readonly modelId: string;
  readonly abort: AbortController;
  readonly cells: Map<string, CellState>;
  readonly variantErrors: Map<string, string>;
  end?: Extract<ToPanel, { type: 'run/end' }>;
  modelSha256?: string;
}

const TOKEN_FLUSH_MS = 40;
const RUNS_POLL_MS = 1000;
const KEEP_RUNS = 4;

const key = (variant: string, caseIndex: number) => `${variant}\n${caseIndex}`;

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

export class PanelController {
  private ready = false;
  private pending: ShowOptions | undefined;
  private prompts = new Map<string, string>();
  private recipes = new Map<string, string>();
  private source: PromptSource | undefined;
  private readonly selectedModels = new Map<string, string>();
  private readonly picked: string[] = [];
  private readonly runs = new Map<string, GenerationRun>();
  private active: GenerationRun | undefined;
  private nextRun = 1;
  private readonly tokenBuffer = new Map<string, TokenInfo[]>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly scanner: RunsScanner;
  private runsJson = '';
  private runDirs = new Set<string>();
  /** The runs known to be done at the last scan (undefined before the first): to notice runs that finish. */
  private doneRuns: Set<string> | undefined;
  private followed: EventCursor | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private disposed = false;

  constructor(
    private readonly env: PanelEnv,
    private readonly worker: WorkerLike,
  ) {
    this.scanner = new RunsScanner((p) => env.label(p));
    this.pollTimer = setInterval(() => this.pollRuns(), RUNS_POLL_MS);
  }

  /** Messages from the page: anything that fails validation is logged and dropped. */
  async receive(raw: unknown): Promise<void> {
    const parsed = FromPanel.safeParse(raw);
    if (!parsed.success) {
      this.env.log.warn(`panel: ignored an invalid message: ${describeInvalid(parsed.error)}`);
      return;
    }
    const m = parsed.data;
    try {
      await this.handle(m);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.env.log.error(`panel: ${m.type}: ${e instanceof Error ? (e.stack ?? message) : message}`);
      this.notice('error', message.split('\n')[0]!);
    }
  }

  /** Bring the panel to a tab / prompt file (commands and CodeLens); queued until the page is ready. */
  async show(options: ShowOptions): Promise<void> {
    if (!this.ready) {
      this.pending = { ...this.pending, ...options };
      return;
    }
    await this.applyShow(options);
  }

  /** A prompt file or recipe was created or deleted: the lists again. */
  async filesChanged(): Promise<void> {
    if (this.ready && !this.disposed) await this.sendInit();
  }

  /** A file was saved: the selected prompt's info again (its cases, settings and adapters may have changed). */
  async fileSaved(file: string): Promise<void> {
    if (!this.ready || this.disposed || this.source?.info.file !== file || (this.active && !this.active.end)) return;
    await this.selectPrompt(file);
  }

  private async applyShow(options: ShowOptions): Promise<void> {
    if (options.file && !this.prompts.has(options.file)) {
      // A prompt file the search did not find (outside the workspace, just created): offer it too.
      this.prompts.set(options.file, this.env.label(options.file));
      await this.sendInit();
    }
    if (options.run) this.follow(options.run);
    this.post({
      type: 'panel/show',
      tab: options.tab ?? 'compare',
      ...(options.file ? { file: options.file } : {}),
      ...(options.run ? { run: options.run } : {}),
    });
    if (options.file) await this.selectPrompt(options.file, options.autorun);
  }

  private async handle(m: FromPanel): Promise<void> {
    switch (m.type) {
      case 'panel/ready':
        return this.onReady();
      case 'panel/selectPrompt':
        this.known(this.prompts, m.file, 'prompt file');
        return this.selectPrompt(m.file);
      case 'panel/selectModel':
        this.known(this.prompts, m.file, 'prompt file');
        this.selectedModels.set(m.file, m.model);
        return this.selectPrompt(m.file);
      case 'panel/pickModel': {
        this.known(this.prompts, m.file, 'prompt file');
        const dir = await this.env.pickFolder();
        if (!dir) return;
        const abs = path.resolve(dir);
        if (!this.picked.includes(abs)) this.picked.push(abs);
        this.selectedModels.set(m.file, abs);
        return this.selectPrompt(m.file);
      }
      case 'panel/openFile': {
        const known = this.prompts.has(m.file) || this.recipes.has(m.file) || (this.source?.snapshotFile === m.file && this.source !== undefined);
        if (!known) throw new Error('unknown file');
        return this.env.openFile(m.file);
      }
      case 'run/start':
        return this.startRun(m);
      case 'run/stop':
        this.active?.abort.abort();
        return;
      case 'run/openDiff':
        return this.openDiff(m.runId, m.left, m.right);
      case 'snapshot/accept':
        return this.acceptSnapshot(m.runId);
      case 'train/start': {
        this.requireTrust('fine-tune');
        this.known(this.recipes, m.recipe, 'adapter recipe');
        const dir = await this.env.train.start(m.recipe);
        if (!dir) return;
        this.pollRuns(true);
        this.follow(dir);
        this.post({ type: 'panel/show', tab: 'train', run: dir });
        return;
      }
      case 'train/select':
        this.knownRun(m.dir);
        this.follow(m.dir);
        return;
      case 'train/cancel':
        this.knownRun(m.dir);
        this.env.train.cancel(m.dir);
        return;
      case 'train/resume':
        this.requireTrust('resume a run');
        this.knownRun(m.dir);
        this.env.train.resume(m.dir);
        this.follow(m.dir);
        this.pollRuns(true);
        return;
      case 'train/reveal':
        this.knownRun(m.dir);
        return this.env.revealFolder(m.dir);
    }
  }

  private known(map: ReadonlyMap<string, string>, id: string, what: string): void {
    if (!map.has(id)) throw new Error(`unknown ${what}: ${id}`);
  }

  private knownRun(dir: string): void {
    if (!this.runDirs.has(dir)) throw new Error(`unknown run: ${dir}`);
  }

  private requireTrust(what: string): void {
    if (!this.env.isTrusted()) throw new Error(`Tuneloop runs no model and no training in an untrusted workspace: trust the workspace to ${what}.`);
  }

  private post(m: ToPanel): void {
    if (!this.disposed) this.env.post(m);
  }

  private notice(level: 'info' | 'warn' | 'error', message: string): void {
    this.post({ type: 'panel/notice', level, message });
  }

  /** The page (re)loaded: everything it shows, sent again (a hidden panel's page is rebuilt when shown). */
  private async onReady(): Promise<void> {
    this.ready = true;
    // Start the worker process now (forking takes a few milliseconds of the host's time), so that a run
    // only sends it work.
    if (this.env.isTrusted()) void this.worker.request('ping', {}).catch(() => undefined);
    await this.sendInit();
    this.runsJson = '';
    this.pollRuns(true);
    const pending = this.pending;
    this.pending = undefined;
    if (this.source && (!pending?.file || pending.file !== this.source.info.file)) this.post({ type: 'panel/prompt', info: this.source.info });
    for (const mode of ['compare', 'matrix'] as const) {
      const last = [...this.runs.values()].reverse().find((r) => r.header.mode === mode);
      if (last) this.replay(last);
    }
    if (this.followed) {
      const dir = this.followed.dir;
      this.followed = undefined;
      this.follow(dir);
    }
    if (pending) await this.applyShow(pending);
    else if (!this.source) {
      const first = this.prompts.keys().next().value;
      if (first !== undefined) await this.selectPrompt(first);
    }
  }

  private async sendInit(): Promise<void> {
    const [prompts, recipes] = await Promise.all([this.env.findFiles('prompt'), this.env.findFiles('recipe')]);
    const extra = [...this.prompts.keys()].filter((f) => !prompts.includes(f));
    this.prompts = new Map([...prompts, ...extra].map((f) => [f, this.env.label(f)] as const).sort((a, b) => a[1].localeCompare(b[1])));
    this.recipes = new Map(recipes.map((f) => [f, this.env.label(f)] as const).sort((a, b) => a[1].localeCompare(b[1])));
    this.post({
      type: 'panel/init',
      version: VERSION,
      trusted: this.env.isTrusted(),
      hasWorkspace: this.env.hasWorkspace(),
      prompts: [...this.prompts].map(([file, label]) => ({ file, label })),
      recipes: [...this.recipes].map(([file, label]) => ({ file, label })),
    });
  }

  private async describe(file: string): Promise<PromptSource> {
    const text = await this.env.readDocument(file);
    const s = this.env.settings();
    return describePrompt(file, text, {
      defaultModel: s.defaultModel,
      settingBase: s.settingBase,
      runsFolder: this.env.runsFolder(),
      picked: this.picked,
      selectedModel: this.selectedModels.get(file),
      ...(this.env.cachedHubModel ? { cachedHubModel: (id: string) => this.env.cachedHubModel!(id) } : {}),
      label: (p) => this.env.label(p),
      paths: this.env.paths(file),
    });
  }

  private async selectPrompt(file: string, autorun?: 'run' | 'compare'): Promise<void> {
    this.source = await this.describe(file);
    this.post({ type: 'panel/prompt', info: this.source.info, ...(autorun ? { autorun } : {}) });
  }

  // ---- generation ----------------------------------------------------------------------------

  private async startRun(req: RunRequest): Promise<void> {
    this.requireTrust('run a model');
    this.known(this.prompts, req.file, 'prompt file');
    if (this.active && !this.active.end) throw new Error('a run is still going: stop it first');
    // The file as it is now (the user may have edited it since it was selected).
    const source = await this.describe(req.file);
    this.source = source;
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
    const header: RunHeader = {
      runId,
      mode: req.mode,
      file: req.file,
      fileLabel: source.info.label,
      modelLabel: this.env.label(req.model),
      variants: variants.map((v) => ({ id: v.id, name: v.name, kind: v.kind, minPassRate: v.minPassRate })),
      cases: cases.map((c) => ({ index: c.index, label: c.label })),
      hasSnapshot: source.snapshotFile !== undefined,
    };
    const run: GenerationRun = {
      header,
      source,
      variants,
      overridden: req.values !== undefined || !sameParams({ ...fromFile, ...req.params }, fromFile),
      modelId: req.model,
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
    const s = this.env.settings();
    const started = Date.now();
    try {
      const result = await this.worker.request(
        'runMatrix',
        {
          promptFile: req.file,
          promptText: source.text,
          model: req.model,
          variants: variants.map((v) => ({
            name: v.name,
            ...(v.adapterDir ? { adapterDir: v.adapterDir } : {}),
            ...(v.modelDir ? { modelDir: v.modelDir } : {}),
          })),
          cases: cases.map((c) => ({ index: c.index, vars: c.vars })),
          params,
          cacheDir: s.cacheDir,
          ...(s.threads ? { threads: s.threads } : {}),
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
        `panel: ${req.mode} of ${source.info.label} on ${header.modelLabel}: ${variants.length} variant(s) × ${cases.length} case(s) ${result.cancelled ? 'stopped' : 'done'} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
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
    if (e.type === 'variantError') {
      run.variantErrors.set(v.id, e.message);
      this.post({ type: 'run/variantError', runId, variant: v.id, message: e.message.split('\n')[0]! });
      return;
    }
    const k = key(v.id, e.caseIndex);
    if (e.type === 'cellStart') {
      run.cells.set(k, { variant: v.id, caseIndex: e.caseIndex, tokens: [] });
      this.post({ type: 'run/cellStart', runId, variant: v.id, caseIndex: e.caseIndex });
      return;
    }
    const state = run.cells.get(k) ?? { variant: v.id, caseIndex: e.caseIndex, tokens: [] };
    run.cells.set(k, state);
    if (e.type === 'cellToken') {
      const t = { text: e.token.text, logprob: e.token.logprob };
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
        tokens: c.tokens.map((t) => ({ text: t.text, logprob: t.logprob })),
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

  /** A run's messages again, for a page that was rebuilt: its cells as they stand. */
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

  private async openDiff(runId: string, left: { variant: string; caseIndex: number }, right: { variant: string; caseIndex: number }): Promise<void> {
    const run = this.runs.get(runId);
    if (!run) throw new Error('that run is no longer kept: run it again');
    const side = (ref: { variant: string; caseIndex: number }) => {
      const cell = run.cells.get(key(ref.variant, ref.caseIndex));
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

  /**
   * "Accept as snapshot": the matrix's outputs of base and of each adapter the file lists, written
   * to the file's snapshot as `tuneloop eval --update-snapshots` writes it, so that CI compares
   * against them. Refused when the run does not hold exactly what eval would produce.
   */
  private async acceptSnapshot(runId: string): Promise<void> {
    const run = this.runs.get(runId);
    if (run?.header.mode !== 'matrix') throw new Error('accept the outputs of a matrix run');
    const file = run.source.snapshotFile;
    if (!file) throw new Error('the prompt file names no snapshot file: add "snapshot: NAME.snapshot.json" to it');
    if (!this.env.inWorkspace(file)) throw new Error(`the snapshot file ${file} is outside the workspace: the panel writes only inside it`);
    if (run.end?.status !== 'done' || !run.modelSha256) throw new Error('the matrix did not finish: run it to the end first');
    if (run.overridden)
      throw new Error(
        "the outputs were generated with settings other than the prompt file's: tuneloop eval would not reproduce them; reset the overrides and run the matrix again",
      );
    const listed = run.source.info.variants.filter((v) => v.listed);
    const missing = listed.filter((v) => !run.header.variants.some((x) => x.id === v.id));
    if (missing.length) {
      const why = (v: (typeof missing)[number]) => (v.available ? v.name : `${v.name} (${v.reason ?? 'not available'})`);
      throw new Error(`the snapshot holds base and every adapter the file lists; this run lacks ${missing.map(why).join(', ')}`);
    }
    const allCases = run.source.prompt?.testData?.length ?? 1;
    if (run.header.cases.length !== allCases) throw new Error('the snapshot holds every test case: run the matrix on all of them');
    const outputs: Record<string, Record<string, string>> = {};
    for (const v of run.header.variants) {
      if (!listed.some((x) => x.id === v.id)) continue;
      outputs[v.name] = {};
      for (const c of run.header.cases) {
        const cell = run.cells.get(key(v.id, c.index))?.cell;
        if (!cell || cell.finish === 'error' || cell.finish === 'cancelled') throw new Error(`${v.name} has no output for case ${c.index + 1}`);
        outputs[v.name]![String(c.index)] = cell.text;
      }
    }
    const promptModel = run.source.prompt?.model;
    const fromPrompt = run.source.info.models.find((o) => o.id === run.modelId)?.from === 'prompt';
    const snapshot: Snapshot = {
      version: 1,
      model: { id: fromPrompt && promptModel ? promptModel : this.env.label(run.modelId), sha256: run.modelSha256 },
      outputs,
    };
    const before = snapshotOutputs(file);
    writeSnapshot(file, snapshot);
    const changes = before ? compareSnapshot({ ...snapshot, outputs: before }, outputs).length : undefined;
    this.env.log.info(`panel: wrote the snapshot ${file}${changes !== undefined ? ` (${changes} output(s) changed)` : ''}`);
    this.post({ type: 'snapshot/written', runId, label: this.env.label(file) });
    // The page marks the cells as matching the snapshot now.
    for (const c of run.cells.values()) {
      if (!c.cell || !listed.some((x) => x.id === c.variant)) continue;
      c.cell = { ...c.cell, snapshot: 'same' };
      this.post({ type: 'run/cell', runId, variant: c.variant, caseIndex: c.caseIndex, cell: c.cell });
    }
    if (this.source?.info.file === run.header.file) await this.selectPrompt(run.header.file);
  }

  // ---- fine-tuning runs ----------------------------------------------------------------------

  private follow(dir: string): void {
    this.followed = new EventCursor(dir);
    this.post({ type: 'runs/events', dir, reset: true, events: this.followed.poll() });
  }

  private pollRuns(force = false): void {
    if (this.disposed || !this.ready) return;
    try {
      const rows = this.scanner.scan(this.env.runsFolder());
      // Runs finished since the last scan. A short run can be created and finish between two scans
      // (its events.jsonl, which makes it a run, is written by the trainer process), so this compares
      // with the runs known to be done, not with the states last listed.
      const done = new Set(rows.filter((r) => r.state === 'done').map((r) => r.dir));
      const finished = this.doneRuns !== undefined && [...done].some((d) => !this.doneRuns!.has(d));
      this.doneRuns = done;
      const json = JSON.stringify(rows);
      this.runDirs = new Set(rows.map((r) => r.dir));
      if (force || json !== this.runsJson) {
        this.runsJson = json;
        const folder = this.env.runsFolder();
        this.post({ type: 'runs/list', runs: rows, ...(folder ? { runsFolder: this.env.label(folder) } : {}) });
        // A run that just finished adds variants to compare: describe the prompt again.
        if (finished && this.source && !(this.active && !this.active.end)) {
          void this.selectPrompt(this.source.info.file).catch((e: unknown) =>
            this.env.log.warn(
              `panel: describing ${this.env.label(this.source?.info.file ?? '')} after a run finished: ${e instanceof Error ? e.message : String(e)}`,
            ),
          );
        }
      }
      if (this.followed) {
        const events = this.followed.poll();
        if (events.length) this.post({ type: 'runs/events', dir: this.followed.dir, reset: false, events });
      }
    } catch (e) {
      this.env.log.warn(`panel: reading the runs folder: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** The page went away (panel closed): stop generating for it; training runs go on in their own process. */
  dispose(): void {
    this.disposed = true;
    this.active?.abort.abort();
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
  }
}
