import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { cachedHubModel } from '../../core/models/resolve';
import type { WorkerClient } from '../../worker/client';
import type { Log } from '../log';
import { cacheFolder, dtype, threads, workspacePaths } from '../settings';
import { webviewHtml, webviewOptions } from '../webview/html';
import { Tab } from './protocol';
import { PanelController, type PanelEnv, type ShowOptions } from './controller';

/** What the panel needs of the trainer; main.ts passes training.ts's functions (so the panel does not import it). */
export interface PanelTraining {
  runsFolder(): string | undefined;
  start(recipe: string): Promise<string | undefined>;
  cancel(dir: string): void;
  resume(dir: string): void;
}

/**
 * The run / compare / fine-tune panel in VS Code: one editor-area webview (reopened where it was after
 * a window reload, through a serializer), its controller, and the editor services the controller
 * asks for (files, settings, dialogs, the diff editor, the trainer through training.ts).
 */
import { PANEL_VIEW_TYPE } from '../ids';

export { PANEL_VIEW_TYPE };
const OUTPUT_SCHEME = 'tuneloop-output';

/** Outputs opened in the diff editor: read-only documents held in memory, the latest few. */
class OutputDocuments implements vscode.TextDocumentContentProvider {
  private readonly texts = new Map<string, string>();
  private next = 1;

  add(title: string, text: string): vscode.Uri {
    const uri = vscode.Uri.from({ scheme: OUTPUT_SCHEME, path: `/${this.next++}/${title.replace(/[\\/]/g, '-')}.txt` });
    this.texts.set(uri.toString(), text);
    while (this.texts.size > 40) this.texts.delete(this.texts.keys().next().value!);
    return uri;
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '(this output is no longer kept: run it again)';
  }
}

const EXCLUDE = '{**/node_modules/**,**/.tuneloop/**,**/.git/**}';

