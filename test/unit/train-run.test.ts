import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { followEvents, type RunEvent } from '../../src/core/train/events';
import {
  acquireLock,
  createRunDir,
  EVENTS,
  inspectRun,
  isProcessAlive,
  launchDetached,
  launchedOwnerAlive,
  listRuns,
  ownerAlive,
  readLock,
  releaseLock,
  requestCancel,
} from '../../src/core/train/run';
import { ROOT, tempDir } from '../helpers';
import { hugePagesEnv } from '../../src/core/huge-pages';

/**
 * Process mechanics of runs with a stand-in trainer (a few lines of Node that write events the way
 * the trainer does): detached launch, following from another process, cancellation, crash records.
 */
const FAKE = `
const fs = require('fs'), path = require('path');
const dir = process.cwd(), mode = process.argv[2];
fs.writeFileSync(path.join(dir, 'owner.lock'), JSON.stringify({ pid: process.pid, host: require('os').hostname(), started: new Date().toISOString() }));
const ev = (e) => fs.appendFileSync(path.join(dir, 'events.jsonl'), JSON.stringify({ ...e, time: new Date().toISOString() }) + '\\n');
ev({ type: 'started', pid: process.pid, totalSteps: 20, trainExamples: 4, validationExamples: 0 });
let step = 0;
process.on('SIGTERM', () => { ev({ type: 'cancelled', step, checkpoint: 'checkpoints/step-' + step }); fs.rmSync(path.join(dir, 'owner.lock')); process.exit(0); });
const t = setInterval(() => {
  step++;
  ev({ type: 'step', step, loss: 5 - step / 10, lr: 0.001, gradNorm: 1, tokensPerSecond: 100, etaSeconds: 1 });
  if (mode === 'crash' && step === 3) { process.stderr.write('RangeError: out of memory in the step graph\\n'); process.exit(3); }
  if (step === 20) { clearInterval(t); ev({ type: 'done', step, adapter: 'adapter' }); fs.rmSync(path.join(dir, 'owner.lock')); }
}, ${'${DELAY}'});
`;

function fakeTrainer(delayMs: number): string {
  const f = path.join(tempDir(), 'fake-trainer.js');
  fs.writeFileSync(f, FAKE.replace('${DELAY}', String(delayMs)));
  return f;
}

