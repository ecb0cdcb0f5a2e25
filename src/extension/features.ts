import * as vscode from 'vscode';
import { WorkerClient, WorkerError } from '../worker/client';
import { formatBytes } from '../core/format';
import { clearExports, listExports } from '../core/export/export';
import { HomeViewProvider } from './homeView';
import { openPreview, registerLanguageFeatures } from './language';
import { cacheFolder } from './settings';
import { cancelRun, reattach, resume, RunsTree, runsFolder, trainAdapter, type TrainingContext } from './training';
import type { Log } from './log';
import { autorunIfTrusted, type CommandId, followRunsWhenTrusted, gateCommand, type TrustGate } from './trust';
import { promptFileOf, TuneloopPanel } from './panel/panel';
import { caseAtOffset } from '../core/prompts/lenses';
import { registerTestExplorer } from './testing';
import { distillRecipe } from './distill';

/**
 * The extension is a thin shell over the core: it registers commands and views, and hands model work
 * to the worker process so that the extension host never blocks. This module is loaded by main.ts
 * right after activation (it and what it imports take ~150 ms to load, which activation no longer waits for).
 */

interface CommandSpec {
  /** What it returns reaches `executeCommand`'s caller (tests, other extensions). */
  run(ctx: CommandContext, ...args: unknown[]): Promise<unknown> | unknown;
}

interface CommandContext {
  readonly log: Log;
  readonly worker: WorkerClient;
  readonly training: TrainingContext;
  readonly panel: TuneloopPanel;
}

/** Which of these runs a model (refused in an untrusted workspace) is in trust.ts, for unit tests to read. */
const COMMANDS: Readonly<Record<CommandId, CommandSpec>> = {
  'tuneloop.openPanel': {
    run: ({ panel }, arg) => {
      // From the Runs view: that run, on the Fine-tune tab.
      const run = (arg as { run?: unknown } | undefined)?.run;
      if (typeof run === 'string') return panel.open({ tab: 'train', run });
      const file = promptFileOf(arg);
      return panel.open(file ? { file } : {});
    },
  },
  'tuneloop.runPrompt': { run: ({ panel }, arg, caseArg) => openOnPrompt(panel, arg, 'run', caseArg) },
  'tuneloop.comparePrompt': { run: ({ panel }, arg, caseArg) => openOnPrompt(panel, arg, 'compare', caseArg) },
  'tuneloop.previewPrompt': { run: (_ctx, arg) => openPreview(arg) },
  'tuneloop.trainAdapter': { run: ({ training }, arg) => trainAdapter(training, arg) },
  'tuneloop.distillRecipe': { run: (ctx, arg) => distillRecipe(ctx, arg) },
  'tuneloop.cancelRun': { run: ({ training }, arg) => cancelRun(training, arg) },
  'tuneloop.resumeRun': { run: ({ training }, arg) => resume(training, arg) },
  'tuneloop.clearCache': {
    async run({ log }) {
      const dir = cacheFolder();
      const exports = listExports(dir);
      if (exports.length === 0) {
        void vscode.window.showInformationMessage(`Tuneloop: no exported models in ${dir}.`);
        return 0;
      }
      const total = exports.reduce((a, e) => a + e.bytes, 0);
      const all = { label: `$(trash) Clear all ${exports.length} exports (${formatBytes(total)})`, key: undefined as string | undefined };
      const items = [
        all,
        ...exports.map((e) => ({
          label: `${e.modelType} ${formatBytes(e.bytes)}`,
          description: e.source,
          detail: `exported ${e.created.slice(0, 19).replace('T', ' ')} · ${e.key.slice(0, 16)}`,
          key: e.key.slice(0, 16) as string | undefined,
        })),
      ];
      const picked = await vscode.window.showQuickPick(items, {
        title: `Tuneloop export cache (${dir})`,
        placeHolder: 'Pick an export to delete, or clear all',
      });
      if (!picked) return 0;
      const { freed } = clearExports(dir, picked.key);
      log.info(`export cache: freed ${formatBytes(freed)} in ${dir}`);
      void vscode.window.showInformationMessage(`Tuneloop: freed ${formatBytes(freed)}.`);
      return freed;
    },
  },
  'tuneloop.showLog': { run: ({ log }) => log.show() },
  'tuneloop.describeModel': {
    async run({ log, worker }, arg) {
      const folder =
        arg instanceof vscode.Uri
          ? arg
          : (await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Describe model' }))?.[0];
      if (!folder) return;
      const d = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Tuneloop: reading checkpoint' }, () =>
        worker.request('describeCheckpoint', { dir: folder.fsPath }),
      );
      log.info(`${folder.fsPath}\n  ${d.lines.join('\n  ')}`);
      log.show();
      void vscode.window.showInformationMessage(`${d.architecture}: ${d.parameters.toLocaleString('en-US')} parameters`);
      return d;
    },
  },
};

