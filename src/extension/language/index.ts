import * as vscode from 'vscode';
import type { WorkerClient } from '../../worker/client';
import type { Log } from '../log';
import { DiagnosticsController } from './diagnostics';
import { QuickFixProvider } from './fixes';
import { SELECTOR } from './languages';
import { PREVIEW_SCHEME, PreviewProvider } from './preview';
import { CompletionProvider, HoverProvider, LensProvider, TRIGGER_CHARACTERS } from './providers';

export { openPreview } from './preview';

/**
 * Editor support for prompt files (`tuneloop-prompt`) and adapter recipes (`tuneloop-adapter`):
 * live diagnostics with quick fixes, completion, hover, CodeLens and the rendered-prompt preview. The returned
 * object owns every registration; disposing it (with the extension) removes them all.
 */
export class LanguageFeatures implements vscode.Disposable {
  private readonly owned: vscode.Disposable[];

  constructor(log: Log, worker: WorkerClient) {
    const preview = new PreviewProvider(log, worker);
    this.owned = [
      new DiagnosticsController(log),
      vscode.languages.registerCompletionItemProvider(SELECTOR, new CompletionProvider(log), ...TRIGGER_CHARACTERS),
      vscode.languages.registerHoverProvider(SELECTOR, new HoverProvider(log)),
      vscode.languages.registerCodeLensProvider(SELECTOR, new LensProvider(log)),
      vscode.languages.registerCodeActionsProvider(SELECTOR, new QuickFixProvider(log), { providedCodeActionKinds: QuickFixProvider.kinds }),
      preview,
      vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, preview),
    ];
  }

  dispose(): void {
    // Registrations before the objects they call into.
    for (const d of [...this.owned].reverse()) d.dispose();
  }
}

export function registerLanguageFeatures(context: vscode.ExtensionContext, log: Log, worker: WorkerClient): void {
  context.subscriptions.push(new LanguageFeatures(log, worker));
}
