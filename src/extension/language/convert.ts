import * as vscode from 'vscode';
import type { Diagnostic, DiagnosticCode, Severity } from '../../core/yaml/diagnostic';
import type { CompletionEntry, CompletionKind, HoverInfo, LensSpec, TextRange } from '../../core/yaml/editor';
import { LENS_COMMANDS } from './lens-commands';

/** The core's plain data (offsets, 1-based lines, snippet text) as VS Code objects. */

const SEVERITY: { readonly [S in Severity]: vscode.DiagnosticSeverity } = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  info: vscode.DiagnosticSeverity.Information,
};

/** Codes whose text the editor fades: the value is there but nothing uses it. */
const TAGS: { readonly [C in DiagnosticCode]?: readonly vscode.DiagnosticTag[] } = {
  'unused-variable': [vscode.DiagnosticTag.Unnecessary],
};

const COMPLETION_KIND: { readonly [K in CompletionKind]: vscode.CompletionItemKind } = {
  variable: vscode.CompletionItemKind.Variable,
  key: vscode.CompletionItemKind.Property,
  value: vscode.CompletionItemKind.EnumMember,
};

export function toRange(doc: vscode.TextDocument, r: TextRange): vscode.Range {
  return new vscode.Range(doc.positionAt(r.start), doc.positionAt(r.end));
}

export function toDiagnostic(doc: vscode.TextDocument, d: Diagnostic): vscode.Diagnostic {
  let range = doc.validateRange(new vscode.Range(Math.max(0, d.line - 1), Math.max(0, d.column - 1), Math.max(0, d.endLine - 1), Math.max(0, d.endColumn - 1)));
  // Some problems have no width (a key missing from the file): mark the line's text so it shows.
  if (range.isEmpty) {
    const line = doc.lineAt(range.start.line);
    range = line.isEmptyOrWhitespace
      ? line.range
      : new vscode.Range(line.lineNumber, line.firstNonWhitespaceCharacterIndex, line.lineNumber, line.range.end.character);
  }
  const out = new vscode.Diagnostic(range, d.message, SEVERITY[d.severity]);
  out.source = 'tuneloop';
  out.code = d.code;
  const tags = TAGS[d.code];
  if (tags) out.tags = [...tags];
  return out;
}

export function toCompletionItem(doc: vscode.TextDocument, e: CompletionEntry): vscode.CompletionItem {
  const item = new vscode.CompletionItem(e.label, COMPLETION_KIND[e.kind]);
  item.insertText = new vscode.SnippetString(e.snippet);
  item.range = toRange(doc, e.range);
  if (e.detail !== undefined) item.detail = e.detail;
  if (e.documentation !== undefined) item.documentation = new vscode.MarkdownString(e.documentation);
  if (e.sortText !== undefined) item.sortText = e.sortText;
  if (e.retrigger) item.command = { command: 'editor.action.triggerSuggest', title: 'Suggest' };
  return item;
}

export function toHover(doc: vscode.TextDocument, h: HoverInfo): vscode.Hover {
  return new vscode.Hover(new vscode.MarkdownString(h.markdown), toRange(doc, h.range));
}

export function toCodeLens(doc: vscode.TextDocument, l: LensSpec): vscode.CodeLens {
  const at = doc.positionAt(l.offset);
  return new vscode.CodeLens(new vscode.Range(at, at), {
    title: l.title,
    tooltip: l.tooltip,
    command: LENS_COMMANDS[l.action],
    arguments: l.caseIndex === undefined ? [doc.uri] : [doc.uri, l.caseIndex],
  });
}
