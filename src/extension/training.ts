import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { followEvents, type RunEvent } from '../core/train/events';
import { EVENTS, inspectRun, launchedOwnerAlive, listRuns, ownerAlive, requestCancel, type RunSummary } from '../core/train/run';
import { describeMemoryPlan } from '../core/train/memory';
import { latestCheckpoint, resumeRun, startRun } from '../core/train/start';
import type { Log } from './log';
import { threads, workspacePaths } from './settings';
import { startWithConsent } from './output-consent';
import { RECIPE_FILE } from '../core/recipes/recipe';
import { RunsScanner } from './panel/runs';
import type { RunRow } from './panel/protocol';

/**
 * Fine-tuning from the extension: runs start in the detached trainer (never in the extension host),
 * and are followed through their events.jsonl; a status-bar item and a progress notification show the
 * step, loss and ETA. A window that reloads finds the runs in their folders and follows the live ones
 * again. Reading events is cheap (a poll of a file's new bytes), so the host never blocks.
 */
export function runsFolder(): string | undefined {
  const ws = vscode.workspace.workspaceFolders?.[0];
  if (!ws) return undefined;
  const setting = vscode.workspace.getConfiguration('tuneloop').get<string>('runsFolder', '.tuneloop/runs');
  return path.isAbsolute(setting) ? setting : path.join(ws.uri.fsPath, setting);
}

export class RunsTree implements vscode.TreeDataProvider<RunRow>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RunRow | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private timer: NodeJS.Timeout | undefined;
  /** Reads only what each run's events.jsonl gained since the last look, as the panel does. */
  private readonly scanner = new RunsScanner((p) => p);

  constructor() {
    // While a run is live, refresh every two seconds; otherwise on demand.
    this.timer = setInterval(() => {
      const dir = runsFolder();
      if (dir && this.scanner.scan(dir).some((r) => r.state === 'running' || r.state === 'starting')) this.refresh();
    }, 2000);
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  getTreeItem(r: RunRow): vscode.TreeItem {
    const item = new vscode.TreeItem(r.name, vscode.TreeItemCollapsibleState.None);
    const icon: Record<RunRow['state'], string> = { running: 'sync~spin', starting: 'loading~spin', done: 'pass', cancelled: 'debug-pause', failed: 'error' };
    item.iconPath = new vscode.ThemeIcon(icon[r.state]);
    item.description = `${r.state}${r.totalSteps ? ` · step ${r.lastStep}/${r.totalSteps}` : ''}${r.lastLoss !== undefined ? ` · loss ${r.lastLoss.toFixed(3)}` : ''}`;
    item.tooltip = r.dir;
    item.contextValue = `run-${r.state}`;
    item.resourceUri = vscode.Uri.file(r.dir);
    // A click opens the run in the panel (its loss curve, samples, cancel and resume), not its events file.
    item.command = { command: 'tuneloop.openPanel', title: 'Open in the panel', arguments: [{ run: r.dir }] };
    return item;
  }

  getChildren(): RunRow[] {
    const dir = runsFolder();
    return dir ? this.scanner.scan(dir) : [];
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.changed.dispose();
  }
}

