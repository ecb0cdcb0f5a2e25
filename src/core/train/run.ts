import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TuneloopError } from '../errors';
import { writeFileAtomic } from '../fs/atomic';
import { EventWriter, type RunEvent, readEvents, TERMINAL } from './events';

/**
 * Run folders: `<runs>/<UTC time>-<name>/` with events.jsonl (the source of truth), owner.lock (the
 * live trainer's pid), checkpoints/, adapter/, stderr.log. Anyone can read a run; only the owner
 * appends to it, except that whoever finds the owner dead without a final event records the failure.
 */
export const EVENTS = 'events.jsonl';
export const LOCK = 'owner.lock';
export const STDERR = 'stderr.log';
export const CANCEL = 'cancel.request';

export interface OwnerLock {
  readonly pid: number;
  readonly host: string;
  readonly started: string;
}

function slug(name: string): string {
  return name.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'run';
}

/** A new run folder named by UTC time and recipe name (never reusing an existing one). */
export function createRunDir(runsDir: string, name: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  fs.mkdirSync(runsDir, { recursive: true });
  for (let i = 0; ; i++) {
    const dir = path.join(runsDir, `${stamp}-${slug(name)}${i ? `-${i}` : ''}`);
    try {
      fs.mkdirSync(dir);
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/** The steps the run has a checkpoint folder for (checkpoints/step-N), latest first. */
export function checkpointSteps(runDir: string): number[] {
  const dir = path.join(runDir, 'checkpoints');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((n) => /^step-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
}

/** The folder of the run's checkpoint at `step`. */
export function checkpointDir(runDir: string, step: number): string {
  return path.join(runDir, 'checkpoints', `step-${step}`);
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readLock(runDir: string): OwnerLock | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(runDir, LOCK), 'utf8')) as OwnerLock;
  } catch {
    return undefined;
  }
}

/** Take ownership of a run: refused while another live process holds it. */
export function acquireLock(runDir: string, pid = process.pid): void {
  const held = readLock(runDir);
  if (held && held.pid !== pid && held.host === os.hostname() && isProcessAlive(held.pid)) {
    throw new TuneloopError(`the run is owned by process ${held.pid}, still running`, { file: runDir }, 'follow it instead, or cancel it first');
  }
  writeFileAtomic(path.join(runDir, LOCK), JSON.stringify({ pid, host: os.hostname(), started: new Date().toISOString() } satisfies OwnerLock));
}

export function releaseLock(runDir: string, pid = process.pid): void {
  if (readLock(runDir)?.pid === pid) fs.rmSync(path.join(runDir, LOCK), { force: true });
}

export function ownerAlive(runDir: string): boolean {
  const l = readLock(runDir);
  return l !== undefined && (l.host !== os.hostname() || isProcessAlive(l.pid));
}

/**
 * The owner check for following a run just launched (followEvents' `isOwnerAlive`): until the trainer
 * has taken its lock, "no live owner" means "not started yet", for up to `graceMs`.
 */
export function launchedOwnerAlive(runDir: string, graceMs = 30_000): () => boolean {
  const since = Date.now();
  let seen = false;
  return () => (ownerAlive(runDir) ? (seen = true) : !seen && Date.now() - since < graceMs);
}

/**
 * Start `entry` (a Node script) on a run in a detached process that outlives its parent: its own
 * process group, stdout ignored, stderr to the run's stderr.log.
 */
export function launchDetached(entry: string, args: readonly string[], runDir: string, env: NodeJS.ProcessEnv = process.env): number {
  const err = fs.openSync(path.join(runDir, STDERR), 'a');
  try {
    const child = spawn(process.execPath, [entry, ...args], { detached: true, stdio: ['ignore', 'ignore', err], env, cwd: runDir });
    if (child.pid === undefined) throw new TuneloopError('could not start the trainer process', { file: entry });
    child.unref();
    return child.pid;
  } finally {
    fs.closeSync(err);
  }
}

/** Ask the owner to stop: a control file it polls, and SIGTERM; it checkpoints and exits cleanly. */
export function requestCancel(runDir: string): boolean {
  writeFileAtomic(path.join(runDir, CANCEL), new Date().toISOString());
  const l = readLock(runDir);
  if (l && l.host === os.hostname() && isProcessAlive(l.pid)) {
    process.kill(l.pid, 'SIGTERM');
    return true;
  }
  return false;
}

export function cancelRequested(runDir: string): boolean {
  return fs.existsSync(path.join(runDir, CANCEL));
}

function stderrTail(runDir: string, bytes = 4000): string {
  try {
    const s = fs.readFileSync(path.join(runDir, STDERR), 'utf8');
    return s.slice(-bytes);
  } catch {
    return '';
  }
}

export type RunState = 'running' | 'done' | 'cancelled' | 'failed' | 'starting';

export interface RunSummary {
  readonly dir: string;
  readonly name: string;
  readonly state: RunState;
  readonly lastStep: number;
  readonly totalSteps: number | undefined;
  readonly lastLoss: number | undefined;
  readonly events: readonly RunEvent[];
}

/**
 * A run's state from its events and lock. A run whose owner died without a final event is marked
 * failed here, with the tail of its stderr, so that nothing is left looking alive.
 */
export function inspectRun(runDir: string): RunSummary {
  let { events } = readEvents(path.join(runDir, EVENTS));
  let last = events.at(-1);
  if ((!last || !TERMINAL.has(last.type)) && !ownerAlive(runDir) && events.length > 0) {
    const w = new EventWriter(path.join(runDir, EVENTS));
    const tail = stderrTail(runDir);
    w.append({ type: 'failed', message: 'the trainer process ended without finishing the run', ...(tail ? { stderr: tail } : {}) });
    w.close();
    events = readEvents(path.join(runDir, EVENTS)).events;
    last = events.at(-1);
  }
  const steps = events.filter((e): e is Extract<RunEvent, { type: 'step' }> => e.type === 'step');
  const started = [...events].reverse().find((e): e is Extract<RunEvent, { type: 'started' }> => e.type === 'started');
  const state: RunState = !last ? 'starting' : last.type === 'done' || last.type === 'cancelled' || last.type === 'failed' ? last.type : 'running';
  return { dir: runDir, name: path.basename(runDir), state, lastStep: steps.at(-1)?.step ?? 0, totalSteps: started?.totalSteps, lastLoss: steps.at(-1)?.loss, events };
}

export function listRuns(runsDir: string): RunSummary[] {
  if (!fs.existsSync(runsDir)) return [];
  return fs
    .readdirSync(runsDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(runsDir, e.name, EVENTS)))
    .map((e) => inspectRun(path.join(runsDir, e.name)))
    .sort((a, b) => b.name.localeCompare(a.name));
}
