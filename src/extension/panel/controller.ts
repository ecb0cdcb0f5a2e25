import * as path from 'node:path';
import { VERSION } from '../../core/version';
import { parseRecipe } from '../../core/recipes/recipe';
import { parsePrompt, variableNames } from '../../core/prompts';
import { distillStarter } from '../../core/distill/starter';
import { describeInvalid } from '../webview/invalid';
import type { PanelEnv, ShowOptions, WorkerLike } from './env';
import { RunsFollower } from './follow';
import { Generations } from './generation';
import { FromPanel, type RunRequest, type ToPanel } from './protocol';
import { historyMessage, ProbeRuns } from './probes';
import { DistillRuns } from './distill';
import { acceptSnapshot } from './snapshot';
import { describePrompt, type PromptSource } from './sources';

export type { PanelEnv, ShowOptions, WorkerLike } from './env';

/**
 * The panel's logic, between the page (messages, validated here on receipt) and the machine: the
 * worker process generates (generation.ts), the detached trainer trains (started through
 * `env.train`, followed through its run folder by follow.ts), and a matrix run's outputs can become
 * the snapshot (snapshot.ts). This class routes the page's messages, checks every id against what it
 * sent, and keeps the selected prompt file. It has no `vscode` import: `PanelEnv` is all it needs of
 * the editor, so unit tests drive it with a fake page and a real worker.
 */
export class PanelController {
  private ready = false;
  private pending: ShowOptions | undefined;
  private prompts = new Map<string, string>();
  private recipes = new Map<string, string>();
  private source: PromptSource | undefined;
  private readonly selectedModels = new Map<string, string>();
  private readonly picked: string[] = [];
  /** Hub ids the user agreed to download this session, and those already asked about. */
  private readonly downloads = new Set<string>();
  private readonly downloadsAsked = new Set<string>();
  private readonly generation: Generations;
  private readonly trainingRuns: RunsFollower;
  private readonly probes: ProbeRuns;
  private readonly distill: DistillRuns;
  /** Which recipes are distillations (teacher:), from their text when listed. */
  private distillRecipes = new Set<string>();
  private disposed = false;

  constructor(
    private readonly env: PanelEnv,
    private readonly worker: WorkerLike,
  ) {
    const post = (m: ToPanel) => this.post(m);
    this.generation = new Generations(env, worker, post);
    this.probes = new ProbeRuns(env, worker, post);
    this.distill = new DistillRuns(env, worker, post);
    this.trainingRuns = new RunsFollower(env, post, { live: () => this.ready && !this.disposed, finished: () => this.runFinished() });
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
    if (!this.ready || this.disposed || this.source?.info.file !== file || this.generation.busy) return;
    await this.selectPrompt(file);
  }

