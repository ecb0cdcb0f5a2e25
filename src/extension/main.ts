import * as vscode from 'vscode';
import { VERSION } from '../core/version';
import type * as FeaturesModule from './features';
import type { Features } from './features';
import { HOME_VIEW_ID, PANEL_VIEW_TYPE } from './ids';
import { Log } from './log';
import { COMMAND_NEEDS_TRUST, type CommandId } from './trust';

/**
 * The activation entry (dist/extension.js), kept to a few kilobytes so that VS Code's "activating" to
 * "activated" is a few milliseconds (issue 16 asked under 50; the end-to-end test reports it). Loading
 * what the extension does (dist/features.js: zod, the YAML parser, the panel, the language features)
 * takes ~150 ms, so activate registers stand-ins for what VS Code may call at once (every command,
 * the panel's serializer, the Home view) and returns; features.js loads on the next turn of the event
 * loop, and a stand-in called before then waits for it.
 */

const COMMANDS = Object.keys(COMMAND_NEEDS_TRUST) as CommandId[];

/** What the restored panel shows until features.js has loaded and the page has its state. */
const PLACEHOLDER = `<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline';"></head>
<body style="font-family: var(--vscode-font-family); color: var(--vscode-descriptionForeground); padding: 1em 1.5em">Loading Tuneloop…</body></html>`;

export function activate(context: vscode.ExtensionContext): { commands: string[] } {
  const began = performance.now();
  const log = new Log();
  context.subscriptions.push(log);
  let loading: Promise<Features> | undefined;
  const features = (): Promise<Features> =>
    (loading ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      try {
        // Not bundled into this file (scripts/build.mjs marks it external): it is its own bundle.
        const m = require('./features.js') as typeof FeaturesModule;
        return m.start(context, log, began);
      } catch (e) {
        log.error(`Tuneloop failed to start: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        void vscode.window.showErrorMessage(`Tuneloop failed to start: ${e instanceof Error ? e.message : String(e)} (see the Tuneloop log)`);
        throw e;
      }
    }));
  for (const id of COMMANDS) context.subscriptions.push(vscode.commands.registerCommand(id, async (...args: unknown[]) => (await features()).run(id, args)));
  context.subscriptions.push(
    // After a window reload VS Code gives the panel back; it shows a placeholder at once.
    vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        panel.webview.html = PLACEHOLDER;
        await (await features()).panel.revive(panel, state);
      },
    }),
    vscode.window.registerWebviewViewProvider(HOME_VIEW_ID, {
      resolveWebviewView: async (view) => (await features()).home.resolveWebviewView(view),
    }),
  );
  void features().catch(() => undefined);
  log.info(`Tuneloop ${VERSION} activated (workspace ${vscode.workspace.isTrusted ? 'trusted' : 'untrusted'}) in ${(performance.now() - began).toFixed(0)} ms`);
  return { commands: COMMANDS };
}

export function deactivate(): void {}