/**
 * Run / Compare (the prompt file's CodeLens, a test case's CodeLens, the editor title, the palette):
 * the panel on that file, running at once, on the case the lens is for or else the one under the
 * cursor.
 */
function openOnPrompt(panel: TuneloopPanel, arg: unknown, autorun: 'run' | 'compare', caseArg?: unknown): Promise<void> | undefined {
  const file = promptFileOf(arg);
  if (!file) {
    void vscode.window.showInformationMessage('Tuneloop: open a prompt file (NAME.prompt.yml) to run it.');
    return undefined;
  }
  const caseIndex = caseOf(file, caseArg);
  return panel.open({ tab: 'compare', file, ...autorunIfTrusted(vscode.workspace.isTrusted, autorun), ...(caseIndex !== undefined ? { caseIndex } : {}) });
}

/** The test case a Run or Compare is for: the lens's own, else the one under the cursor in that file's editor. */
function caseOf(file: string, caseArg: unknown): number | undefined {
  if (typeof caseArg === 'number' && Number.isInteger(caseArg) && caseArg >= 0) return caseArg;
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.uri.fsPath !== file) return undefined;
  return caseAtOffset(editor.document.getText(), editor.document.offsetAt(editor.selection.active));
}

/** The action beside the untrusted-workspace warning: VS Code's own trust editor. */
const MANAGE_TRUST = 'Manage Workspace Trust';

/** What main.ts's stand-ins (commands, the panel's serializer, the Home view) hand their work to. */
export interface Features {
  /** Runs a command (the trust gate, then the command, with errors shown and logged, never thrown). */
  run(id: CommandId, args: unknown[]): Promise<unknown>;
  readonly panel: TuneloopPanel;
  readonly home: HomeViewProvider;
}

/**
 * Everything the extension does, set up once main.ts's activate has returned (see there): the log
 * main.ts made, the worker (started on its first request), views, language features, the panel, the
 * Testing view, and following runs a window reload left going.
 */
export function start(context: vscode.ExtensionContext, log: Log, began: number): Features {
  const worker = new WorkerClient({ entry: context.asAbsolutePath('dist/worker.js'), onLog: (level, m) => log.write(level, m) });
  const home = new HomeViewProvider(context.extensionUri, log);
  context.subscriptions.push({ dispose: () => worker.dispose() }, home);
  const tree = new RunsTree();
  const status = vscode.window.createStatusBarItem('tuneloop.run', vscode.StatusBarAlignment.Left, 50);
  status.name = 'Tuneloop run';
  status.command = 'workbench.view.extension.tuneloop';
  context.subscriptions.push(tree, status, vscode.window.registerTreeDataProvider('tuneloop.runs', tree));
  const training: TrainingContext = { log, trainerEntry: context.asAbsolutePath('dist/trainer.js'), status, tree };
  registerLanguageFeatures(context, log, worker);

  const panel = new TuneloopPanel(context.extensionUri, log, worker, {
    runsFolder,
    start: (recipe) => trainAdapter(training, vscode.Uri.file(recipe)),
    cancel: (dir) => cancelRun(training, { dir }),
    resume: (dir) => resume(training, { dir }),
  });
  context.subscriptions.push(panel, registerTestExplorer(log, worker, runsFolder));
  const ctx: CommandContext = { log, worker, training, panel };
  // Runs started before a window reload may still be going: follow them again, once the workspace is trusted.
  context.subscriptions.push(
    followRunsWhenTrusted({ isTrusted: () => vscode.workspace.isTrusted, onDidGrant: (l) => vscode.workspace.onDidGrantWorkspaceTrust(l) }, () =>
      reattach(training),
    ),
  );
  const gate: TrustGate = {
    isTrusted: () => vscode.workspace.isTrusted,
    warn: (m) =>
      void vscode.window
        .showWarningMessage(m, MANAGE_TRUST)
        .then((a) => (a === MANAGE_TRUST ? vscode.commands.executeCommand('workbench.trust.manage') : undefined)),
  };
  const commands = new Map(
    (Object.entries(COMMANDS) as [CommandId, CommandSpec][]).map(([id, spec]) => [
      id,
      gateCommand(id, gate, async (...args: unknown[]) => {
        try {
          return await spec.run(ctx, ...args);
        } catch (e) {
          // Errors end here: shown to the user, logged, never thrown into the extension host.
          const user = e instanceof WorkerError && e.info.user;
          const message = e instanceof Error ? e.message : String(e);
          log.error(`${id}: ${message}`);
          void vscode.window.showErrorMessage(user ? message : `Tuneloop: ${id} failed: ${message.split('\n')[0]} (see the Tuneloop log)`);
          return undefined;
        }
      }),
    ]),
  );
  log.info(`features ready ${(performance.now() - began).toFixed(0)} ms after activation began`);
  return { run: (id, args) => commands.get(id)!(...args), panel, home };
}
