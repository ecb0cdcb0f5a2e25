import * as path from 'node:path';
import * as vscode from 'vscode';
import { defaultCacheDir as hubCacheDir } from '../core/hub';
import { defaultCacheDir } from '../core/export/cache';
import { DEFAULT_DTYPE, type ExportDtype, isExportDtype } from '../core/dtypes';

/** Typed access to Tuneloop's settings, with the defaults the CLI uses too. */
export function cacheFolder(): string {
  const v = vscode.workspace.getConfiguration('tuneloop').get<string>('cacheFolder', '').trim();
  return v || defaultCacheDir();
}

export function threads(): number {
  return vscode.workspace.getConfiguration('tuneloop').get<number>('threads', 0);
}

/**
 * tuneloop.dtype: the dtype models run in when the prompt file has no `dtype` (fp32, q8 or q4). A value
 * VS Code's schema check let through by hand-editing settings.json reads as the default.
 */
export function dtype(): ExportDtype {
  const v = vscode.workspace.getConfiguration('tuneloop').get<string>('dtype', DEFAULT_DTYPE);
  return isExportDtype(v) ? v : DEFAULT_DTYPE;
}

/**
 * The path rule for a file in the workspace (core/fs/root.ts): its workspace folder is the root, and
 * the Hugging Face cache and the tuneloop.defaultModel folder may be read wherever they are.
 */
export function workspacePaths(file: string): { root?: string; trustedReads: string[] } {
  const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file))?.uri.fsPath;
  const setting = vscode.workspace.getConfiguration('tuneloop').get<string>('defaultModel', '').trim();
  const base = folder ?? path.dirname(file);
  return { ...(folder ? { root: folder } : {}), trustedReads: [hubCacheDir(), ...(setting ? [path.resolve(base, setting)] : [])] };
}