/** Follows one run: a status-bar item and a cancellable progress notification, until it ends. */
export async function followRun(runDir: string, log: Log, status: vscode.StatusBarItem, offset = 0): Promise<RunEvent | undefined> {
  const name = path.basename(runDir);
  const isOwnerAlive = launchedOwnerAlive(runDir);
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Tuneloop: ${name}`, cancellable: true },
    async (progress, token) => {
      token.onCancellationRequested(() => {
        log.info(`cancelling run ${runDir}`);
        requestCancel(runDir);
      });
      let total: number | undefined;
      let lastPct = 0;
      status.show();
      const last = await followEvents(
        path.join(runDir, EVENTS),
        (e) => {
          if (e.type === 'started') {
            total = e.totalSteps;
            if (e.resumedFrom !== undefined) log.info(`${name}: resumed from step ${e.resumedFrom} of ${e.totalSteps}`);
          }
          if (e.type === 'step') {
            const pct = total ? (100 * e.step) / total : 0;
            const eta = e.etaSeconds > 90 ? `${Math.round(e.etaSeconds / 60)} min` : `${Math.round(e.etaSeconds)} s`;
            progress.report({ increment: pct - lastPct, message: `step ${e.step}${total ? `/${total}` : ''}, loss ${e.loss.toFixed(3)}, ETA ${eta}` });
            lastPct = pct;
            status.text = `$(sync~spin) ${name}: ${e.step}${total ? `/${total}` : ''} loss ${e.loss.toFixed(3)}`;
          }
          if (e.type === 'eval') log.info(`${name}: step ${e.step} validation loss ${e.loss.toFixed(4)}`);
          if (e.type === 'failed') log.error(`${name}: ${e.message}${e.stderr ? `\n${e.stderr}` : ''}`);
        },
        { offset, pollMs: 500, isOwnerAlive },
      );
      status.hide();
      // The log says how each run ended, beside the notification (which goes away).
      if (last?.type === 'done') {
        log.info(`${name}: finished after ${last.step} steps; the ${last.kind} is in ${last.result}`);
        void vscode.window.showInformationMessage(
          `Tuneloop: ${name} finished; the ${last.kind} is in ${path.relative(path.dirname(path.dirname(runDir)), last.result)}.`,
        );
      } else if (last?.type === 'cancelled') {
        log.info(`${name}: cancelled at step ${last.step} (checkpoint ${last.checkpoint})`);
        void vscode.window.showInformationMessage(`Tuneloop: ${name} cancelled at step ${last.step}; resume it from the Runs view.`);
      } else if (last?.type === 'failed') {
        inspectRun(runDir);
        void vscode.window.showErrorMessage(`Tuneloop: ${name} failed: ${last.message.split('\n')[0]}`);
      }
      return last;
    },
  );
}

export interface TrainingContext {
  readonly log: Log;
  readonly trainerEntry: string;
  readonly status: vscode.StatusBarItem;
  readonly tree: RunsTree;
}

export async function trainAdapter(ctx: TrainingContext, arg: unknown): Promise<string | undefined> {
  const recipe = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
  if (!recipe || !RECIPE_FILE.test(recipe.fsPath)) {
    void vscode.window.showWarningMessage('Tuneloop: open an adapter recipe (NAME.adapter.yml) to fine-tune it.');
    return undefined;
  }
  const dir = runsFolder();
  if (!dir) {
    void vscode.window.showWarningMessage('Tuneloop: open a folder first; runs are kept in its .tuneloop/runs.');
    return undefined;
  }
  await vscode.workspace.save(recipe);
  const n = threads();
  const options = { runsDir: dir, trainerEntry: ctx.trainerEntry, ...workspacePaths(recipe.fsPath), ...(n ? { threads: n } : {}) };
  // The recipe's output folder may hold someone's files: replace it only if the user says so.
  const started = await startWithConsent(
    (force) => startRun(recipe.fsPath, { ...options, ...(force ? { force } : {}) }),
    async (question) => (await vscode.window.showWarningMessage(question, { modal: true }, 'Replace It')) === 'Replace It',
  );
  if (!started) return undefined;
  const { runDir, pid, warnings, memory } = started;
  for (const w of warnings) {
    ctx.log.warn(w);
    void vscode.window.showWarningMessage(`Tuneloop: ${w}`);
  }
  ensureIgnored(dir);
  ctx.log.info(`started run ${runDir} (trainer pid ${pid}); ${describeMemoryPlan(memory)}`);
  ctx.tree.refresh();
  void followRun(runDir, ctx.log, ctx.status).then(() => ctx.tree.refresh());
  return runDir;
}

export function cancelRun(ctx: TrainingContext, arg: unknown): void {
  const run = pickRun(arg, 'running');
  if (!run) return;
  requestCancel(run);
  ctx.log.info(`cancel requested for ${run}`);
}

export function resume(ctx: TrainingContext, arg: unknown): void {
  const run = pickRun(arg, 'cancelled') ?? pickRun(arg, 'failed');
  if (!run) return;
  if (!latestCheckpoint(run)) {
    void vscode.window.showWarningMessage('Tuneloop: this run has no checkpoint to resume from.');
    return;
  }
  const { offset } = resumeRun(run, { trainerEntry: ctx.trainerEntry });
  ctx.tree.refresh();
  void followRun(run, ctx.log, ctx.status, offset).then(() => ctx.tree.refresh());
}

/** After a window reload: follow again every run whose trainer is still alive. */
export function reattach(ctx: TrainingContext): void {
  const dir = runsFolder();
  if (!dir) return;
  for (const r of listRuns(dir)) {
    if (r.state === 'running' && ownerAlive(r.dir)) {
      ctx.log.info(`following run ${r.dir} again`);
      const offset = fs.statSync(path.join(r.dir, EVENTS)).size;
      void followRun(r.dir, ctx.log, ctx.status, offset).then(() => ctx.tree.refresh());
    }
  }
}

function pickRun(arg: unknown, state: RunSummary['state']): string | undefined {
  if (arg && typeof arg === 'object' && 'dir' in arg && typeof (arg as RunSummary).dir === 'string') return (arg as RunSummary).dir;
  const dir = runsFolder();
  const match = dir ? listRuns(dir).find((r) => r.state === state) : undefined;
  if (!match) void vscode.window.showInformationMessage(`Tuneloop: no ${state} run.`);
  return match?.dir;
}

/** Runs stay out of version control: the runs folder goes into the workspace's .gitignore. */
function ensureIgnored(runs: string): void {
  const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (!ws || !runs.startsWith(ws)) return;
  const gitignore = path.join(ws, '.gitignore');
  const rel = `${path.relative(ws, runs).split(path.sep)[0]}/`;
  const text = fs.existsSync(gitignore) ? fs.readFileSync(gitignore, 'utf8') : '';
  if (text.split('\n').some((l) => l.trim() === rel || l.trim() === `/${rel}`)) return;
  fs.writeFileSync(gitignore, `${text}${text && !text.endsWith('\n') ? '\n' : ''}${rel}\n`);
}
