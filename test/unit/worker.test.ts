import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExportDtype } from '../../src/core/dtypes';
import { exportCheckpoint, listExports } from '../../src/core/export/export';
import { WorkerClient, WorkerError } from '../../src/worker/client';
import { FromWorker, type RequestEvent, ToWorker } from '../../src/worker/protocol';
import { GOLDEN, ROOT, tempDir } from '../helpers';
import { fakeHubHome } from '../hub-cache';

/** How `p` rejects; a failure if it resolves, or has not settled within `ms` (a request left pending for ever). */
async function rejectionWithin(p: Promise<unknown>, ms: number): Promise<Error> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`still pending after ${ms} ms`), ms);
  });
  try {
    const outcome = await Promise.race([
      p.then(
        () => 'resolved',
        (e: unknown) => e,
      ),
      late,
    ]);
    assert.ok(outcome instanceof Error, `expected a rejection, got: ${String(outcome)}`);
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}

describe('worker process boundary', () => {
  let client: WorkerClient;
  const logs: string[] = [];
  const entry = path.join(ROOT, 'dist', 'worker.js');
  beforeEach(() => {
    client = new WorkerClient({ entry, onLog: (l, m) => logs.push(`${l}: ${m}`) });
  });
  afterEach(() => client.dispose());

  it('starts the worker with glibc asking for huge pages (it exports and loads models)', async function () {
    if (process.platform !== 'linux') this.skip();
    const dir = tempDir();
    const stub = path.join(dir, 'stub.js');
    fs.writeFileSync(
      stub,
      `require('fs').writeFileSync(${JSON.stringify(path.join(dir, 'env.txt'))}, process.env.GLIBC_TUNABLES ?? ''); process.send({ kind: 'ready', pid: process.pid }); setInterval(() => {}, 1000);`,
    );
    const { GLIBC_TUNABLES: _, ...env } = process.env;
    const c = new WorkerClient({ entry: stub, env });
    try {
      await (c as unknown as { start(): Promise<void> }).start();
      assert.equal(fs.readFileSync(path.join(dir, 'env.txt'), 'utf8'), 'glibc.malloc.hugetlb=1');
    } finally {
      c.dispose();
    }
  });

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
    await assert.rejects(
      client.request('describeCheckpoint', { dir }),
      (e: unknown) => e instanceof WorkerError && e.info.user && e.info.file === path.join(dir, 'config.json'),
    );
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

  it('fails a request in flight when the worker dies in the middle of a generation', async function () {
    this.timeout(60_000); // the worker exports the checkpoint first
    const { pid } = await client.request('ping', {});
    const m = await client.request('loadModel', { source: path.join(GOLDEN, 'llama'), cacheDir: tempDir(), threads: 1 });
    const golden = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'llama', 'golden.json'), 'utf8')) as { greedy_base: number[] };
    let tokens = 0;
    const generation = client.request(
      'generate',
      { handle: m.handle, prompt: { ids: golden.greedy_base.slice(0, 8) }, params: { maxTokens: 240 } },
      undefined,
      (e) => {
        if (e.type === 'token' && ++tokens === 1) process.kill(pid, 'SIGKILL');
      },
    );
    const e = await rejectionWithin(generation, 5000);
    assert.match(e.message, /^worker exited \(SIGKILL\)/);
    assert.ok(tokens >= 1 && tokens < 240, `${tokens} tokens: killed while streaming`);
  });

  it('cancelling a load cancels its Hub download, even on a connection that has gone silent', async function () {
    this.timeout(20_000);
    // A Hub that takes the request and never answers; the worker would wait a minute for it.
    const seen: string[] = [];
    const hub = http.createServer((req) => void seen.push(req.url ?? ''));
    await new Promise<void>((resolve) => hub.listen(0, '127.0.0.1', resolve));
    try {
      const env = {
        ...process.env,
        HF_ENDPOINT: `http://127.0.0.1:${(hub.address() as AddressInfo).port}`,
        HF_HUB_CACHE: tempDir(),
        HF_HUB_OFFLINE: '',
        TUNELOOP_HUB_IDLE_TIMEOUT_MS: '60000',
      };
      client = new WorkerClient({ entry, env });
      const controller = new AbortController();
      const load = client.request('loadModel', { source: 'tiny-org/silent', allowDownload: true, cacheDir: tempDir() }, controller.signal);
      for (let i = 0; i < 200 && seen.length === 0; i++) await sleep(25);
      assert.deepEqual(seen, ['/api/models/tiny-org/silent/revision/main'], 'the worker asked the Hub');
      controller.abort();
      const e = await rejectionWithin(load, 3000);
      assert.ok(e instanceof WorkerError, String(e));
      assert.match(e.message, /aborted/);
    } finally {
      hub.closeAllConnections();
      await new Promise<void>((resolve) => hub.close(() => resolve()));
    }
  });

  it('runs the matrix on a Hub model from the Hugging Face cache, and names the consent a missing one needs', async function () {
    this.timeout(60_000);
    const hf = fakeHubHome('test-org/tiny-llama');
    client = new WorkerClient({ entry, env: { ...process.env, HF_HOME: hf.home, HF_HUB_CACHE: '', HF_HUB_OFFLINE: '', HF_ENDPOINT: 'http://127.0.0.1:9' } });
    const request = (model: string) => {
      const events: RequestEvent[] = [];
      const result = client.request(
        'runMatrix',
        {
          promptFile: path.join(tempDir(), 'm.prompt.yml'),
          promptText: 'messages:\n  - role: user\n    content: "Name a colour like {{word}}."\nevaluators:\n  - name: short\n    maxLength: 400\n',
          model,
          variants: [{ name: 'base' }, { name: 'adapter', adapterDir: path.join(GOLDEN, 'llama', 'adapter') }],
          cases: [{ index: 0, vars: { word: 'red' } }],
          params: { maxTokens: 6 },
          cacheDir: tempDir(),
          threads: 1,
        },
        undefined,
        (e) => events.push(e),
      );
      return { events, result };
    };
    const cached = request('test-org/tiny-llama');
    assert.deepEqual(await cached.result, { passRates: { base: 1, adapter: 1 }, cancelled: false });
    assert.deepEqual(
      cached.events.filter((e) => e.type === 'cell').map((e) => e.type === 'cell' && e.variant),
      ['base', 'adapter'],
    );
    const absent = request('test-org/absent');
    assert.deepEqual(await absent.result, { passRates: {}, cancelled: false });
    const errors = absent.events.filter((e) => e.type === 'variantError');
    assert.equal(errors.length, 2, 'each variant that needs the base model says why it cannot run');
    for (const e of errors)
      assert.match(
        e.type === 'variantError' ? e.message : '',
        /model "test-org\/absent" looks like a Hub id, but downloading is not enabled here and the Hugging Face cache \(.*\) does not hold it \(allow the download in the panel, or give a local model folder\)/,
      );
  });

  it('runs the matrix in the requested dtype: a folder holding two dtypes loads each (kept apart), an adapter on a q4 base runs in q4', async function () {
    this.timeout(120_000);
    const cacheDir = tempDir();
    // A transformers.js folder with the fp32 and the q8 file, as a Hub folder has them.
    const both = tempDir();
    fs.cpSync((await exportCheckpoint(path.join(GOLDEN, 'llama'), { cacheDir })).dir, both, { recursive: true });
    const q8 = (await exportCheckpoint(path.join(GOLDEN, 'llama'), { cacheDir, dtype: 'q8' })).dir;
    fs.copyFileSync(path.join(q8, 'onnx', 'model_quantized.onnx'), path.join(both, 'onnx', 'model_quantized.onnx'));
    const run = async (model: string, dtype: ExportDtype | undefined, variants: { name: string; adapterDir?: string }[]) => {
      const events: RequestEvent[] = [];
      const result = await client.request(
        'runMatrix',
        {
          promptFile: path.join(tempDir(), 'm.prompt.yml'),
          promptText: 'messages:\n  - role: user\n    content: "Name a colour like {{word}}."\n',
          model,
          variants,
          cases: [{ index: 0, vars: { word: 'red' } }],
          params: { maxTokens: 4 },
          ...(dtype ? { dtype } : {}),
          cacheDir,
          threads: 1,
        },
        undefined,
        (e) => events.push(e),
      );
      assert.equal(result.cancelled, false);
      assert.deepEqual(
        events.filter((e) => e.type === 'variantError'),
        [],
      );
      return events.flatMap((e) => (e.type === 'variantLoaded' ? [`${e.variant} ${e.dtype}`] : []));
    };
    // The worker keeps models between requests: the same folder in another dtype is another model.
    assert.deepEqual(await run(both, undefined, [{ name: 'base' }]), ['base fp32']);
    assert.deepEqual(await run(both, 'q8', [{ name: 'base' }]), ['base q8']);
    assert.deepEqual(await run(both, 'fp32', [{ name: 'base' }]), ['base fp32']);
    const adapter = { name: 'adapter', adapterDir: path.join(GOLDEN, 'llama', 'adapter') };
    assert.deepEqual(await run(path.join(GOLDEN, 'llama'), 'q4', [{ name: 'base' }, adapter]), ['base q4', 'adapter q4']);
    const exports = listExports(cacheDir);
    assert.ok(
      exports.some((e) => e.dtype === 'q4' && e.adapter === adapter.adapterDir),
      `the adapter was exported in q4: ${exports.map((e) => `${e.dtype} ${e.adapter}`).join(', ')}`,
    );
    // A dtype the exporter does not write is refused before it is sent.
    await assert.rejects(run(both, 'q5' as ExportDtype, [{ name: 'base' }]), /dtype/);
  });

  it('the schemas refuse malformed messages on both sides', () => {
    assert.equal(ToWorker.safeParse({ kind: 'request', id: 1, method: 'rm -rf', params: {} }).success, false);
    assert.equal(ToWorker.safeParse({ kind: 'cancel', id: 'x' }).success, false);
    assert.equal(FromWorker.safeParse({ kind: 'result', id: 1, result: null }).success, true); // the result is checked per method by the client
    assert.equal(FromWorker.safeParse({ kind: 'log', level: 'loud', message: 'x' }).success, false);
    assert.equal(FromWorker.safeParse({ kind: 'error', id: 1, error: { message: 'x' } }).success, false);
  });
});
