import * as vscode from 'vscode';
import type { Log } from '../log';
import { workspacePaths } from '../settings';
import { toDiagnostic } from './convert';
import { guarded } from './guard';
import { diskPath, languageOf } from './languages';

/**
 * Documents that get diagnostics: files and unsaved editors. Others with the same language (the
 * `git:` side of a diff, say) would list the same problems twice in the Problems panel.
 */
const SCHEMES = new Set(['file', 'untitled']);

/**
 * Live diagnostics for Tuneloop documents: computed on open and save at once, on change after a
 * pause in typing (so a 1,000-line file is not parsed on every keystroke), and cleared on close.
 * A language change reaches here as close + open, which moves a document in or out.
 */
export class DiagnosticsController implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('tuneloop');
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    private readonly log: Log,
    private readonly delayMs = 150,
  ) {
    this.subscriptions = [
      vscode.workspace.onDidOpenTextDocument((d) => this.update(d)),
      vscode.workspace.onDidChangeTextDocument((e) => this.schedule(e.document)),
      vscode.workspace.onDidSaveTextDocument((d) => this.update(d)),
      vscode.workspace.onDidCloseTextDocument((d) => this.forget(d.uri)),
    ];
    for (const d of vscode.workspace.textDocuments) this.update(d);
  }

  private schedule(doc: vscode.TextDocument): void {
    if (!languageOf(doc) || !SCHEMES.has(doc.uri.scheme)) return;
    const key = doc.uri.toString();
    clearTimeout(this.pending.get(key));
    this.pending.set(
      key,
      setTimeout(() => {
        this.pending.delete(key);
        // The document may have been closed meanwhile; its diagnostics are gone then and stay so.
        if (!doc.isClosed) this.update(doc);
      }, this.delayMs),
    );
  }

  private update(doc: vscode.TextDocument): void {
    const core = languageOf(doc);
    if (!core || !SCHEMES.has(doc.uri.scheme)) return;
    clearTimeout(this.pending.get(doc.uri.toString()));
    const diagnostics = guarded(this.log, `diagnostics of ${doc.uri.fsPath}`, [], () => {
      const file = diskPath(doc);
      return core.diagnostics(doc.getText(), file, file ? workspacePaths(file) : undefined).map((d) => toDiagnostic(doc, d));
    });
    this.collection.set(doc.uri, diagnostics);
  }

  private forget(uri: vscode.Uri): void {
    const key = uri.toString();
    clearTimeout(this.pending.get(key));
    this.pending.delete(key);
    this.collection.delete(uri);
  }

  dispose(): void {
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
    for (const s of this.subscriptions) s.dispose();
    this.collection.dispose();
  }
}