async function waitFor(what: string, probe: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('run folders and the trainer process', function () {
  this.timeout(30_000);

  it('launches the trainer with glibc asking for transparent huge pages, keeping tunables already set', function () {
    if (process.platform !== 'linux') this.skip();
    assert.equal(hugePagesEnv({ A: '1' }).GLIBC_TUNABLES, 'glibc.malloc.hugetlb=1');
    assert.equal(hugePagesEnv({ A: '1' }).A, '1');
    assert.equal(hugePagesEnv({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }).GLIBC_TUNABLES, 'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1');
    assert.equal(hugePagesEnv({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' }).GLIBC_TUNABLES, 'glibc.malloc.hugetlb=0', "the user's own choice stays");
    // The launched process gets it.
    const dir = tempDir();
    const entry = path.join(dir, 'env.js');
    fs.writeFileSync(entry, `require('fs').writeFileSync(process.argv[2] + '/env.txt', process.env.GLIBC_TUNABLES ?? '')`);
    launchDetached(entry, [dir], dir, { PATH: process.env.PATH });
    const file = path.join(dir, 'env.txt');
    const until = Date.now() + 10_000;
    while (!fs.existsSync(file) && Date.now() < until) spawnSync('sleep', ['0.05']);
    assert.equal(fs.readFileSync(file, 'utf8'), 'glibc.malloc.hugetlb=1');
  });

  it('names runs by UTC time and recipe, never reusing a folder', () => {
    const runs = tempDir();
    const now = new Date('2026-11-28T09:08:07.123Z');
    const a = createRunDir(runs, 'support tone', now);
    const b = createRunDir(runs, 'support tone', now);
    assert.equal(path.basename(a), '20261128T090807Z-support-tone');
    assert.equal(path.basename(b), '20261128T090807Z-support-tone-1');
  });

  it('a detached trainer outlives the process that started it, and a second process follows it to the end', async () => {
    const runs = tempDir();
    const dir = createRunDir(runs, 'detached');
    const entry = fakeTrainer(40);
    // The launcher is a separate Node process that starts the trainer and exits at once.
    const launcher = spawnSync(
      process.execPath,
      [
        '-e',
        `const {launchDetached} = require(${JSON.stringify(path.join(ROOT, 'out/src/core/train/run.js'))}); console.log(launchDetached(${JSON.stringify(entry)}, [], ${JSON.stringify(dir)}));`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(launcher.status, 0, launcher.stderr);
    const pid = Number(launcher.stdout.trim());
    await waitFor('the lock', () => readLock(dir)?.pid === pid);
    assert.ok(isProcessAlive(pid), 'the trainer is alive after its launcher exited');
    const seen: RunEvent[] = [];
    const last = await followEvents(path.join(dir, EVENTS), (e) => seen.push(e), { pollMs: 20, isOwnerAlive: () => ownerAlive(dir) });
    assert.equal(last?.type, 'done');
    assert.equal(seen.filter((e) => e.type === 'step').length, 20);
    const summary = listRuns(runs)[0]!;
    assert.deepEqual([summary.state, summary.lastStep, summary.totalSteps], ['done', 20, 20]);
  });

  it('a run just launched counts as owned until its grace ends, and no longer once its owner has come and gone', async () => {
    const dir = createRunDir(tempDir(), 'grace');
    assert.equal(launchedOwnerAlive(dir, 0)(), false, 'no owner and no grace left');
    const check = launchedOwnerAlive(dir, 60_000);
    assert.equal(check(), true, 'not started yet, within the grace');
    acquireLock(dir);
    assert.equal(check(), true, 'the owner holds the lock');
    releaseLock(dir);
    assert.equal(check(), false, 'the owner was seen and is gone: the grace no longer applies');
  });

  it('cancels a running trainer', async () => {
    const dir = createRunDir(tempDir(), 'cancel');
    const pid = launchDetached(fakeTrainer(50), [], dir);
    await waitFor('a few steps', () => inspectRun(dir).lastStep >= 2);
    assert.equal(requestCancel(dir), true);
    await waitFor('the trainer to exit', () => !isProcessAlive(pid));
    const s = inspectRun(dir);
    assert.equal(s.state, 'cancelled');
    assert.ok(s.lastStep < 20);
  });

  it('records a crash with the tail of its stderr, and refuses a second owner while one is alive', async () => {
    const dir = createRunDir(tempDir(), 'crash');
    const pid = launchDetached(fakeTrainer(20), ['crash'], dir);
    await waitFor('the lock', () => readLock(dir)?.pid === pid);
    if (isProcessAlive(pid)) assert.throws(() => acquireLock(dir), /owned by process/);
    await waitFor('the crash', () => !isProcessAlive(pid));
    const s = inspectRun(dir);
    assert.equal(s.state, 'failed');
    const failed = s.events.at(-1)!;
    assert.ok(failed.type === 'failed' && failed.stderr?.includes('out of memory in the step graph'));
    assert.equal(s.lastStep, 3, 'the steps written before the crash are kept');
    acquireLock(dir); // the owner is dead: the run can be taken over (to resume it)
  });

  /**
   * Several processes race for one run's lock, each in its own Node process, released together by a
   * start time: each prints whether it got the lock. A winner holds it (stays alive) until every loser
   * has given up, so that a slow loser cannot rightly take over a lock whose owner has meanwhile exited.
   * Exactly one may win, with no lock before, and with a stale lock of a dead process before (the
   * takeover race).
   */
  async function race(dir: string, n: number): Promise<number> {
    const runJs = path.join(ROOT, 'out', 'src', 'core', 'train', 'run.js');
    const release = path.join(dir, 'release');
    const script = `const fs = require('fs');
      const { acquireLock } = require(${JSON.stringify(runJs)});
      const at = Number(process.argv[1]);
      while (Date.now() < at) {}
      let won = false;
      const pause = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 150);
      try { acquireLock(${JSON.stringify(dir)}, process.pid, pause); won = true; process.stdout.write('won'); }
      catch (e) { process.stdout.write('lost: ' + e.message); }
      if (won) { const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(release)})) { clearInterval(t); } }, 20); }`;
    const at = Date.now() + 700;
    let settled = 0;
    const outs = await Promise.all(
      Array.from(
        { length: n },
        () =>
          new Promise<string>((resolve) => {
            const c = spawn(process.execPath, ['-e', script, String(at)], { stdio: ['ignore', 'pipe', 'inherit'] });
            let out = '';
            c.stdout.on('data', (d: Buffer) => {
              out += d.toString();
              // Every process has answered: the winner may go.
              if (++settled === n) fs.writeFileSync(release, '');
            });
            c.on('exit', () => resolve(out));
          }),
      ),
    );
    for (const o of outs) assert.match(o, /^(won|lost: .*owned by process \d+, still running)/, o);
    return outs.filter((o) => o === 'won').length;
  }

  it('of four trainers started on one run at once, exactly one takes the lock, fresh or over a dead owner', async function () {
    this.timeout(60_000);
    for (let round = 0; round < 4; round++) {
      const fresh = createRunDir(tempDir(), 'race');
      assert.equal(await race(fresh, 4), 1, `fresh run, round ${round}`);
      const stale = createRunDir(tempDir(), 'stale');
      const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
      fs.writeFileSync(path.join(stale, 'owner.lock'), JSON.stringify({ pid: Number(dead.stdout), host: os.hostname(), started: new Date().toISOString() }));
      assert.equal(await race(stale, 4), 1, `stale lock, round ${round}`);
      assert.ok(!fs.existsSync(path.join(stale, 'owner.lock.takeover')), 'the takeover file is gone');
    }
  });

  it('a trainer that has exited but is not yet reaped (a zombie) counts as dead, and its run as ownerless', async function () {
    if (process.platform === 'win32') this.skip();
    // sh starts a short sleep in the background, then becomes a long sleep that never reaps it.
    const sh = spawn('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = await new Promise<number>((resolve) => sh.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
      assert.ok(isProcessAlive(pid), 'running at first');
      await new Promise((r) => setTimeout(r, 600));
      let signalled = true;
      try {
        process.kill(pid, 0);
      } catch {
        signalled = false;
      }
      assert.ok(signalled, 'the zombie still answers signal 0: the check must look further');
      assert.equal(isProcessAlive(pid), false, 'an unreaped zombie is not alive');
      const dir = createRunDir(tempDir(), 'zombie');
      fs.writeFileSync(path.join(dir, 'owner.lock'), JSON.stringify({ pid, host: os.hostname(), started: new Date().toISOString() }));
      fs.writeFileSync(
        path.join(dir, 'events.jsonl'),
        `${JSON.stringify({ type: 'started', pid, totalSteps: 5, trainExamples: 4, validationExamples: 0, time: new Date().toISOString() })}\n`,
      );
      assert.equal(ownerAlive(dir), false);
      assert.equal(inspectRun(dir).state, 'failed', 'not "still going"');
    } finally {
      sh.kill();
    }
  });

  it('a launched trainer that exits before taking the lock ends the grace at once', async () => {
    const dir = createRunDir(tempDir(), 'early-exit');
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const check = launchedOwnerAlive(dir, 60_000, Number(child.stdout));
    assert.equal(check(), false, 'its process is gone: no need to wait 60 s');
  });
});
