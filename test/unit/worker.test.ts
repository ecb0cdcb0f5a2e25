import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { WorkerClient, WorkerError } from '../../src/worker/client';
import { FromWorker, ToWorker } from '../../src/worker/protocol';
import { GOLDEN, ROOT } from '../helpers';

describe('worker process boundary', () => {
  let client: WorkerClient;
  const logs: string[] = [];
  beforeEach(() => {
    client = new WorkerClient({ entry: path.join(ROOT, 'dist', 'worker.js'), onLog: (l, m) => logs.push(`${l}: ${m}`) });
  });
  afterEach(() => client.dispose());

  it('answers in another process', async () => {
    const r = await client.request('ping', {});
    assert.notEqual(r.pid, process.pid);
  });

  it('describes a checkpoint', async () => {
    const d = await client.request('describeCheckpoint', { dir: path.join(GOLDEN, 'gpt2') });
    assert.equal(d.architecture, 'GPT2LMHeadModel');
    assert.ok(d.lines.some((l) => l.includes('learned absolute positions')));
  });

  it('returns user errors with the file they name', async () => {
    const dir = path.join(GOLDEN, 'nope');
    await assert.rejects(client.request('describeCheckpoint', { dir }), (e: unknown) => e instanceof WorkerError && e.info.user && e.info.file === path.join(dir, 'config.json'));
  });

  it('refuses invalid params before sending them', async () => {
    await assert.rejects(client.request('describeCheckpoint', { dir: '' }), /invalid params for describeCheckpoint: dir/);
  });

  it('fails pending requests when the worker dies, and starts a new worker for the next', async () => {
    const first = await client.request('ping', {});
    process.kill(first.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    const second = await client.request('ping', {});
    assert.notEqual(second.pid, first.pid);
  });

  it('the schemas refuse malformed messages on both sides', () => {
    assert.equal(ToWorker.safeParse({ kind: 'request', id: 1, method: 'rm -rf', params: {} }).success, false);
    assert.equal(ToWorker.safeParse({ kind: 'cancel', id: 'x' }).success, false);
    assert.equal(FromWorker.safeParse({ kind: 'result', id: 1, result: null }).success, true); // the result is checked per method by the client
    assert.equal(FromWorker.safeParse({ kind: 'log', level: 'loud', message: 'x' }).success, false);
    assert.equal(FromWorker.safeParse({ kind: 'error', id: 1, error: { message: 'x' } }).success, false);
  });
});
