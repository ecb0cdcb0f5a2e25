import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { cachedHubModel } from '../../core/models/resolve';
import { resolvePreviewModel, type PreviewModel } from '../../core/prompts/preview-model';
import type { WorkerClient } from '../../worker/client';
import type { Log } from '../log';
import { previewText } from './previewText';

/**
 * The rendered-prompt preview: a read-only Markdown document beside the prompt, showing each test
 * case's messages with the values filled in, the exact text the model sees through its chat
 * template, and the token count. The chat template needs transformers.js, which the extension host
 * never loads (its bundle stays light): the worker renders it (request `renderPrompt`).
 *
 * The preview's URI names its source, `tuneloop-preview:<source path>.preview.md?<source URI>`, so
 * it is a Markdown document, and the command shows it in VS Code's own Markdown preview (rendered, not
 * the source; its editor is where the text is when the Markdown extension is disabled). The Markdown
 * preview reads the document again when it changes or is opened again, so a preview is kept up to date
 * as long as its source is open, whether or not VS Code still holds the preview's document.
 */
export const PREVIEW_SCHEME = 'tuneloop-preview';

export function previewUri(source: vscode.Uri): vscode.Uri {
  return vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: `${source.path}.preview.md`, query: source.toString() });
}

export function sourceOf(preview: vscode.Uri): vscode.Uri {
  return vscode.Uri.parse(preview.query, true);
}

/** How long the preview waits after the last keystroke in its source before rendering again. */
const REFRESH_MS = 300;

/**
 * The provider registered for the scheme, for the command to reach (as VS Code's own registry
 * would); set while a PreviewProvider lives.
 */
let registered: PreviewProvider | undefined;

export class PreviewProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  /** The text of each open preview, by its URI string: what VS Code gets when it asks again. */
  private readonly contents = new Map<string, string>();
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    private readonly log: Log,
    private readonly worker: WorkerClient,
  ) {
    this.subscriptions = [
      vscode.workspace.onDidChangeTextDocument((e) => this.schedule(previewUri(e.document.uri))),
      // VS Code closes a document no editor shows after a few minutes, the rendered Markdown preview's
      // included: the preview is forgotten when its source closes instead.
      vscode.workspace.onDidCloseTextDocument((d) => {
        if (d.uri.scheme !== PREVIEW_SCHEME) this.contents.delete(previewUri(d.uri).toString());
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('tuneloop.defaultModel')) for (const u of this.contents.keys()) void this.refresh(vscode.Uri.parse(u, true));
      }),
    ];
    registered = this;
  }

  private schedule(preview: vscode.Uri): void {
    const key = preview.toString();
    if (!this.contents.has(key)) return;
    clearTimeout(this.pending.get(key));
    this.pending.set(
      key,
      setTimeout(() => {
        this.pending.delete(key);
        void this.refresh(preview);
      }, REFRESH_MS),
    );
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    return this.contents.get(uri.toString()) ?? (await this.refresh(uri, false));
  }

  /** Renders the preview again and, when it is open, tells VS Code that its text changed. */
  async refresh(uri: vscode.Uri, notify = true): Promise<string> {
    let text: string;
    try {
      text = await this.render(sourceOf(uri));
    } catch (e) {
      // Never an exception into the editor: the preview says what went wrong instead.
      const message = e instanceof Error ? e.message : String(e);
      this.log.error(`preview of ${uri.query}: ${message}`);
      text = `# Preview\n\nThe preview failed: ${message}\n`;
    }
    const key = uri.toString();
    // A preview closed while it rendered stays closed; the first render is what opens it.
    if (notify && !this.contents.has(key)) return text;
    this.contents.set(key, text);
    if (notify) {
      // An open document hears of the change; a closed one is opened again, which the Markdown preview hears.
      if (vscode.workspace.textDocuments.some((d) => d.uri.toString() === key)) this.changed.fire(uri);
      else await vscode.workspace.openTextDocument(uri);
    }
    return text;
  }

  private async render(source: vscode.Uri): Promise<string> {
    const doc = await vscode.workspace.openTextDocument(source);
    return previewText({
      file: source.scheme === 'file' ? source.fsPath : source.path,
      text: doc.getText(),
      trusted: vscode.workspace.isTrusted,
      resolveModel: (promptModel) => this.model(promptModel, source),
      renderPrompt: (model, conversations) => this.worker.request('renderPrompt', { model, conversations }),
    });
  }

  /** The model whose chat template the preview uses; previewText asks only in a trusted workspace. */
  private model(promptModel: string | undefined, source: vscode.Uri): PreviewModel {
    return resolvePreviewModel({
      promptModel,
      promptFile: source.scheme === 'file' ? source.fsPath : undefined,
      setting: vscode.workspace.getConfiguration('tuneloop').get<string>('defaultModel', ''),
      settingBase: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
      cachedHubModel: (id) => cachedHubModel(id),
      isDirectory: (p) => {
        try {
          return fs.statSync(p).isDirectory();
        } catch {
          return false;
        }
      },
    });
  }

  dispose(): void {
    if (registered === this) registered = undefined;
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
    for (const s of this.subscriptions) s.dispose();
    this.changed.dispose();
  }
}

/**
 * The `tuneloop.previewPrompt` command: opens the preview of the given prompt file (the CodeLens
 * passes its URI), of the active editor's, or of the prompt behind an active preview. Returns the
 * preview's URI and text, for tests and other callers of executeCommand.
 */
export async function openPreview(arg: unknown): Promise<{ uri: string; text: string } | undefined> {
  const active = vscode.window.activeTextEditor?.document.uri;
  const source = arg instanceof vscode.Uri ? arg : active?.scheme === PREVIEW_SCHEME ? sourceOf(active) : active;
  if (!source) {
    void vscode.window.showInformationMessage('Tuneloop: open a prompt file (NAME.prompt.yml) to preview it.');
    return undefined;
  }
  const uri = previewUri(source);
  // An open preview keeps its text until its provider says otherwise: render it afresh first.
  const text = vscode.workspace.textDocuments.some((d) => d.uri.toString() === uri.toString()) ? await registered?.refresh(uri) : undefined;
  const doc = await vscode.workspace.openTextDocument(uri);
  const shown = await vscode.commands.executeCommand('markdown.showPreviewToSide', uri).then(
    () => true,
    () => false,
  );
  // Without VS Code's Markdown extension (disabled), the Markdown text in an editor.
  if (!shown) await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: true });
  return { uri: uri.toString(), text: text ?? doc.getText() };
}
