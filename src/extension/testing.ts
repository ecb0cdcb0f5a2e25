import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { chooseDtype } from '../core/compare/variants';
import { cachedHubModel } from '../core/models/resolve';
import type { WorkerClient } from '../worker/client';
import type { Log } from './log';
import { describePrompt, type PromptSource } from './panel/sources';
import { cacheFolder, dtype, threads, workspacePaths } from './settings';
import { runTests, type TestOutcome } from './test-runs';

/**
 * The Testing view: each prompt file's test cases × variants as tests (file → case → variant), run
 * from VS Code's Testing view or the gutter like unit tests. A run goes to the worker's matrix
 * (test-runs.ts); a failure carries `expected` and the output, so VS Code's own diff opens on it;
 * evaluator failures and regressions against the base are its messages. Not offered in an untrusted
 * workspace: the controller is made when the workspace is trusted.
 */
const EXCLUDE = '{**/node_modules/**,**/.tuneloop/**,**/.git/**}';

interface Leaf {
  readonly file: string;
  readonly caseIndex: number;
  readonly variantId: string;
  readonly item: vscode.TestItem;
}

export class TestExplorer implements vscode.Disposable {
  private readonly ctrl: vscode.TestController;
  private readonly disposables: vscode.Disposable[] = [];
  /** Leaves by test item id. */
  private readonly leaves = new Map<string, Leaf>();

  constructor(
    private readonly log: Log,
    private readonly worker: WorkerClient,
    private readonly runsFolder: () => string | undefined,
  ) {
    this.ctrl = vscode.tests.createTestController('tuneloop', 'Tuneloop');
    this.ctrl.resolveHandler = async (item) => {
      if (!item) await this.discover();
      else await this.resolveFile(item);
    };
    this.ctrl.refreshHandler = () => this.discover();
    this.ctrl.createRunProfile('Run', vscode.TestRunProfileKind.Run, (request, token) => this.run(request, token), true);
    const watcher = vscode.workspace.createFileSystemWatcher('**/*.prompt.{yml,yaml}', false, true, false);
    this.disposables.push(
      this.ctrl,
      watcher,
      watcher.onDidCreate(() => void this.discover()),
      watcher.onDidDelete((u) => this.ctrl.items.delete(u.fsPath)),
      vscode.workspace.onDidSaveTextDocument((d) => {
        const item = this.ctrl.items.get(d.uri.fsPath);
        if (item) void this.resolveFile(item);
      }),
    );
  }

  private async discover(): Promise<void> {
    const files = (await vscode.workspace.findFiles('**/*.prompt.{yml,yaml}', EXCLUDE, 1000)).filter((u) => u.scheme === 'file');
    const items = files.map((u) => {
      const item = this.ctrl.items.get(u.fsPath) ?? this.ctrl.createTestItem(u.fsPath, vscode.workspace.asRelativePath(u, false), u);
      item.canResolveChildren = true;
      return item;
    });
    this.ctrl.items.replace(items);
  }

