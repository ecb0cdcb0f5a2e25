import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { readSnapshot } from '../../src/core/compare/snapshot';
import type { ExportDtype } from '../../src/core/dtypes';
import { listExports } from '../../src/core/export/export';
import { inspectRun, requestCancel } from '../../src/core/train/run';
import { resumeRun, startRun } from '../../src/core/train/start';
import { PanelController, type PanelEnv } from '../../src/extension/panel/controller';
import { type FromPanel, ToPanel } from '../../src/extension/panel/protocol';
import { WorkerClient } from '../../src/worker/client';
import { DISTILL_QUESTIONS } from '../distill-fixture';
import { goldenCopy, ROOT, tempDir } from '../helpers';

/**
 * The panel's controller driven as VS Code drives it, with a stand-in page (every message it posts is
 * validated against the protocol, as the real page does) and a real worker process: base against an
 * adapter, streamed; Stop; the matrix and "accept as snapshot" (checked by `tuneloop eval`); a
 * fine-tune in the detached trainer followed to the end; and the extension host's event loop,
 * measured while the worker loads models and merges the adapter.
 */
// The workspaces sit inside one repository (a folder with .git, the root of their paths) that
// holds the model, as a user's repository would (src/core/fs/root.ts).
const REPO = tempDir('tuneloop-panel-repo-');
fs.mkdirSync(path.join(REPO, '.git'));
const LLAMA = goldenCopy(REPO);
const TRAINER = path.join(ROOT, 'dist', 'trainer.js');

class FakePage {
  /** As the page receives them: serialized (postMessage clones), validated when the test reads them. */
  private readonly raw: unknown[] = [];
  private waiters: { test: (m: ToPanel) => boolean; resolve: (m: ToPanel) => void }[] = [];

  post(message: unknown): void {
    const m = JSON.parse(JSON.stringify(message)) as { type: string };
    this.raw.push(m);
    if (this.waiters.length) this.waiters = this.waiters.filter((w) => (w.test(this.check(m)) ? (w.resolve(this.check(m)), false) : true));
  }

  /** The page's own check: what the controller sends must pass the protocol. */
  private check(m: unknown): ToPanel {
    return ToPanel.parse(m);
  }

  get received(): ToPanel[] {
    return this.raw.map((m) => this.check(m));
  }

  of<T extends ToPanel['type']>(type: T): Extract<ToPanel, { type: T }>[] {
    return this.received.filter((m): m is Extract<ToPanel, { type: T }> => m.type === type);
  }

  wait<T extends ToPanel['type']>(
    type: T,
    test: (m: Extract<ToPanel, { type: T }>) => boolean = () => true,
    ms = 120_000,
  ): Promise<Extract<ToPanel, { type: T }>> {
    const found = this.of(type).find(test);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} message within ${ms} ms; got ${this.received.map((m) => m.type).join(', ')}`)), ms);
      this.waiters.push({
        test: (m) => m.type === type && test(m as Extract<ToPanel, { type: T }>),
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Extract<ToPanel, { type: T }>);
        },
      });
    });
  }
}

/**
 * The host's event loop while the worker works, measured two ways. Event-loop delay (a 5 ms timer's
 * lateness) is wall-clock time, which a loaded machine stretches as well as a blocking host; the CPU
 * time the process spent between two ticks of a 5 ms timer is how long the host computed without
 * yielding, which load does not stretch (a descheduled process uses no CPU).
 */
function watchHost(): { stop(): HostFigures } {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  let last = process.cpuUsage();
  let maxBusyUs = 0;
  const timer = setInterval(() => {
    const now = process.cpuUsage(last);
    last = process.cpuUsage();
    maxBusyUs = Math.max(maxBusyUs, now.user + now.system);
  }, 5);
  return {
    stop() {
      clearInterval(timer);
      delay.disable();
      return { maxDelayMs: delay.max / 1e6, p99DelayMs: delay.percentile(99) / 1e6, maxBusyMs: maxBusyUs / 1000 };
    },
  };
}

interface HostFigures {
  readonly maxDelayMs: number;
  readonly p99DelayMs: number;
  readonly maxBusyMs: number;
}

/**
 * The gates, with headroom for a loaded 2-core machine (at a load of 7, the longest busy stretch seen
 * was 41 ms, the longest delay 128 ms, the p99 23 ms): no stretch of computation in the host over
 * 150 ms, no stall of any kind (a synchronous wait included) over 1 s, and 99 % of timer ticks on
 * time within 100 ms. Delay is printed, not gated, below those: it measures the machine as much as the host.
 */
function assertHostResponsive(h: HostFigures): void {
  assert.ok(h.maxBusyMs < 150, `the extension host computed for ${h.maxBusyMs.toFixed(1)} ms without yielding`);
  assert.ok(h.maxDelayMs < 1000, `the extension host's event loop was blocked for ${h.maxDelayMs.toFixed(1)} ms`);
  assert.ok(h.p99DelayMs < 100, `the extension host's event loop was late by ${h.p99DelayMs.toFixed(1)} ms at the 99th percentile`);
}

interface Fixture {
  readonly ws: string;
  readonly page: FakePage;
  readonly env: PanelEnv & {
    trusted: boolean;
    finishBeforeReturning: boolean;
    runsHidden: boolean;
    /** The tuneloop.dtype setting (absent: not set). */
    dtype: ExportDtype | undefined;
    diffs: { left: string; right: string; title: string }[];
    logs: string[];
    trainCalls: string[];
    /** How often the trust editor was asked for. */
    trustEditorOpened: number;
  };
  readonly controller: PanelController;
  send(m: FromPanel): Promise<void>;
}

