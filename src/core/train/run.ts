import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { TuneloopError } from '../errors';
import { describeFsError } from '../fs/text';
import { writeFileAtomic } from '../fs/atomic';
import { EventWriter, type RunEvent, readEvents, TERMINAL } from './events';
import { hugePagesEnv } from '../huge-pages';

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
  return (
    name
      .replace(/[^\w.-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'run'
  );
}

/** A new run folder named by UTC time and recipe name (never reusing an existing one). */
export function createRunDir(runsDir: string, name: string, now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
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

/**
 * Whether `pid` is a live process: it exists and is not a zombie (a child that has exited but that
 * its parent has not reaped yet still answers signal 0, yet it will never write another event).
 * On Windows an exited process fails signal 0 already.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !isZombie(pid);
}

function isZombie(pid: number): boolean {
  if (process.platform === 'linux') {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      // "pid (comm) S ...": the command may hold spaces and parentheses, the state follows the last ')'.
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      return state === 'Z' || state === 'X';
    } catch {
      return false;
    }
  }
  if (process.platform === 'darwin' || process.platform === 'freebsd' || process.platform === 'openbsd') {
    const r = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' });
    return r.status === 0 && r.stdout.trim().startsWith('Z');
  }
  return false;
}

const OwnerLockFile = z.object({ pid: z.number().int().positive(), host: z.string(), started: z.string() });

export function readLock(runDir: string): OwnerLock | undefined {
  try {
    const r = OwnerLockFile.safeParse(JSON.parse(fs.readFileSync(path.join(runDir, LOCK), 'utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

function lockHolderAlive(l: OwnerLock | undefined): boolean {
  return l !== undefined && (l.host !== os.hostname() || isProcessAlive(l.pid));
}

/** Create `file` holding `text` only if it does not exist (O_EXCL): true when this call created it. */
function createExclusive(file: string, text: string, pauseBeforeWriting?: () => void): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new TuneloopError(`cannot write in the run folder: ${describeFsError(e)}`, { file }, 'check that the runs folder can be written');
  }
  try {
    pauseBeforeWriting?.();
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/**
 * Take ownership of a run: the lock file is created exclusively, so of two trainers started on one
 * run exactly one gets it. A lock left by a dead owner (on this host) is taken over under a second
 * exclusive file, owner.lock.takeover, so that two processes that both find it stale cannot both
 * remove it and each create its own. A live owner, or one on another host, refuses the run.
 */
/**
 * `pauseInTakeover` (tests only) widens the takeover's two windows: between creating the takeover
 * file and writing it (when another process reads it empty), and between finding the lock stale and
 * removing it (when, unserialised, a second process could remove the lock the first just made).
 */
export function acquireLock(runDir: string, pid = process.pid, pauseInTakeover?: () => void): void {
  const file = path.join(runDir, LOCK);
  const mine = JSON.stringify({ pid, host: os.hostname(), started: new Date().toISOString() } satisfies OwnerLock);
  const refuse = (held: OwnerLock) =>
    new TuneloopError(
      `the run is owned by process ${held.pid}${held.host !== os.hostname() ? ` on ${held.host}` : ''}, still running`,
      { file: runDir },
      'follow it instead, or cancel it first',
    );
  const deadline = Date.now() + LOCK_WAIT_MS;
  while (Date.now() < deadline) {
    if (createExclusive(file, mine)) return;
    const held = readLock(runDir);
    if (held?.pid === pid && held.host === os.hostname()) return;
    if (held === undefined) {
      // Another process created the file and has not written its content yet: wait for it.
      if (Date.now() - (fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0) < 2000) {
        sleepMs(20);
        continue;
      }
    } else if (lockHolderAlive(held)) throw refuse(held);
    // The holder is dead (or the file has been unreadable for seconds): take it over, one process at a time.
    const takeover = `${file}.takeover`;
    if (!createExclusive(takeover, String(pid), pauseInTakeover)) {
      // Another process is taking the lock over. Its file may still be empty (created, not yet
      // written): that is a live takeover, not a dead one. Only a takeover file left for seconds by a
      // process that has died (a crash in the few milliseconds the takeover lasts) is removed.
      const st = fs.statSync(takeover, { throwIfNoEntry: false });
      if (st === undefined) continue;
      let other = Number.NaN;
      try {
        other = Number(fs.readFileSync(takeover, 'utf8').trim() || Number.NaN);
      } catch {
        continue;
      }
      // Empty for seconds, or naming a dead process: its creator died in the middle of a takeover.
      const holderDead = Number.isNaN(other) || (Number.isInteger(other) && other > 0 && !isProcessAlive(other));
      if (holderDead && Date.now() - st.mtimeMs > STALE_TAKEOVER_MS) fs.rmSync(takeover, { force: true });
      else sleepMs(20);
      continue;
    }
    try {
      const again = readLock(runDir);
      if (again !== undefined && lockHolderAlive(again)) throw refuse(again);
      pauseInTakeover?.();
      if (JSON.stringify(again) === JSON.stringify(held)) fs.rmSync(file, { force: true });
    } finally {
      fs.rmSync(takeover, { force: true });
    }
  }
  const held = readLock(runDir);
  throw held && lockHolderAlive(held)
    ? refuse(held)
    : new TuneloopError("could not take the run's lock", { file }, 'another trainer may be starting on this run; try again');
}

/** How long a trainer waits for the lock while others are taking it over or still writing theirs. */
const LOCK_WAIT_MS = 10_000;
/** A takeover file older than this, whose process is dead, was left by a crash. */
const STALE_TAKEOVER_MS = 5_000;

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function releaseLock(runDir: string, pid = process.pid): void {
  if (readLock(runDir)?.pid === pid) fs.rmSync(path.join(runDir, LOCK), { force: true });
}

export function ownerAlive(runDir: string): boolean {
  return lockHolderAlive(readLock(runDir));
}

/**
 * The owner check for following a run just launched (followEvents' `isOwnerAlive`): until the trainer
 * has taken its lock, "no live owner" means "not started yet", for up to `graceMs`.
 */
export function launchedOwnerAlive(runDir: string, graceMs = 30_000, pid?: number): () => boolean {
  const since = Date.now();
  let seen = false;
  // A launched trainer that has already exited will never take the lock: no need to wait out the grace.
  return () => (ownerAlive(runDir) ? (seen = true) : !seen && Date.now() - since < graceMs && (pid === undefined || isProcessAlive(pid)));
}

/**
 * Start `entry` (a Node script) on a run in a detached process that outlives its parent: its own
 * process group, stdout ignored, stderr to the run's stderr.log.
 */
export function launchDetached(entry: string, args: readonly string[], runDir: string, env: NodeJS.ProcessEnv = process.env): number {
  let err: number;
  try {
    err = fs.openSync(path.join(runDir, STDERR), 'a');
  } catch (e) {
    throw new TuneloopError(`cannot write in the run folder: ${describeFsError(e)}`, { file: runDir }, 'check that the runs folder can be written');
  }
  try {
    const child = spawn(process.execPath, [entry, ...args], { detached: true, stdio: ['ignore', 'ignore', err], env: hugePagesEnv(env), cwd: runDir });
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
    const tail = stderrTail(runDir);
    const failed = { type: 'failed' as const, message: 'the trainer process ended without finishing the run', ...(tail ? { stderr: tail } : {}) };
    try {
      const w = new EventWriter(path.join(runDir, EVENTS));
      w.append(failed);
      w.close();
      events = readEvents(path.join(runDir, EVENTS)).events;
    } catch {
      // A run folder that cannot be written: the failure is reported, just not recorded.
      events = [...events, { ...failed, time: new Date().toISOString() }];
    }
    last = events.at(-1);
  }
  const steps = events.filter((e): e is Extract<RunEvent, { type: 'step' }> => e.type === 'step');
  const started = [...events].reverse().find((e): e is Extract<RunEvent, { type: 'started' }> => e.type === 'started');
  const state: RunState = !last ? 'starting' : last.type === 'done' || last.type === 'cancelled' || last.type === 'failed' ? last.type : 'running';
  return {
    dir: runDir,
    name: path.basename(runDir),
    state,
    lastStep: steps.at(-1)?.step ?? 0,
    totalSteps: started?.totalSteps,
    lastLoss: steps.at(-1)?.loss,
    events,
  };
}

export function listRuns(runsDir: string): RunSummary[] {
  if (!fs.existsSync(runsDir)) return [];
  return fs
    .readdirSync(runsDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(runsDir, e.name, EVENTS)))
    .map((e) => inspectRun(path.join(runsDir, e.name)))
    .sort((a, b) => b.name.localeCompare(a.name));
}
