import type * as vscode from 'vscode';
import type { Log } from '../log';
import { toCodeLens, toCompletionItem, toHover } from './convert';
import { guarded } from './guard';
import { languageOf } from './languages';

/**
 * Completion, hover and CodeLens: each asks the document's language (languages.ts) and converts
 * the answer. The core memoises its parse by text, so the three share one parse per version.
 */

/** Characters that open completion: `{` for `{{variables}}`, `:` and ` ` for values and list items. */
export const TRIGGER_CHARACTERS = ['{', ':', ' '] as const;

export class CompletionProvider implements vscode.CompletionItemProvider {
  constructor(private readonly log: Log) {}

  provideCompletionItems(
    doc: vscode.TextDocument,
    position: vscode.Position,
    _token: vscode.CancellationToken,
    context: vscode.CompletionContext,
  ): vscode.CompletionItem[] {
    const core = languageOf(doc);
    if (!core) return [];
    return guarded(this.log, 'completion', [], () =>
      core.completions(doc.getText(), doc.offsetAt(position), context.triggerCharacter).map((e) => toCompletionItem(doc, e)),
    );
  }
}

export class HoverProvider implements vscode.HoverProvider {
  constructor(private readonly log: Log) {}

  provideHover(doc: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const core = languageOf(doc);
    if (!core) return undefined;
    return guarded(this.log, 'hover', undefined, () => {
      const h = core.hover(doc.getText(), doc.offsetAt(position));
      return h ? toHover(doc, h) : undefined;
    });
  }
}

export class LensProvider implements vscode.CodeLensProvider {
  constructor(private readonly log: Log) {}

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    const core = languageOf(doc);
    if (!core) return [];
    return guarded(this.log, 'CodeLens', [], () => core.lenses(doc.getText()).map((l) => toCodeLens(doc, l)));
  }
}
