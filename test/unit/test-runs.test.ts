import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describePrompt } from '../../src/extension/panel/sources';
import { outcomeOf, runTests, type TestOutcome } from '../../src/extension/test-runs';
import { WorkerClient } from '../../src/worker/client';
import type { MatrixCell } from '../../src/worker/protocol';
import { goldenCopy, ROOT, tempDir } from '../helpers';

/**
 * The Testing view's runs (src/extension/test-runs.ts), without VS Code: a prompt's cases × variants
 * through a real worker, each cell an outcome; a failure carries expected and actual (VS Code's diff),
 * each failed evaluator a message, a regression against the base said so.
 */
const cellOf = (text: string, verdicts: (boolean | null)[]): MatrixCell => ({
  text,
  tokens: [{ id: 1, text, logprob: -0.1 }],
  evaluations: verdicts.map((passed, k) => ({ name: `e${k}`, passed, detail: `check ${k}` })),
  passed: verdicts.every((v) => v !== false),
  finish: 'eos',
  timeToFirstTokenMs: 10,
  tokensPerSecond: 100,
});

describe('Testing view runs: outcomes of cells', () => {
  it('a pass lists its evaluators as output; a failure has expected and actual, and names a regression against the base', () => {
    const pass = outcomeOf(cellOf('red', [true, null]), 'red', undefined, 'base');
    assert.equal(pass.kind, 'passed');
    assert.match(pass.kind === 'passed' ? pass.output : '', /output: "red"\r\npass e0: check 0\r\nnot run e1: check 1/);
    const fail = outcomeOf(cellOf('blue', [false, false]), 'red', cellOf('red', [true, false]), 'base');
    assert.equal(fail.kind, 'failed');
    const messages = fail.kind === 'failed' ? fail.messages : [];
    assert.deepEqual(
      messages.map((m) => [m.message.split('\n')[0], m.expected, m.actual, /regression against base/.test(m.message)]),
      [
        ['e0: check 0', 'red', 'blue', true],
        ['e1: check 1', 'red', 'blue', false],
      ],
    );
    // Without expected, no diff.
    const bare = outcomeOf(cellOf('blue', [false]), undefined, undefined, 'base');
    assert.deepEqual(bare.kind === 'failed' && bare.messages, [{ message: 'e0: check 0' }]);
    assert.equal(outcomeOf({ ...cellOf('x', [true]), finish: 'cancelled' }, undefined, undefined, 'base').kind, 'errored');
  });
});

describe('Testing view runs: through the worker', function () {
  this.timeout(180_000);
  const repo = tempDir();
  fs.mkdirSync(path.join(repo, '.git'));
  const llama = goldenCopy(repo);
  const file = path.join(repo, 't.prompt.yml');
  fs.writeFileSync(
    file,
    `model: models/llama
messages:
  - role: user
    content: "Name a colour like {{word}}."
testData:
  - word: red
    expected: red
  - word: blue
    expected: blue
evaluators:
  - name: short
    maxLength: 400
  - name: says it
    string:
      contains: "{{expected}}"
adapters:
  - path: models/llama/adapter_trained
modelParameters:
  maxTokens: 8
`,
  );
  const source = () =>
    describePrompt(file, fs.readFileSync(file, 'utf8'), {
      defaultModel: '',
      settingBase: repo,
      runsFolder: undefined,
      picked: [],
      selectedModel: undefined,
      label: (p) => path.relative(repo, p),
      paths: { root: repo, trustedReads: [] },
    });
  let worker: WorkerClient;
  before(() => {
    worker = new WorkerClient({ entry: path.join(ROOT, 'dist', 'worker.js') });
  });
  after(() => worker.dispose());

  const run = async (cells: { caseIndex: number; variantId: string }[], signal = new AbortController().signal) => {
    const s = source();
    const started: string[] = [];
    const finished = new Map<string, TestOutcome>();
    await runTests(worker, {
      source: s,
      model: s.info.model!,
      cells,
      settings: { cacheDir: path.join(repo, '.cache'), threads: 1, dtype: 'fp32' },
      signal,
      started: (v, i) => started.push(`${v}#${i}`),
      finished: (v, i, o) => finished.set(`${v}#${i}`, o),
    });
    return { started, finished, source: s };
  };

  it('runs the requested cells only, each with its outcome; the random model fails "says it" with expected beside its output', async () => {
    const s = source();
    const adapter = s.info.variants.find((v) => v.kind === 'adapter')!.id;
    const r = await run([
      { caseIndex: 1, variantId: 'base' },
      { caseIndex: 1, variantId: adapter },
    ]);
    assert.deepEqual([...r.finished.keys()].sort(), [`${adapter}#1`, 'base#1'].sort());
    assert.deepEqual(r.started.sort(), [`${adapter}#1`, 'base#1'].sort());
    for (const o of r.finished.values()) {
      assert.equal(o.kind, 'failed');
      const m = o.kind === 'failed' ? o.messages : [];
      assert.equal(m.length, 1);
      assert.match(m[0]!.message, /^says it: /);
      assert.equal(m[0]!.expected, 'blue');
      assert.equal(typeof m[0]!.actual, 'string');
    }
  });

  it('an adapter asked for alone still runs against the base (unreported); an unknown variant and a stopped run are errored, none left pending', async () => {
    const s = source();
    const adapter = s.info.variants.find((v) => v.kind === 'adapter')!.id;
    const r = await run([
      { caseIndex: 0, variantId: adapter },
      { caseIndex: 0, variantId: 'adapter:/nowhere' },
    ]);
    assert.deepEqual([...r.finished.keys()].sort(), [`${adapter}#0`, 'adapter:/nowhere#0'].sort());
    assert.deepEqual(r.finished.get('adapter:/nowhere#0'), { kind: 'errored', message: 'the variant adapter:/nowhere is not available' });
    assert.deepEqual(r.started, [`${adapter}#0`], 'the base ran, unreported');

    const stop = new AbortController();
    stop.abort();
    const stopped = await run([{ caseIndex: 0, variantId: 'base' }], stop.signal);
    assert.equal(stopped.finished.get('base#0')?.kind, 'errored');
    void llama;
  });
});
