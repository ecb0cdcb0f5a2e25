import * as path from 'node:path';
import * as vscode from 'vscode';
import { defaultCacheDir as hubCacheDir } from '../core/hub';
import { defaultCacheDir } from '../core/export/cache';

/** Typed access to Tuneloop's settings, with the defaults the CLI uses too. */
export function cacheFolder(): string {
  const v = vscode.workspace.getConfiguration('tuneloop').get<string>('cacheFolder', '').trim();
  return v || defaultCacheDir();
}

export function threads(): number {
  return vscode.workspace.getConfiguration('tuneloop').get<number>('threads', 0);
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
