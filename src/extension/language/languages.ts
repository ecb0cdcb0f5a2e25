import type * as vscode from 'vscode';
import type { PathCheckOptions } from '../../core/prompts/check';
import { completionsAt } from '../../core/prompts/completion';
import { promptDiagnostics } from '../../core/prompts/diagnostics';
import { hoverAt } from '../../core/prompts/hover';
import { codeLensesFor } from '../../core/prompts/lenses';
import type { Diagnostic } from '../../core/yaml/diagnostic';
import type { CompletionEntry, HoverInfo, LensSpec } from '../../core/yaml/editor';
import { recipeCodeLenses, recipeCompletionsAt, recipeDiagnostics, recipeHoverAt } from '../../core/recipes/language';

/**
 * The languages Tuneloop serves and, for each, the editor-independent functions behind every
 * feature. Providers look the document's language up here instead of branching on it, so adding a
 * language (or a feature) is one row.
 */
export interface LanguageCore {
  /**
   * `file` is the path on disk, undefined for unsaved documents (no file-system checks then); `paths`
   * the path rule's root (the workspace folder) and trusted folders (core/fs/root.ts).
   */
  diagnostics(text: string, file: string | undefined, paths?: PathCheckOptions): Diagnostic[];
  completions(text: string, offset: number, trigger: string | undefined): CompletionEntry[];
  hover(text: string, offset: number): HoverInfo | undefined;
  lenses(text: string): LensSpec[];
}

export const LANGUAGES = {
  'tuneloop-prompt': {
    diagnostics: (text, file, paths) => promptDiagnostics(text, file, undefined, paths),
    completions: completionsAt,
    hover: hoverAt,
    lenses: codeLensesFor,
  },
  'tuneloop-adapter': {
    diagnostics: (text, file, paths) => recipeDiagnostics(text, file, undefined, paths),
    completions: recipeCompletionsAt,
    hover: recipeHoverAt,
    lenses: recipeCodeLenses,
  },
} as const satisfies { readonly [languageId: string]: LanguageCore };

export type LanguageId = keyof typeof LANGUAGES;

export const LANGUAGE_IDS = Object.keys(LANGUAGES) as LanguageId[];

/** The document selector of every Tuneloop language, on disk or not (untitled documents get features too). */
export const SELECTOR: vscode.DocumentSelector = LANGUAGE_IDS.map((language) => ({ language }));

export function languageOf(doc: vscode.TextDocument): LanguageCore | undefined {
  return Object.hasOwn(LANGUAGES, doc.languageId) ? LANGUAGES[doc.languageId as LanguageId] : undefined;
}

/** The path to check files against: only documents that live on disk have one. */
export function diskPath(doc: vscode.TextDocument): string | undefined {
  return doc.uri.scheme === 'file' ? doc.uri.fsPath : undefined;
}