const PROMPT = (snapshot = true) => `name: colours
model: ${LLAMA}
messages:
  - role: user
    content: "Name a colour like {{word}}."
testData:
  - word: red
  - word: blue
evaluators:
  - name: short
    maxLength: 400
adapters:
  - path: ${path.join(LLAMA, 'adapter_trained')}
${snapshot ? 'snapshot: colours.snapshot.json\n' : ''}modelParameters:
  maxTokens: 12
`;

function fixture(worker: WorkerClient, cacheDir: string, files: Record<string, string> = { 'colours.prompt.yml': PROMPT() }): Fixture {
  const ws = fs.mkdtempSync(path.join(REPO, 'ws-'));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(ws, name)), { recursive: true });
    fs.writeFileSync(path.join(ws, name), text);
  }
  const page = new FakePage();
  const env = {
    trusted: true,
    finishBeforeReturning: false,
    dtype: undefined as ExportDtype | undefined,
    diffs: [] as { left: string; right: string; title: string }[],
    logs: [] as string[],
    /** What the panel asked of the trainer, in order: `start RECIPE`, `cancel DIR`, `resume DIR`. */
    trainCalls: [] as string[],
    post: (m: ToPanel) => page.post(m),
    isTrusted: () => env.trusted,
    hasWorkspace: () => true,
    paths: () => ({ root: REPO, trustedReads: [] }),
    /** While a forced race runs (finishBeforeReturning), the panel's scans find no run, as if none fell during it. */
    runsHidden: false,
    runsFolder: () => path.join(ws, '.tuneloop', env.runsHidden ? 'not-yet' : 'runs'),
    findFiles: async (kind: 'prompt' | 'recipe') =>
      Object.keys(files)
        .filter((f) => (kind === 'prompt' ? /\.prompt\.ya?ml$/ : /\.adapter\.ya?ml$/).test(f))
        .map((f) => path.join(ws, f)),
    readDocument: (file: string) => fs.promises.readFile(file, 'utf8'),
    // One onnxruntime thread: on a 2-core machine the worker then leaves a core to the host, whose delays are measured.
    settings: () => ({ defaultModel: '', settingBase: ws, threads: 1, cacheDir, ...(env.dtype ? { dtype: env.dtype } : {}) }),
    inWorkspace: (p: string) => !path.relative(ws, p).startsWith('..'),
    label: (p: string) => (p.startsWith(ws) ? path.relative(ws, p) : p),
    pickFolder: async () => undefined,
    openDiff: async (left: { title: string; text: string }, right: { title: string; text: string }, title: string) =>
      void env.diffs.push({ left: left.text, right: right.text, title }),
    openFile: async () => undefined,
    revealFolder: async () => undefined,
    trustEditorOpened: 0,
    manageTrust: async () => void env.trustEditorOpened++,
    train: {
      start: async (recipe: string) => {
        env.trainCalls.push(`start ${recipe}`);
        // The race a fast run makes, forced: the run is over before the panel first scans it (its
        // 1 s poll would otherwise see a run that takes longer, as on a loaded machine).
        env.runsHidden = env.finishBeforeReturning;
        const { runDir } = await startRun(recipe, { runsDir: path.join(ws, '.tuneloop', 'runs'), trainerEntry: TRAINER, threads: 2 });
        if (env.finishBeforeReturning) while (inspectRun(runDir).state !== 'done') await new Promise((r) => setTimeout(r, 50));
        env.runsHidden = false;
        return runDir;
      },
      cancel: (dir: string) => {
        env.trainCalls.push(`cancel ${dir}`);
        requestCancel(dir);
      },
      resume: (dir: string) => {
        env.trainCalls.push(`resume ${dir}`);
        resumeRun(dir, { trainerEntry: TRAINER });
      },
    },
    log: { info: (m: string) => env.logs.push(m), warn: (m: string) => env.logs.push(m), error: (m: string) => env.logs.push(m), debug: () => undefined },
  };
  const controller = new PanelController(env, worker);
  return { ws, page, env, controller, send: (m) => controller.receive(m) };
}

