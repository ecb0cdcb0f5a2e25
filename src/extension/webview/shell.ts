/**
 * The HTML of every Tuneloop webview, without `vscode` (so that the headless-Chromium tests serve the
 * very page VS Code shows): a strict Content Security Policy (nothing by default; styles, fonts and
 * images from the extension's own resources; scripts only with a fresh nonce), and no data: the
 * only thing that varies is a constant attribute naming the app to mount. State reaches the page as
 * validated messages after it says it is ready.
 */
export type WebviewKind = 'home' | 'panel';

export interface ShellOptions {
  /** The webview's resource origin (Webview.cspSource). */
  readonly cspSource: string;
  /** A fresh random nonce (base64) for this page. */
  readonly nonce: string;
  readonly script: string;
  readonly styles: readonly string[];
  readonly title: string;
  readonly kind: WebviewKind;
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return ["default-src 'none'", `style-src ${cspSource}`, `font-src ${cspSource}`, `img-src ${cspSource}`, `script-src 'nonce-${nonce}'`].join('; ');
}

function escapeHtml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function shellHtml(o: ShellOptions): string {
  const attr = (s: string) => escapeHtml(s);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(contentSecurityPolicy(o.cspSource, o.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
${o.styles.map((s) => `<link rel="stylesheet" href="${attr(s)}">\n`).join('')}<title>${escapeHtml(o.title)}</title>
</head>
<body>
<main id="app" data-view="${o.kind}"></main>
<script nonce="${attr(o.nonce)}" src="${attr(o.script)}"></script>
</body>
</html>`;
}