  private async applyShow(options: ShowOptions): Promise<void> {
    if (options.file && !this.prompts.has(options.file)) {
      // A prompt file the search did not find (outside the workspace, just created): offer it too.
      this.prompts.set(options.file, this.env.label(options.file));
      await this.sendInit();
    }
    if (options.run) this.trainingRuns.follow(options.run);
    this.post({
      type: 'panel/show',
      tab: options.tab ?? 'compare',
      ...(options.file ? { file: options.file } : {}),
      ...(options.run ? { run: options.run } : {}),
    });
    if (options.file) await this.selectPrompt(options.file, options.autorun, options.caseIndex);
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
      case 'panel/manageTrust':
        await this.env.manageTrust?.();
        return;
      case 'run/start':
        return this.startRun(m);
      case 'run/stop':
        this.generation.stop();
        this.probes.stop();
        return;
      case 'run/openDiff':
        return this.generation.openDiff(m.runId, m.left, m.right);
      case 'snapshot/accept':
        return this.acceptSnapshot(m.runId);
      case 'probes/run': {
        this.requireTrust('run a model');
        this.known(this.prompts, m.file, 'prompt file');
        if (this.generation.busy) throw new Error('a run is still going: stop it first');
        const source = await this.describe(m.file);
        this.source = source;
        return this.probes.run(source, m.model, m.variants);
      }
      case 'probes/stop':
        this.probes.stop();
        return;
      case 'history/load': {
        this.known(this.prompts, m.file, 'prompt file');
        const source = this.source?.info.file === m.file ? this.source : await this.describe(m.file);
        this.post(historyMessage(source, this.env));
        return;
      }
      case 'train/start': {
        this.requireTrust('fine-tune');
        this.known(this.recipes, m.recipe, 'adapter recipe');
        const dir = await this.env.train.start(m.recipe);
        if (!dir) return;
        this.trainingRuns.poll(true);
        this.trainingRuns.follow(dir);
        this.post({ type: 'panel/show', tab: 'train', run: dir });
        return;
      }
      case 'distill/run': {
        this.requireTrust('distill');
        this.known(this.recipes, m.recipe, 'adapter recipe');
        if (!this.distillRecipes.has(m.recipe)) throw new Error('not a distillation recipe: it has no "teacher"');
        return this.distill.run(m.recipe, async (recipe) => {
          const dir = await this.env.train.start(recipe);
          if (!dir) return;
          this.trainingRuns.poll(true);
          this.trainingRuns.follow(dir);
          this.post({ type: 'panel/show', tab: 'train', run: dir });
        });
      }
      case 'distill/compare':
        this.requireTrust('run a model');
        this.known(this.recipes, m.recipe, 'adapter recipe');
        if (!this.distillRecipes.has(m.recipe)) throw new Error('not a distillation recipe: it has no "teacher"');
        return this.distill.compare(m.recipe);
      case 'distill/stop':
        this.distill.stop();
        return;
      case 'distill/new': {
        this.known(this.prompts, m.file, 'prompt file');
        if (!this.env.inWorkspace(m.file)) throw new Error('the prompt file is outside the workspace: the panel writes nowhere else');
        const { prompt } = parsePrompt(await this.env.readDocument(m.file), m.file);
        if (!prompt) throw new Error('the prompt file cannot be read: fix its problems first');
        const variables = [...new Set(prompt.messages.flatMap((x) => variableNames(x.content)))];
        const made = distillStarter(m.file, prompt, variables);
        this.env.log.info(
          `panel: distillation starter for ${this.env.label(m.file)}: ${made.written.map((f) => this.env.label(f)).join(', ') || 'the files existed'}`,
        );
        await this.sendInit();
        this.post({ type: 'distill/select', recipe: made.recipe });
        return this.env.openFile(made.recipe);
      }
      case 'train/select':
        this.trainingRuns.known(m.dir);
        this.trainingRuns.follow(m.dir);
        return;
      case 'train/cancel':
        this.trainingRuns.known(m.dir);
        this.env.train.cancel(m.dir);
        return;
      case 'train/resume':
        this.requireTrust('resume a run');
        this.trainingRuns.known(m.dir);
        this.env.train.resume(m.dir);
        this.trainingRuns.follow(m.dir);
        this.trainingRuns.poll(true);
        return;
      case 'train/reveal':
        this.trainingRuns.known(m.dir);
        return this.env.revealFolder(m.dir);
    }
  }

  private known(map: ReadonlyMap<string, string>, id: string, what: string): void {
    if (!map.has(id)) throw new Error(`unknown ${what}: ${id}`);
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
    this.trainingRuns.poll(true);
    const pending = this.pending;
    this.pending = undefined;
    if (this.source && (!pending?.file || pending.file !== this.source.info.file)) this.post({ type: 'panel/prompt', info: this.source.info });
    this.generation.replayLatest();
    this.probes.replay();
    this.trainingRuns.refollow();
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
    const texts = await Promise.all(recipes.map((f) => this.env.readDocument(f).catch(() => '')));
    this.distillRecipes = new Set(recipes.filter((_, i) => parseRecipe(texts[i]!, recipes[i]).recipe?.distill !== undefined));
    this.post({
      type: 'panel/init',
      version: VERSION,
      trusted: this.env.isTrusted(),
      hasWorkspace: this.env.hasWorkspace(),
      prompts: [...this.prompts].map(([file, label]) => ({ file, label })),
      recipes: [...this.recipes].map(([file, label]) => ({ file, label, ...(this.distillRecipes.has(file) ? { distill: true } : {}) })),
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
      allowDownload: (id) => this.downloads.has(id),
    });
  }

  private async selectPrompt(file: string, autorun?: 'run' | 'compare', caseIndex?: number): Promise<void> {
    this.source = await this.describe(file);
    // A case the file no longer has (edited since the lens was drawn) is not sent: the page keeps its choice.
    const known = caseIndex !== undefined && this.source.info.cases.some((c) => c.index === caseIndex);
    this.post({ type: 'panel/prompt', info: this.source.info, ...(autorun ? { autorun } : {}), ...(known ? { caseIndex } : {}) });
    this.offerDownloads(file, this.source.missingHubModels);
  }

  /**
   * A Hub model the cache lacks is downloaded only with the user's consent, asked once a session per
   * id (the CLI's --download); once given, the prompt is described again with the model on offer.
   */
  private offerDownloads(file: string, ids: readonly string[]): void {
    if (!this.env.askDownload || !this.env.isTrusted()) return;
    for (const id of ids) {
      if (this.downloadsAsked.has(id)) continue;
      this.downloadsAsked.add(id);
      void this.env.askDownload(id).then(
        (yes) => {
          if (!yes || this.disposed) return;
          this.downloads.add(id);
          if (this.source?.info.file === file) void this.selectPrompt(file).catch((e: unknown) => this.env.log.error(`describing ${file}: ${String(e)}`));
        },
        () => undefined,
      );
    }
  }

  private async startRun(req: RunRequest): Promise<void> {
    this.requireTrust('run a model');
    this.known(this.prompts, req.file, 'prompt file');
    if (this.generation.busy || this.probes.busy) throw new Error('a run is still going: stop it first');
    // The file as it is now (the user may have edited it since it was selected).
    const source = await this.describe(req.file);
    this.source = source;
    await this.generation.run(req, source);
  }

  private async acceptSnapshot(runId: string): Promise<void> {
    const run = this.generation.get(runId);
    if (run?.header.mode !== 'matrix') throw new Error('accept the outputs of a matrix run');
    acceptSnapshot(run, this.env, (m) => this.post(m));
    // Its info says whether the snapshot file exists.
    if (this.source?.info.file === run.header.file) await this.selectPrompt(run.header.file);
  }

  /** A run that just finished adds variants to compare: describe the prompt again (not in the middle of a run). */
  private runFinished(): void {
    if (!this.source || this.generation.busy) return;
    void this.selectPrompt(this.source.info.file).catch((e: unknown) =>
      this.env.log.warn(
        `panel: describing ${this.env.label(this.source?.info.file ?? '')} after a run finished: ${e instanceof Error ? e.message : String(e)}`,
      ),
    );
  }

  /** The page went away (panel closed): stop generating for it; training runs go on in their own process. */
  dispose(): void {
    this.disposed = true;
    this.generation.dispose();
    this.probes.stop();
    this.trainingRuns.dispose();
  }
}