export class TuneloopPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private controller: PanelController | undefined;
  private readonly outputs = new OutputDocuments();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: Log,
    private readonly worker: WorkerClient,
    /** The trainer, as main.ts wires it (training.ts): the panel starts, cancels and resumes runs through it. */
    private readonly training: PanelTraining,
  ) {
    this.disposables.push(
      vscode.workspace.registerTextDocumentContentProvider(OUTPUT_SCHEME, this.outputs),
      vscode.workspace.onDidGrantWorkspaceTrust(() => void this.controller?.receive({ type: 'panel/ready' })),
      vscode.workspace.onDidSaveTextDocument((d) => {
        if (d.uri.scheme === 'file' && /\.prompt\.ya?ml$/.test(d.uri.fsPath))
          void this.controller?.fileSaved(d.uri.fsPath).catch((e: unknown) => this.log.warn(`panel: ${String(e)}`));
      }),
    );
    const watcher = vscode.workspace.createFileSystemWatcher('**/*.{prompt,adapter}.{yml,yaml}', false, true, false);
    const changed = () => void this.controller?.filesChanged().catch((e: unknown) => this.log.warn(`panel: ${String(e)}`));
    this.disposables.push(watcher, watcher.onDidCreate(changed), watcher.onDidDelete(changed));
  }

  /**
   * After a window reload VS Code gives the panel back (main.ts's serializer, registered while the
   * extension activates, hands it here once this module has loaded): the page asks for its state again.
   */
  async revive(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    this.adopt(panel);
    const s = state as { tab?: unknown; file?: unknown } | undefined;
    const tab = Tab.safeParse(s?.tab);
    const file = typeof s?.file === 'string' && fs.existsSync(s.file) ? s.file : undefined;
    await this.controller?.show({ ...(tab.success ? { tab: tab.data } : {}), ...(file ? { file } : {}) });
  }

  /** Opens (or reveals) the panel; `options` selects a tab, a prompt file, and whether to run at once. */
  async open(options: ShowOptions = {}): Promise<void> {
    if (!this.panel) {
      const panel = vscode.window.createWebviewPanel(
        PANEL_VIEW_TYPE,
        'Tuneloop',
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false },
        { ...webviewOptions(this.extensionUri), retainContextWhenHidden: false },
      );
      this.adopt(panel);
    } else this.panel.reveal(undefined, false);
    await this.controller!.show(options);
  }

  private adopt(panel: vscode.WebviewPanel): void {
    this.controller?.dispose();
    this.panel = panel;
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'tuneloop.svg');
    panel.webview.options = webviewOptions(this.extensionUri);
    panel.webview.html = webviewHtml(panel.webview, this.extensionUri, 'Tuneloop', 'panel');
    const controller = new PanelController(this.env(panel), this.worker);
    this.controller = controller;
    const sub = panel.webview.onDidReceiveMessage((m: unknown) => void controller.receive(m));
    panel.onDidDispose(() => {
      sub.dispose();
      controller.dispose();
      if (this.panel === panel) {
        this.panel = undefined;
        this.controller = undefined;
      }
    });
  }

  private env(panel: vscode.WebviewPanel): PanelEnv {
    const log = this.log;
    const training = this.training;
    const outputs = this.outputs;
    return {
      post: (m) => void panel.webview.postMessage(m).then(undefined, () => undefined),
      isTrusted: () => vscode.workspace.isTrusted,
      paths: (file) => workspacePaths(file),
      hasWorkspace: () => (vscode.workspace.workspaceFolders?.length ?? 0) > 0,
      runsFolder: () => training.runsFolder(),
      async findFiles(kind) {
        const glob = kind === 'prompt' ? '**/*.prompt.{yml,yaml}' : '**/*.adapter.{yml,yaml}';
        return (await vscode.workspace.findFiles(glob, EXCLUDE, 1000)).filter((u) => u.scheme === 'file').map((u) => u.fsPath);
      },
      async readDocument(file) {
        const open = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === file);
        return open ? open.getText() : fs.promises.readFile(file, 'utf8');
      },
      settings: () => ({
        defaultModel: vscode.workspace.getConfiguration('tuneloop').get<string>('defaultModel', ''),
        settingBase: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
        threads: threads(),
        cacheDir: cacheFolder(),
        dtype: dtype(),
      }),
      cachedHubModel: (id) => cachedHubModel(id),
      askDownload: async (id) =>
        (await vscode.window.showInformationMessage(
          `Tuneloop: ${id} is not in the Hugging Face cache. Download it from the Hub when you run the prompt? (It needs network access once.)`,
          'Allow Download',
        )) === 'Allow Download',
      inWorkspace: (p) => vscode.workspace.getWorkspaceFolder(vscode.Uri.file(p)) !== undefined,
      label: (p) => {
        const rel = vscode.workspace.asRelativePath(p, false);
        return rel === p ? p : rel.split(path.sep).join('/');
      },
      async pickFolder() {
        const picked = await vscode.window.showOpenDialog({
          canSelectFolders: true,
          canSelectFiles: false,
          openLabel: 'Use this model',
          title: 'Tuneloop: a model folder (Hugging Face checkpoint or transformers.js export)',
        });
        return picked?.[0]?.fsPath;
      },
      async openDiff(left, right, title) {
        await vscode.commands.executeCommand('vscode.diff', outputs.add(left.title, left.text), outputs.add(right.title, right.text), title, {
          preview: true,
          viewColumn: vscode.ViewColumn.Active,
        });
      },
      async openFile(file) {
        await vscode.window.showTextDocument(vscode.Uri.file(file), { viewColumn: vscode.ViewColumn.One });
      },
      async revealFolder(dir) {
        await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(dir));
      },
      async manageTrust() {
        await vscode.commands.executeCommand('workbench.trust.manage');
      },
      train: {
        start: (recipe) => training.start(recipe),
        cancel: (dir) => training.cancel(dir),
        resume: (dir) => training.resume(dir),
      },
      log: { info: (m) => log.info(m), warn: (m) => log.warn(m), error: (m) => log.error(m), debug: (m) => log.debug(m) },
    };
  }

  dispose(): void {
    this.controller?.dispose();
    this.panel?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

/** The prompt file a command is about: its argument (the CodeLens passes the URI), else the active editor's. */
export function promptFileOf(arg: unknown): string | undefined {
  const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
  return uri && uri.scheme === 'file' && /\.prompt\.ya?ml$/.test(uri.fsPath) ? uri.fsPath : undefined;
}
