import * as vscode from 'vscode';
import { quickFixes } from '../../core/yaml/fixes';
import type { Log } from '../log';
import { guarded } from './guard';

/**
 * Quick fixes for Tuneloop's own diagnostics (core/yaml/fixes.ts): the "did you mean" replacement of
 * a key or value, and an evaluator for a test value `expected` that nothing uses.
 */
export class QuickFixProvider implements vscode.CodeActionProvider {
  static readonly kinds = [vscode.CodeActionKind.QuickFix];

  constructor(private readonly log: Log) {}

  provideCodeActions(doc: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): vscode.CodeAction[] {
    return guarded(this.log, 'quick fixes', [], () =>
      context.diagnostics
        .filter((d) => d.source === 'tuneloop')
        .flatMap((d) =>
          quickFixes(doc.getText(), { code: String(d.code ?? ''), message: d.message, start: doc.offsetAt(d.range.start), end: doc.offsetAt(d.range.end) }).map(
            (f) => {
              const action = new vscode.CodeAction(f.title, vscode.CodeActionKind.QuickFix);
              action.diagnostics = [d];
              action.isPreferred = f.preferred === true;
              action.edit = new vscode.WorkspaceEdit();
              for (const e of f.edits) action.edit.replace(doc.uri, new vscode.Range(doc.positionAt(e.start), doc.positionAt(e.end)), e.text);
              return action;
            },
          ),
        ),
    );
  }
}