describe('panel controller (stand-in page, real worker)', function () {
  this.timeout(240_000);
  let worker: WorkerClient;
  let cacheDir: string;
  const fixtures: Fixture[] = [];
  const make = (files?: Record<string, string>) => {
    const f = fixture(worker, cacheDir, files);
    fixtures.push(f);
    return f;
  };

  before(() => {
    worker = new WorkerClient({ entry: path.join(ROOT, 'dist', 'worker.js') });
    cacheDir = tempDir('tuneloop-panel-cache-');
  });
  afterEach(() => {
    for (const f of fixtures.splice(0)) f.controller.dispose();
  });
  after(() => worker.dispose());

  it('show on a test case (a CodeLens, the cursor): the prompt goes to the page with that case; a case the file lacks is not sent', async () => {
    const f = make();
    const file = path.join(f.ws, 'colours.prompt.yml');
    await f.send({ type: 'panel/ready' });
    await f.page.wait('panel/init');
    await f.page.wait('panel/prompt');
    await f.controller.show({ tab: 'compare', file, autorun: 'compare', caseIndex: 1 });
    const withCase = f.page.of('panel/prompt').at(-1)!;
    assert.equal(withCase.caseIndex, 1);
    assert.equal(withCase.autorun, 'compare');
    await f.controller.show({ tab: 'compare', file, caseIndex: 2 });
    assert.ok(!('caseIndex' in f.page.of('panel/prompt').at(-1)!), 'only two cases');
  });

  it('a save of the selected prompt file sends its info again (the matrix header counts the new evaluator); another file changes nothing', async () => {
    const f = make();
    const file = path.join(f.ws, 'colours.prompt.yml');
    await f.send({ type: 'panel/ready' });
    const first = await f.page.wait('panel/prompt');
    assert.deepEqual(
      first.info.evaluators.map((e) => e.name),
      ['short'],
    );
    const before = f.page.of('panel/prompt').length;
    await f.controller.fileSaved(path.join(f.ws, 'other.prompt.yml'));
    assert.equal(f.page.of('panel/prompt').length, before, 'a save of another file sent the prompt again');
    fs.writeFileSync(
      file,
      fs.readFileSync(file, 'utf8').replace('    maxLength: 400\n', '    maxLength: 400\n  - name: mentions-colour\n    string:\n      contains: colour\n'),
    );
    await f.controller.fileSaved(file);
    const again = await f.page.wait('panel/prompt', (m) => m.info.evaluators.length === 2, 30_000);
    assert.deepEqual(
      again.info.evaluators.map((e) => e.name),
      ['short', 'mentions-colour'],
    );
  });

  it("a run's header carries each case's expected value, for the page to show beside the outputs", async () => {
    const f = make({ 'colours.prompt.yml': PROMPT().replace('  - word: red\n', '  - word: red\n    expected: Red is a colour.\n') });
    const file = path.join(f.ws, 'colours.prompt.yml');
    await f.send({ type: 'panel/ready' });
    await f.page.wait('panel/prompt');
    await f.send({ type: 'run/start', mode: 'matrix', file, model: LLAMA, variants: ['base'], params: {} });
    const start = await f.page.wait('run/start');
    assert.deepEqual(
      start.header.cases.map((c) => [c.index, c.expected]),
      [
        [0, 'Red is a colour.'],
        [1, undefined],
      ],
    );
    await f.page.wait('run/end');
  });

  it('lists the workspace, describes the prompt, and runs base against an adapter in the worker without blocking the host', async () => {
    const f = make();
    const file = path.join(f.ws, 'colours.prompt.yml');
    await f.send({ type: 'panel/ready' });
    const init = await f.page.wait('panel/init');
    assert.deepEqual(
      init.prompts.map((p) => p.label),
      ['colours.prompt.yml'],
    );
    const { info } = await f.page.wait('panel/prompt');
    assert.equal(info.model, LLAMA);
    assert.deepEqual(
      info.variants.map((v) => [v.name, v.kind, v.available, v.listed]),
      [
        ['base', 'base', true, true],
        ['adapter_trained', 'adapter', true, true],
      ],
    );
    assert.deepEqual(
      info.cases.map((c) => c.values.word),
      ['red', 'blue'],
    );
    assert.equal(info.params.maxTokens, 12);

    // The host's event loop, measured while the worker exports the checkpoint, merges the adapter,
    // loads both models and generates (a cold cache: the heaviest a run gets).
    const host = watchHost();
    const started = Date.now();
    await f.send({ type: 'run/start', mode: 'compare', file, model: LLAMA, variants: ['base', info.variants[1]!.id], cases: [1], params: {} });
    const h = host.stop();
    const end = await f.page.wait('run/end');
    assert.equal(end.status, 'done', end.message);
    console.log(
      `      host during a ${((Date.now() - started) / 1000).toFixed(1)} s run: event-loop delay max ${h.maxDelayMs.toFixed(1)} ms, p99 ${h.p99DelayMs.toFixed(1)} ms; longest busy stretch ${h.maxBusyMs.toFixed(1)} ms of CPU`,
    );
    assertHostResponsive(h);

    const cells = f.page.of('run/cell');
    assert.equal(cells.length, 2);
    for (const c of cells) {
      assert.equal(c.caseIndex, 1);
      assert.ok(c.cell.tokens.length > 0 && c.cell.timeToFirstTokenMs > 0 && c.cell.tokensPerSecond > 0, JSON.stringify(c.cell));
      assert.deepEqual(
        c.cell.evaluations.map((e) => [e.name, e.passed]),
        [['short', true]],
      );
    }
    // Tokens streamed before each cell ended, batched.
    const streamed = f.page.of('run/tokens');
    assert.ok(streamed.some((t) => t.variant === 'base') && streamed.some((t) => t.variant !== 'base'));
    assert.notEqual(cells[0]!.cell.text, cells[1]!.cell.text, 'the trained adapter changes the output');
    const progress = f.page.of('run/progress').map((p) => p.message);
    assert.ok(
      progress.some((m) => /merging the adapter/.test(m)),
      progress.join('\n'),
    );

    // A page rebuilt (the panel hidden and shown again) gets everything back: the lists, the prompt, the run.
    const before = f.page.received.length;
    await f.send({ type: 'panel/ready' });
    await f.page.wait('run/end', () => f.page.received.length > before + 3);
    const replay = f.page.received.slice(before).map((m) => m.type);
    for (const t of ['panel/init', 'runs/list', 'panel/prompt', 'run/start', 'run/cell', 'run/end'] as const)
      assert.ok(replay.includes(t), `${t} not replayed: ${replay.join(', ')}`);
    assert.equal(replay.filter((t) => t === 'run/cell').length, 2);

    // Any two outputs in the diff editor.
    await f.send({ type: 'run/openDiff', runId: end.runId, left: { variant: 'base', caseIndex: 1 }, right: { variant: info.variants[1]!.id, caseIndex: 1 } });
    assert.equal(f.env.diffs.length, 1);
    assert.equal(f.env.diffs[0]!.left, cells.find((c) => c.variant === 'base')!.cell.text);
    assert.match(f.env.diffs[0]!.title, /colours\.prompt\.yml: base ↔ adapter_trained/);
  });

  it('Stop cancels every running column at once', async () => {
    const f = make({ 'long.prompt.yml': PROMPT(false).replace('maxTokens: 12', 'maxTokens: 4000') });
    const file = path.join(f.ws, 'long.prompt.yml');
    await f.send({ type: 'panel/ready' });
    const { info } = await f.page.wait('panel/prompt');
    const run = f.send({
      type: 'run/start',
      mode: 'compare',
      file,
      model: LLAMA,
      variants: info.variants.map((v) => v.id),
      cases: [0],
      params: { maxTokens: 4000 },
    });
    await f.page.wait('run/tokens');
    const shown = () => f.page.of('run/tokens').reduce((n, m) => n + m.tokens.length, 0);
    const atStop = shown();
    const stopAt = Date.now();
    await f.send({ type: 'run/stop' });
    await run;
    const end = await f.page.wait('run/end');
    assert.equal(end.status, 'cancelled');
    const cells = f.page.of('run/cell');
    assert.ok(
      cells.every((c) => c.cell.finish === 'cancelled'),
      JSON.stringify(cells.map((c) => c.cell.finish)),
    );
    assert.equal(cells.length, 1, 'the second column never started');
    assert.deepEqual(end.passRates, {});
    // How promptly, counted in tokens rather than milliseconds (a loaded machine slows the clock's
    // view of it, not the count): the worker checks for Stop between tokens, so only those already on
    // their way arrive after it, not the rest of the 4000.
    const after = cells[0]!.cell.tokens.length - atStop;
    console.log(`      stopped ${Date.now() - stopAt} ms after Stop: ${atStop} token(s) shown before it, ${after} after`);
    assert.equal(shown(), cells[0]!.cell.tokens.length, "the streamed tokens are the cell's");
    assert.ok(after < 400, `${after} tokens arrived after Stop`);
  });

  it('runs the matrix with pass rates, and accepts it as the snapshot that tuneloop eval then passes', async () => {
    const f = make();
    const file = path.join(f.ws, 'colours.prompt.yml');
    await f.send({ type: 'panel/ready' });
    const { info } = await f.page.wait('panel/prompt');
    assert.deepEqual(info.snapshot, { label: 'colours.snapshot.json', exists: false });
    await f.send({ type: 'run/start', mode: 'matrix', file, model: LLAMA, variants: info.variants.map((v) => v.id), params: {} });
    const end = await f.page.wait('run/end');
    assert.equal(end.status, 'done', end.message);
    assert.deepEqual(end.passRates, { base: 1, [info.variants[1]!.id]: 1 });
    const cells = f.page.of('run/cell');
    assert.equal(cells.length, 4);
    assert.ok(cells.every((c) => c.cell.snapshot === 'new'));

    // Overridden settings would make a snapshot eval cannot reproduce: refused.
    await f.send({ type: 'run/start', mode: 'matrix', file, model: LLAMA, variants: info.variants.map((v) => v.id), params: { maxTokens: 3 } });
    const overridden = await f.page.wait('run/end', (m) => m.runId !== end.runId);
    await f.send({ type: 'snapshot/accept', runId: overridden.runId });
    assert.match(f.page.of('panel/notice').at(-1)!.message, /settings other than the prompt file's/);

    await f.send({ type: 'snapshot/accept', runId: end.runId });
    const written = await f.page.wait('snapshot/written');
    assert.equal(written.label, 'colours.snapshot.json');
    const snap = readSnapshot(path.join(f.ws, 'colours.snapshot.json'))!;
    assert.deepEqual(Object.keys(snap.outputs), ['adapter_trained', 'base']);
    assert.equal(snap.model.id, LLAMA);
    assert.match(snap.model.sha256, /^[0-9a-f]{64}$/);
    // The CLI, as CI runs it, finds the same outputs.
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'eval', 'colours.prompt.yml'], {
      cwd: f.ws,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', TUNELOOP_CACHE: cacheDir },
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /snapshot colours\.snapshot\.json: same/);
  });

  it("runs every variant in the setting's dtype unless the prompt file names one; tags each; accepts a snapshot only in the file's dtype", async () => {
    const f = make();
    f.env.dtype = 'q8';
    const file = path.join(f.ws, 'colours.prompt.yml');
    await f.send({ type: 'panel/ready' });
    const { info } = await f.page.wait('panel/prompt');
    const all = info.variants.map((v) => v.id);
    await f.send({ type: 'run/start', mode: 'matrix', file, model: LLAMA, variants: all, params: {} });
    const start = await f.page.wait('run/start');
    assert.deepEqual(
      start.header.variants.map((v) => [v.name, v.dtype]),
      [
        ['base', 'q8'],
        ['adapter_trained', 'q8'],
      ],
    );
    assert.equal(start.header.dtypeFrom, 'setting');
    const end = await f.page.wait('run/end');
    assert.equal(end.status, 'done', end.message);
    assert.equal(f.page.of('run/cell').length, 4, 'the adapter ran on the q8 base');
    assert.ok(
      listExports(f.env.settings().cacheDir).some((e) => e.dtype === 'q8' && e.adapter === path.join(LLAMA, 'adapter_trained')),
      'the adapter was exported on the base in q8',
    );
    // tuneloop eval runs this file in fp32 (the setting is the editor's): the q8 outputs are not its snapshot.
    await f.send({ type: 'snapshot/accept', runId: end.runId });
    assert.match(
      f.page.of('panel/notice').at(-1)!.message,
      /generated in q8 \(the tuneloop\.dtype setting\), and tuneloop eval runs this prompt file in fp32: add "dtype: q8" to the prompt file/,
    );
    assert.ok(!fs.existsSync(path.join(f.ws, 'colours.snapshot.json')));

    // The prompt file's dtype wins over the setting.
    fs.writeFileSync(file, PROMPT().replace('name: colours\n', 'name: colours\ndtype: q4\n'));
    await f.send({ type: 'run/start', mode: 'compare', file, model: LLAMA, variants: ['base'], cases: [0], params: {} });
    const q4 = await f.page.wait('run/start', (m) => m.header.runId !== start.header.runId);
    assert.deepEqual(
      q4.header.variants.map((v) => v.dtype),
      ['q4'],
    );
    assert.equal(q4.header.dtypeFrom, 'prompt');
    const q4end = await f.page.wait('run/end', (m) => m.runId === q4.header.runId);
    assert.equal(q4end.status, 'done', q4end.message);
  });

  it('writes no snapshot outside the workspace', async () => {
    const f = make({
      'out.prompt.yml': PROMPT()
        .replace(/adapters:\n.*\n/, '')
        .replace('snapshot: colours.snapshot.json', 'snapshot: ../escaped.snapshot.json'),
    });
    await f.send({ type: 'panel/ready' });
    const { info } = await f.page.wait('panel/prompt');
    await f.send({ type: 'run/start', mode: 'matrix', file: info.file, model: LLAMA, variants: ['base'], params: {} });
    const end = await f.page.wait('run/end');
    assert.equal(end.status, 'done');
    await f.send({ type: 'snapshot/accept', runId: end.runId });
    assert.match(f.page.of('panel/notice').at(-1)!.message, /is outside the workspace/);
    assert.equal(fs.existsSync(path.join(path.dirname(f.ws), 'escaped.snapshot.json')), false);
  });

  it('offers a Hub model the cache lacks only after the user allows the download, asking once per model', async () => {
    const prompt = PROMPT().replace(`model: ${LLAMA}`, 'model: test-org/not-downloaded');
    const asked: string[] = [];
    let answer = false;
    const f = make({ 'colours.prompt.yml': prompt });
    f.env.askDownload = async (id: string) => {
      asked.push(id);
      return answer;
    };
    await f.send({ type: 'panel/ready' });
    const first = (await f.page.wait('panel/prompt')).info;
    assert.match(first.modelNote ?? '', /"test-org\/not-downloaded" is neither a local folder nor a downloaded Hub model/);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(asked, ['test-org/not-downloaded'], 'asked once');
    assert.equal(f.page.of('panel/prompt').length, 1, 'declined: nothing changes');
    // Selected again: not asked again this session.
    await f.send({ type: 'panel/selectPrompt', file: first.file });
    assert.deepEqual(asked, ['test-org/not-downloaded']);

    const g = make({ 'colours.prompt.yml': prompt });
    answer = true;
    g.env.askDownload = async (id: string) => {
      asked.push(id);
      return answer;
    };
    await g.send({ type: 'panel/ready' });
    const again = await g.page.wait('panel/prompt', (m) => m.info.models.some((o) => o.id === 'test-org/not-downloaded'));
    assert.equal(again.info.model, 'test-org/not-downloaded');
    assert.match(again.info.models.find((o) => o.id === 'test-org/not-downloaded')!.label, /downloaded when run/);

    const u = make({ 'colours.prompt.yml': prompt });
    u.env.trusted = false;
    const before = asked.length;
    u.env.askDownload = async (id: string) => {
      asked.push(id);
      return true;
    };
    await u.send({ type: 'panel/ready' });
    await u.page.wait('panel/prompt');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(asked.length, before, 'an untrusted workspace is never asked');
  });

  it('runs no model in an untrusted workspace, and drops invalid messages', async () => {
    const f = make();
    f.env.trusted = false;
    await f.send({ type: 'panel/ready' });
    const init = await f.page.wait('panel/init');
    assert.equal(init.trusted, false);
    const { info } = await f.page.wait('panel/prompt');
    await f.send({ type: 'run/start', mode: 'compare', file: info.file, model: LLAMA, variants: ['base'], cases: [0], params: {} });
    assert.match(f.page.of('panel/notice').at(-1)!.message, /untrusted workspace/);
    assert.equal(f.page.of('run/start').length, 0);
    await f.controller.receive({ type: 'run/start', file: '/etc/passwd' });
    await f.controller.receive({ type: 'runCommand', command: 'workbench.action.terminal.new' });
    assert.ok(f.env.logs.filter((l) => /ignored an invalid message/.test(l)).length === 2, f.env.logs.join('\n'));
    // Ids the controller never sent are refused.
    f.env.trusted = true;
    await f.send({ type: 'run/start', mode: 'compare', file: '/etc/hosts', model: LLAMA, variants: ['base'], cases: [0], params: {} });
    assert.match(f.page.of('panel/notice').at(-1)!.message, /unknown prompt file/);
    await f.send({ type: 'run/start', mode: 'compare', file: info.file, model: '/', variants: ['base'], cases: [0], params: {} });
    assert.match(f.page.of('panel/notice').at(-1)!.message, /unknown model/);
  });

  it('starts and resumes no training in an untrusted workspace', async () => {
    const f = make({
      'colours.prompt.yml': PROMPT(false),
      'colors.adapter.yml': `base_model: ${LLAMA}\ndataset:\n  path: data/colors.jsonl\ntraining:\n  max_steps: 2\n`,
    });
    // A cancelled run, as a trusted session would have left it: listed, so its folder is one the panel knows.
    const run = path.join(f.ws, '.tuneloop', 'runs', 'colors-1');
    fs.mkdirSync(run, { recursive: true });
    const time = new Date().toISOString();
    fs.writeFileSync(
      path.join(run, 'events.jsonl'),
      `${JSON.stringify({ type: 'started', time, pid: 1, totalSteps: 2, trainExamples: 4, validationExamples: 0 })}\n${JSON.stringify({ type: 'cancelled', time, step: 1, checkpoint: path.join(run, 'checkpoint-1') })}\n`,
    );
    f.env.trusted = false;
    await f.send({ type: 'panel/ready' });
    const init = await f.page.wait('panel/init');
    assert.equal(init.trusted, false);
    const list = await f.page.wait('runs/list');
    assert.deepEqual(
      list.runs.map((r) => [r.dir, r.state]),
      [[run, 'cancelled']],
    );

    await f.send({ type: 'train/start', recipe: init.recipes[0]!.file });
    assert.deepEqual(f.env.trainCalls, [], 'the trainer was asked to start a run');
    assert.match(f.page.of('panel/notice').at(-1)!.message, /untrusted workspace: trust the workspace to fine-tune/);
    await f.send({ type: 'train/resume', dir: run });
    assert.deepEqual(f.env.trainCalls, [], 'the trainer was asked to resume a run');
    assert.match(f.page.of('panel/notice').at(-1)!.message, /untrusted workspace: trust the workspace to resume a run/);
    assert.equal(f.page.of('panel/show').filter((m) => m.tab === 'train').length, 0);
    assert.deepEqual(fs.readdirSync(path.dirname(run)), ['colors-1'], 'a run folder appeared');

    // Cancelling runs no model: allowed (the same stand-in, so the refusals above are the trust check's).
    await f.send({ type: 'train/cancel', dir: run });
    assert.deepEqual(f.env.trainCalls, [`cancel ${run}`]);
  });

  it('fine-tunes in the detached trainer: live loss events, the run listed and finished, its adapter a variant', async () => {
    const words = ['red', 'blue', 'green', 'gold'];
    const rows = Array.from({ length: 24 }, (_, i) =>
      JSON.stringify({ prompt: `color ${i}: ${words[i % 4]}?`, completion: ` ${words[i % 4]} is a color.` }),
    ).join('\n');
    const f = make({
      'colours.prompt.yml': PROMPT(false),
      'data/colors.jsonl': `${rows}\n`,
      'colors.adapter.yml': `base_model: ${LLAMA}\ndataset:\n  path: data/colors.jsonl\n  validation_split: 4\nlora:\n  r: 4\n  lora_alpha: 8\n  target_modules: all-linear\ntraining:\n  learning_rate: 0.01\n  max_steps: 12\n  batch_size: 4\n  schedule: constant\n  seed: 3\n  eval_every: 4\n  checkpoint_every: 4\n`,
    });
    await f.send({ type: 'panel/ready' });
    const init = await f.page.wait('panel/init');
    assert.deepEqual(
      init.recipes.map((r) => r.label),
      ['colors.adapter.yml'],
    );
    await f.page.wait('panel/prompt');
    await f.send({ type: 'train/start', recipe: init.recipes[0]!.file });
    const show = await f.page.wait('panel/show', (m) => m.tab === 'train');
    assert.ok(show.run);
    const done = await f.page.wait('runs/list', (m) => m.runs.some((r) => r.state === 'done'), 180_000);
    assert.equal(done.runs[0]!.lastStep, 12);
    const events = f.page.of('runs/events').flatMap((m) => m.events);
    assert.equal(events.filter((e) => e.type === 'step').length, 12);
    assert.equal(events.filter((e) => e.type === 'eval').length, 3);
    assert.ok(events.some((e) => e.type === 'sample'));
    assert.equal(events.at(-1)!.type, 'done');
    // A 12-step run on this model can finish between two polls, so one incremental batch is all that is
    // certain here; the end-to-end test (test/e2e/panel.ts) watches a long run's curve grow.
    assert.ok(f.page.of('runs/events').filter((m) => !m.reset && m.events.length).length >= 1, 'events arrive as the run goes');
    // The finished run's adapter is offered as a variant of the prompt.
    const after = await f.page.wait('panel/prompt', (m) => m.info.variants.some((v) => v.kind === 'run' && v.available));
    assert.ok(after.info.variants.some((v) => v.kind === 'checkpoint' && v.name.endsWith('@8')));
  });

  it('a run that finishes before the panel first sees it still becomes a variant', async () => {
    const rows = Array.from({ length: 8 }, (_, i) => JSON.stringify({ prompt: `color ${i}?`, completion: ' red.' })).join('\n');
    const f = make({
      'colours.prompt.yml': PROMPT(false),
      'data/colors.jsonl': `${rows}\n`,
      'colors.adapter.yml': `base_model: ${LLAMA}\ndataset:\n  path: data/colors.jsonl\nlora:\n  r: 2\n  target_modules: [q_proj]\ntraining:\n  max_steps: 2\n  batch_size: 4\n  seed: 3\n`,
    });
    f.env.finishBeforeReturning = true;
    await f.send({ type: 'panel/ready' });
    const init = await f.page.wait('panel/init');
    const first = await f.page.wait('panel/prompt');
    assert.ok(!first.info.variants.some((v) => v.kind === 'run'));
    await f.send({ type: 'train/start', recipe: init.recipes[0]!.file });
    const lists = f.page.of('runs/list');
    assert.equal(lists.at(-1)!.runs[0]!.state, 'done', 'the first list that shows the run shows it done');
    assert.ok(!lists.slice(0, -1).some((l) => l.runs.length), 'no list showed it before');
    const after = await f.page.wait('panel/prompt', (m) => m.info.variants.some((v) => v.kind === 'run' && v.available), 20_000);
    assert.ok(after);
  });

  it('probes: runs the file’s probes in the worker and posts the same report as tuneloop probe; Stop stops them; a file without probes is refused', async () => {
    const probed = `${PROMPT(false)}probes:\n  - name: words\n    variable: word\n    values: [red, green]\nmaxProbeFlips: 0\n`;
    const f = make({ 'colours.prompt.yml': probed, 'plain.prompt.yml': PROMPT(false) });
    const file = path.join(f.ws, 'colours.prompt.yml');
    await f.send({ type: 'panel/ready' });
    await f.send({ type: 'panel/selectPrompt', file });
    const { info } = await f.page.wait('panel/prompt', (m) => m.info.file === file);
    assert.deepEqual(info.probes, [{ name: 'words', swaps: 'variable word', labels: ['red', 'green'] }]);
    const variants = info.variants.filter((v) => v.listed).map((v) => v.id);
    await f.send({ type: 'probes/run', file, model: LLAMA, variants });
    const start = await f.page.wait('probes/start');
    assert.deepEqual(
      start.variants.map((v) => v.name),
      ['base', 'adapter_trained'],
    );
    const end = await f.page.wait('probes/end');
    assert.equal(end.status, 'done', end.message);
    assert.ok(f.page.of('probes/progress').length > 0, 'progress while it runs');
    assert.deepEqual(end.limits, { base: 0, adapter_trained: 0 });
    // The CLI on the same file (and cache) reports the same figures.
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'probe', 'colours.prompt.yml', '--reporter', 'json'], {
      cwd: f.ws,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', TUNELOOP_CACHE: cacheDir },
    });
    assert.deepEqual(end.report!.probes, JSON.parse(r.stdout).files[0].probes, r.stderr);

    // Stop: the run ends cancelled (or done, had it finished first), and a new one can start.
    await f.send({ type: 'probes/run', file, model: LLAMA, variants });
    await f.page.wait('probes/start', (m) => m !== start);
    await f.send({ type: 'probes/stop' });
    const stopped = await f.page.wait('probes/end', (m) => m !== end);
    assert.ok(stopped.status === 'cancelled' || stopped.status === 'done', stopped.message);

    // Untrusted: no model runs.
    f.env.trusted = false;
    const before = f.page.of('probes/start').length;
    await f.send({ type: 'probes/run', file, model: LLAMA, variants });
    assert.match(f.page.of('panel/notice').at(-1)!.message, /runs no model and no training in an untrusted workspace/);
    assert.equal(f.page.of('probes/start').length, before);
    f.env.trusted = true;

    await f.send({ type: 'panel/selectPrompt', file: path.join(f.ws, 'plain.prompt.yml') });
    const plain = await f.page.wait('panel/prompt', (m) => m.info.file.endsWith('plain.prompt.yml'));
    await f.send({ type: 'probes/run', file: plain.info.file, model: LLAMA, variants });
    assert.match(f.page.of('panel/notice').at(-1)!.message, /the prompt file has no probes/);
  });

  it('distill: the teacher’s rows previewed, training started and followed, then student against teacher on the held-out cases; refused when untrusted', async () => {
    const f = make({
      'short.adapter.yml':
        'name: short\nbase_model: model\nteacher:\n  prompt: teacher.prompt.yml\nstudent:\n  prompt: student.prompt.yml\ninputs:\n  path: data/inputs.jsonl\ndataset:\n  path: data/distilled.jsonl\n  validation_split: 2\ntraining:\n  max_steps: 2\n  batch_size: 2\n  max_seq_len: 64\n',
      'teacher.prompt.yml':
        'model: model\nmodelParameters:\n  maxTokens: 8\nmessages:\n  - role: system\n    content: Answer in one word.\n  - role: user\n    content: "{{question}}"\ntestData:\n  - question: What colour is grass?\n    answer: green\n  - question: What is the opposite of hot?\n    answer: cold\nevaluators:\n  - name: right\n    string:\n      contains: "{{answer}}"\n',
      'student.prompt.yml': 'model: model\nmessages:\n  - role: user\n    content: "{{question}}"\n',
      'data/inputs.jsonl': `${DISTILL_QUESTIONS.map((q) => JSON.stringify({ question: q })).join('\n')}\n`,
    });
    fs.cpSync(path.join(ROOT, 'models', 'default'), path.join(f.ws, 'model'), { recursive: true });
    const recipe = path.join(f.ws, 'short.adapter.yml');
    await f.send({ type: 'panel/ready' });
    const init = await f.page.wait('panel/init');
    assert.deepEqual(init.recipes, [{ file: recipe, label: 'short.adapter.yml', distill: true }]);
    f.env.trusted = false;
    await f.send({ type: 'distill/run', recipe });
    assert.ok(
      f.env.logs.some((l) => /untrusted workspace: trust the workspace to distill/.test(l)),
      f.env.logs.join('\n'),
    );
    assert.equal(f.page.of('distill/data').length, 0);
    f.env.trusted = true;
    await f.send({ type: 'distill/run', recipe });
    const data = await f.page.wait('distill/data');
    assert.equal(data.total, 6);
    assert.deepEqual(
      data.rows.map((r) => r.input),
      DISTILL_QUESTIONS,
    );
    assert.ok(data.rows.every((r) => r.answer.length > 0));
    assert.ok(f.page.of('distill/progress').some((m) => m.message === 'teacher: 6/6 answers'));
    const shown = await f.page.wait('panel/show', (m) => m.tab === 'train');
    assert.deepEqual(f.env.trainCalls, [`start ${recipe}`]);
    while (inspectRun(shown.run!).state !== 'done') await new Promise((r) => setTimeout(r, 100));
    assert.equal((await f.page.wait('distill/end')).status, 'done');
    await f.send({ type: 'distill/compare', recipe });
    const report = await f.page.wait('distill/report');
    assert.deepEqual(report.cases, ['What colour is grass?', 'What is the opposite of hot?']);
    assert.equal(report.adapterLabel, path.relative(f.ws, path.join(shown.run!, 'adapter')));
    for (const side of [report.teacher, report.student]) assert.ok(side.outputs.length === 2 && side.casePassed.length === 2);
    assert.ok(report.teacher.meanPromptTokens > report.student.meanPromptTokens, 'the student’s prompt is the shorter');
    assert.ok(Math.abs(report.inputTokenSaving - (1 - report.student.meanPromptTokens / report.teacher.meanPromptTokens)) < 1e-9);

    // From a prompt file: a new distillation recipe (and its student prompt and inputs), listed and selected.
    await f.send({ type: 'distill/new', file: path.join(f.ws, 'teacher.prompt.yml') });
    const made = path.join(f.ws, 'teacher-distilled.adapter.yml');
    assert.ok(
      fs.existsSync(made) && fs.existsSync(path.join(f.ws, 'teacher-short.prompt.yml')) && fs.existsSync(path.join(f.ws, 'data', 'teacher-inputs.jsonl')),
    );
    assert.deepEqual(f.page.of('distill/select').at(-1), { type: 'distill/select', recipe: made });
  });

  it('the untrusted banner’s button opens VS Code’s trust editor', async () => {
    const f = make();
    f.env.trusted = false;
    await f.send({ type: 'panel/ready' });
    await f.send({ type: 'panel/manageTrust' });
    assert.equal(f.env.trustEditorOpened, 1);
  });

  it('history: reads NAME.history.jsonl beside the snapshot, oldest first, and counts (and logs) the lines it cannot read', async () => {
    const f = make();
    const file = path.join(f.ws, 'colours.prompt.yml');
    const line = (date: string, rate: number) =>
      JSON.stringify({
        version: 1,
        commit: 'abc',
        dirty: false,
        date,
        file: 'colours.prompt.yml',
        model: { id: 'm', sha256: null },
        failures: ['x'],
        variants: [
          {
            name: 'base',
            adapter: null,
            adapterSha256: null,
            dtype: 'fp32',
            passRate: rate,
            evaluators: {},
            regressionCount: null,
            labelMetrics: { accuracy: 0.5, macroF1: 0.4 },
            ece: 0.1,
            repeat: null,
          },
        ],
      });
    fs.writeFileSync(
      path.join(f.ws, 'colours.history.jsonl'),
      `${line('2026-12-02T00:00:00Z', 1)}\nnot json\n${line('2026-12-01T00:00:00Z', 0.5)}\n{"version": 99}\n`,
    );
    await f.send({ type: 'panel/ready' });
    await f.page.wait('panel/prompt');
    await f.send({ type: 'history/load', file });
    const h = await f.page.wait('history/data');
    assert.equal(h.historyLabel, 'colours.history.jsonl');
    assert.deepEqual(
      h.points.map((p) => [p.date, p.variants[0]!.passRate, p.variants[0]!.accuracy, p.failures]),
      [
        ['2026-12-01T00:00:00Z', 0.5, 0.5, 1],
        ['2026-12-02T00:00:00Z', 1, 0.5, 1],
      ],
    );
    assert.equal(h.unreadable, 2);
    assert.ok(
      f.env.logs.some((l) => /colours\.history\.jsonl:2: history line not read: not JSON/.test(l)),
      f.env.logs.join('\n'),
    );
    assert.ok(f.env.logs.some((l) => /colours\.history\.jsonl:4: history line not read: version 99/.test(l)));
    // A file the panel did not list is refused.
    await f.send({ type: 'history/load', file: path.join(f.ws, 'other.prompt.yml') });
    assert.match(f.page.of('panel/notice').at(-1)!.message, /unknown prompt file/);
  });
});
