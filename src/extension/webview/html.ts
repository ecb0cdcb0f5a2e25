import * as crypto from 'node:crypto';
import * as vscode from 'vscode';
import { shellHtml, type WebviewKind } from './shell';

export type { WebviewKind } from './shell';

/**
 * The HTML of a Tuneloop webview (see shell.ts): the bundled script with a fresh nonce from crypto,
 * media/main.css, and for the panel uPlot's stylesheet (copied from the package into media/; a test
 * keeps them equal).
 */
export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, title: string, kind: WebviewKind = 'home'): string {
  const uri = (...p: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...p)).toString();
  return shellHtml({
    cspSource: webview.cspSource,
    nonce: crypto.randomBytes(16).toString('base64'),
    script: uri('dist', 'webview.js'),
    styles: [...(kind === 'panel' ? [uri('media', 'uplot.css')] : []), uri('media', 'main.css')],
    title,
    kind,
  });
}

/** Options for a webview: scripts on, resources from the extension's media and bundles only. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'media'), vscode.Uri.joinPath(extensionUri, 'dist')],
  };
}
