import * as vscode from 'vscode';
import { VERSION } from '../core/version';
import { HOME_VIEW_ID } from './ids';
import type { Log } from './log';
import { webviewHtml, webviewOptions } from './webview/html';
import { FromHome, type ToHome } from './webview/home-protocol';
import { describeInvalid } from './webview/invalid';

type FileKind = 'prompt' | 'adapter';

function findKind(kind: FileKind): Thenable<vscode.Uri[]> {
  return vscode.workspace.findFiles(`**/*.${kind}.{yml,yaml}`, '{**/node_modules/**,**/.tuneloop/**}', 1000);
}

/** The Home view in the Tuneloop activity bar: what to do first, and what the workspace holds. */
export class HomeViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly id = HOME_VIEW_ID;
  private view: vscode.WebviewView | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: Log,
  ) {
    this.disposables.push(vscode.workspace.onDidGrantWorkspaceTrust(() => void this.pushState()));
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = webviewOptions(this.extensionUri);
    view.webview.html = webviewHtml(view.webview, this.extensionUri, 'Tuneloop', 'home');
    this.disposables.push(
      view.webview.onDidReceiveMessage((raw: unknown) => {
        const parsed = FromHome.safeParse(raw);
        if (!parsed.success) {
          this.log.warn(`home view: ignored an invalid message: ${describeInvalid(parsed.error)}`);
          return;
        }
        const m = parsed.data;
        if (m.type === 'ready') void this.pushState();
        else if (m.type === 'showFiles') void this.pickFile(m.kind);
        else void vscode.commands.executeCommand(m.command);
      }),
      view.onDidDispose(() => {
        this.view = undefined;
      }),
    );
  }

  private async pushState(): Promise<void> {
    if (!this.view) return;
    const [prompts, adapters] = await Promise.all([findKind('prompt'), findKind('adapter')]);
    const state: ToHome = {
      type: 'state',
      version: VERSION,
      trusted: vscode.workspace.isTrusted,
      hasWorkspace: (vscode.workspace.workspaceFolders?.length ?? 0) > 0,
      promptFiles: prompts.length,
      adapterRecipes: adapters.length,
    };
    await this.view.webview.postMessage(state);
  }

  /** The files a count stands for, in a quick pick; the one picked opens in the editor. */
  private async pickFile(kind: FileKind): Promise<void> {
    const files = (await findKind(kind)).sort((a, b) => vscode.workspace.asRelativePath(a).localeCompare(vscode.workspace.asRelativePath(b)));
    const picked = await vscode.window.showQuickPick(
      files.map((uri) => ({ label: vscode.workspace.asRelativePath(uri), uri })),
      { title: kind === 'prompt' ? 'Prompt files in this workspace' : 'Adapter recipes in this workspace', placeHolder: 'Pick one to open' },
    );
    if (picked) await vscode.window.showTextDocument(picked.uri);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
