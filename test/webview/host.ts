import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { FromPanel, type ToPanel } from '../../src/extension/panel/protocol';
import { FromHome, type ToHome } from '../../src/extension/webview/home-protocol';
import { shellHtml } from '../../src/extension/webview/shell';
import { BODY_CLASS, type ThemeName, themeCss } from './themes';

/**
 * A stand-in for VS Code's side of a webview: a local HTTP server on 127.0.0.1 serving media/ and
 * dist/webview.js in the very page the extension builds (src/extension/webview/shell.ts: its Content
 * Security Policy allows nothing by default, scripts only with the page's nonce), a stand-in `acquireVsCodeApi` that records what
 * the page posts, and theme variables for light, dark and high contrast. Tests replay host messages
 * into the page and check what it posts back, validated as the extension validates them.
 */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const SHOTS = path.join(ROOT, 'test-results', 'webview');

const HOST_SCRIPT = `
window.__posted = [];
window.__csp = [];
window.__state = undefined;
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
window.acquireVsCodeApi = () => ({
  postMessage: (m) => window.__posted.push(JSON.parse(JSON.stringify(m))),
  getState: () => window.__state,
  setState: (s) => { window.__state = s; },
});
`;

export interface Host {
  readonly url: string;
  close(): Promise<void>;
}

export async function startHost(): Promise<Host> {
  const types: Record<string, string> = { '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.map': 'application/json' };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (status: number, type: string, body: string | Buffer) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (url.pathname === '/page.html') {
      const theme = (url.searchParams.get('theme') ?? 'dark') as ThemeName;
      const view = url.searchParams.get('view') === 'home' ? 'home' : 'panel';
      const nonce = crypto.randomBytes(16).toString('base64');
      const origin = `http://${req.headers.host}`;
      // The page VS Code shows (shell.ts), with the theme's variables and the body class VS Code sets,
      // and the stand-in host script (nonce'd like the app's) before the app's script.
      let html = shellHtml({
        cspSource: origin,
        nonce,
        script: '/dist/webview.js',
        styles: [...(view === 'panel' ? ['/media/uplot.css'] : []), '/media/main.css'],
        title: 'Tuneloop',
        kind: view,
      });
      html = html
        .replace('<link ', `<link rel="stylesheet" href="/theme/${theme}.css">\n<link `)
        .replace('<body>', `<body class="${BODY_CLASS[theme]}">`)
        .replace(
          `<script nonce="${nonce}" src="/dist/webview.js">`,
          `<script nonce="${nonce}" src="/host.js"></script>\n<script nonce="${nonce}" src="/dist/webview.js">`,
        );
      return send(200, 'text/html', html);
    }
    if (url.pathname === '/favicon.ico') return send(204, 'image/x-icon', '');
    if (url.pathname === '/host.js') return send(200, 'text/javascript', HOST_SCRIPT);
    const theme = /^\/theme\/(light|dark|high-contrast)\.css$/.exec(url.pathname);
    if (theme) return send(200, 'text/css', themeCss(theme[1] as ThemeName));
    const m = /^\/(media|dist)\/([\w.-]+)$/.exec(url.pathname);
    if (m) {
      const file = path.join(ROOT, m[1]!, m[2]!);
      if (fs.existsSync(file)) return send(200, types[path.extname(file)] ?? 'application/octet-stream', fs.readFileSync(file));
    }
    send(404, 'text/plain', 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** What a page may post: the panel's messages or the Home view's. */
export type Posted = FromPanel | FromHome;

/** One page of the app, with the stand-in host's controls. */
export class WebviewPage {
  readonly errors: string[] = [];

  constructor(
    readonly page: Page,
    readonly view: 'home' | 'panel',
  ) {
    page.on('pageerror', (e) => this.errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') this.errors.push(`console: ${m.text()}`);
    });
  }

  static async open(
    browser: Browser,
    host: Host,
    options: { theme?: ThemeName; view?: 'home' | 'panel'; width?: number; height?: number } = {},
  ): Promise<WebviewPage> {
    const page = await browser.newPage({ viewport: { width: options.width ?? 800, height: options.height ?? 900 } });
    const w = new WebviewPage(page, options.view ?? 'panel');
    await page.goto(`${host.url}/page.html?theme=${options.theme ?? 'dark'}&view=${options.view ?? 'panel'}`);
    return w;
  }

  /** Messages the page posted, each validated as the extension validates it. */
  async posted(): Promise<Posted[]> {
    const raw = (await this.page.evaluate('window.__posted')) as unknown[];
    const schema = this.view === 'home' ? FromHome : FromPanel;
    return raw.map((m) => schema.parse(m));
  }

  async postedOf<T extends Posted['type']>(type: T): Promise<Extract<Posted, { type: T }>[]> {
    return (await this.posted()).filter((m): m is Extract<Posted, { type: T }> => m.type === type);
  }

  async waitPosted<T extends Posted['type']>(type: T, count = 1, ms = 10_000): Promise<Extract<Posted, { type: T }>[]> {
    const end = Date.now() + ms;
    for (;;) {
      const found = await this.postedOf(type);
      if (found.length >= count) return found;
      if (Date.now() > end) throw new Error(`the page did not post ${type} (${count}); it posted ${(await this.posted()).map((m) => m.type).join(', ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Host → page: as VS Code delivers a webview message. */
  async send(...messages: (ToPanel | ToHome | Record<string, unknown>)[]): Promise<void> {
    // (Strings: this file is type-checked without the DOM library.)
    await this.page.evaluate(`for (const m of ${JSON.stringify(messages)}) window.postMessage(m, '*')`);
    await this.page.evaluate('new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)))');
  }

  async cspViolations(): Promise<string[]> {
    return (await this.page.evaluate('window.__csp')) as string[];
  }

  async shot(name: string, fullPage = true): Promise<void> {
    fs.mkdirSync(SHOTS, { recursive: true });
    await this.page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
  }
}
