import * as vscode from 'vscode';
import { defaultCacheDir } from '../core/models/cache';

/** Typed access to Tuneloop's settings, with the defaults the CLI uses too. */
export function cacheFolder(): string {
  const v = vscode.workspace.getConfiguration('tuneloop').get<string>('cacheFolder', '').trim();
  return v || defaultCacheDir();
}

export function threads(): number {
  return vscode.workspace.getConfiguration('tuneloop').get<number>('threads', 0);
}