  private async describe(file: string): Promise<PromptSource> {
    const open = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === file);
    const text = open ? open.getText() : await fs.promises.readFile(file, 'utf8');
    return describePrompt(file, text, {
      defaultModel: vscode.workspace.getConfiguration('tuneloop').get<string>('defaultModel', ''),
      settingBase: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
      runsFolder: this.runsFolder(),
      picked: [],
      selectedModel: undefined,
      cachedHubModel: (id) => cachedHubModel(id),
      label: (p) => vscode.workspace.asRelativePath(p, false),
      paths: workspacePaths(file),
    });
  }

  /** A file's cases and, under each, the variants the file lists that can run (base and its adapters). */
  private async resolveFile(item: vscode.TestItem): Promise<PromptSource | undefined> {
    const file = item.id;
    let source: PromptSource;
    try {
      source = await this.describe(file);
    } catch (e) {
      item.error = e instanceof Error ? e.message : String(e);
      return undefined;
    }
    item.error = source.info.problems.length ? `The prompt file has problems: ${source.info.problems[0]}` : undefined;
    const uri = vscode.Uri.file(file);
    const text = source.text;
    const lineOf = (offset: number) => text.slice(0, offset).split('\n').length - 1;
    const variants = source.info.variants.filter((v) => v.listed && v.available);
    for (const id of [...this.leaves.keys()]) if (this.leaves.get(id)!.file === file) this.leaves.delete(id);
    const cases = source.info.cases.map((c) => {
      const caseItem = this.ctrl.createTestItem(`${file}#${c.index}`, c.label, uri);
      const span = source.prompt?.testData?.[c.index]?.span;
      if (span) caseItem.range = new vscode.Range(lineOf(span.start), 0, lineOf(span.start), 0);
      caseItem.children.replace(
        variants.map((v) => {
          const leaf = this.ctrl.createTestItem(`${file}#${c.index}#${v.id}`, v.name, uri);
          leaf.range = caseItem.range;
          leaf.description = v.kind;
          this.leaves.set(leaf.id, { file, caseIndex: c.index, variantId: v.id, item: leaf });
          return leaf;
        }),
      );
      return caseItem;
    });
    item.children.replace(cases);
    item.canResolveChildren = false;
    return source;
  }

  /** The leaves a request asks for (whole files and cases expand to their variants), less those it excludes. */
  private async leavesOf(request: vscode.TestRunRequest): Promise<Leaf[]> {
    if (!request.include) await this.discover();
    const roots = request.include ?? [...this.iterate(this.ctrl.items)];
    const excluded = new Set((request.exclude ?? []).map((x) => x.id));
    const out: Leaf[] = [];
    const visit = async (item: vscode.TestItem): Promise<void> => {
      if (excluded.has(item.id)) return;
      if (item.canResolveChildren) await this.resolveFile(item);
      const leaf = this.leaves.get(item.id);
      if (leaf) {
        out.push(leaf);
        return;
      }
      for (const child of this.iterate(item.children)) await visit(child);
    };
    for (const r of roots) await visit(r);
    return out;
  }

  private *iterate(collection: vscode.TestItemCollection): Iterable<vscode.TestItem> {
    const items: vscode.TestItem[] = [];
    collection.forEach((i) => items.push(i));
    yield* items;
  }

  private async run(request: vscode.TestRunRequest, token: vscode.CancellationToken): Promise<void> {
    const run = this.ctrl.createTestRun(request);
    const abort = new AbortController();
    const sub = token.onCancellationRequested(() => abort.abort());
    try {
      const leaves = await this.leavesOf(request);
      for (const l of leaves) run.enqueued(l.item);
      const byFile = new Map<string, Leaf[]>();
      for (const l of leaves) byFile.set(l.file, [...(byFile.get(l.file) ?? []), l]);
      for (const [file, fileLeaves] of byFile) {
        if (abort.signal.aborted) break;
        const source = await this.describe(file);
        const model = source.info.model;
        if (!model) {
          for (const l of fileLeaves)
            run.errored(l.item, new vscode.TestMessage(source.info.modelNote ?? 'no model to run: set tuneloop.defaultModel or the prompt’s model'));
          continue;
        }
        const leafOf = new Map(fileLeaves.map((l) => [`${l.variantId}\n${l.caseIndex}`, l]));
        this.log.info(`testing: ${fileLeaves.length} test(s) of ${path.basename(file)}`);
        const counts = { passed: 0, failed: 0, errored: 0 };
        const began = Date.now();
        await runTests(this.worker, {
          source,
          model,
          cells: fileLeaves.map((l) => ({ caseIndex: l.caseIndex, variantId: l.variantId })),
          // The dtype rule the panel and the CLI follow (the prompt's, else the setting's).
          settings: {
            cacheDir: cacheFolder(),
            threads: threads() || undefined,
            dtype: source.prompt ? chooseDtype(source.prompt, { setting: dtype() }).dtype : dtype(),
          },
          signal: abort.signal,
          started: (v, i) => {
            const l = leafOf.get(`${v}\n${i}`);
            if (l) run.started(l.item);
          },
          finished: (v, i, outcome) => {
            const l = leafOf.get(`${v}\n${i}`);
            if (!l) return;
            counts[outcome.kind]++;
            report(run, l.item, outcome);
          },
        });
        this.log.info(
          `testing: ${path.basename(file)}: ${counts.passed} passed, ${counts.failed} failed, ${counts.errored} errored in ${((Date.now() - began) / 1000).toFixed(1)} s`,
        );
      }
    } catch (e) {
      this.log.error(`testing: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    } finally {
      sub.dispose();
      run.end();
    }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

function report(run: vscode.TestRun, item: vscode.TestItem, o: TestOutcome): void {
  if (o.kind === 'errored') {
    run.errored(item, new vscode.TestMessage(o.message));
    return;
  }
  run.appendOutput(`${o.output}\r\n`, undefined, item);
  if (o.kind === 'passed') run.passed(item, o.durationMs);
  else
    run.failed(
      item,
      o.messages.map((m) =>
        m.expected !== undefined && m.actual !== undefined ? vscode.TestMessage.diff(m.message, m.expected, m.actual) : new vscode.TestMessage(m.message),
      ),
      o.durationMs,
    );
}

/** The Testing view, once the workspace is trusted (at once, or when trust is granted). */
export function registerTestExplorer(log: Log, worker: WorkerClient, runsFolder: () => string | undefined): vscode.Disposable {
  let explorer: TestExplorer | undefined;
  const make = () => {
    explorer ??= new TestExplorer(log, worker, runsFolder);
  };
  if (vscode.workspace.isTrusted) make();
  const sub = vscode.workspace.onDidGrantWorkspaceTrust(make);
  return { dispose: () => (sub.dispose(), explorer?.dispose()) };
}
