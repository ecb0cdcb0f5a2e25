import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describePrompt, weightsOf } from '../../src/extension/panel/sources';
import { RunsScanner } from '../../src/extension/panel/runs';
import { GOLDEN, tempDir } from '../helpers';

/** What the panel offers for a prompt file, worked out from files in the extension host (no model runs). */
const LLAMA = path.join(GOLDEN, 'llama');

function fakeRun(runs: string, name: string, baseDir: string, events: object[], steps: number[]): string {
  const dir = path.join(runs, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'spec.json'),
    JSON.stringify({
      format: 1,
      recipeFile: path.join(path.dirname(path.dirname(runs)), 'tone.adapter.yml'),
      name: 'tone',
      baseModel: baseDir,
      baseDir,
      dataset: path.join(path.dirname(path.dirname(runs)), 'data.jsonl'),
      validationSplit: 0.1,
      method: 'lora',
      lora: { r: 8, loraAlpha: 16, loraDropout: 0, targetModules: 'all-linear', useRslora: false },
      training: {
        learningRate: 2e-4,
        batchSize: 4,
        gradientAccumulation: 1,
        maxSeqLen: 512,
        schedule: 'cosine',
        warmupSteps: 0,
        weightDecay: 0,
        maxGradNorm: 1,
        seed: 42,
        trainOnPrompt: false,
      },
    }),
  );
  fs.writeFileSync(path.join(dir, 'events.jsonl'), events.map((e) => `${JSON.stringify({ time: '2025-01-01T00:00:00Z', ...e })}\n`).join(''));
  // As the trainer writes them: checkpoints/step-N/adapter/ (a PEFT adapter) beside the optimizer state; the result in adapter/.
  for (const s of steps) fs.cpSync(path.join(LLAMA, 'adapter'), path.join(dir, 'checkpoints', `step-${s}`, 'adapter'), { recursive: true });
  if (events.some((e) => (e as { type: string }).type === 'done')) fs.cpSync(path.join(LLAMA, 'adapter'), path.join(dir, 'adapter'), { recursive: true });
  return dir;
}

describe('panel: prompt sources (cases, models, variants)', () => {
  const ws = tempDir();
  const runs = path.join(ws, '.tuneloop', 'runs');
  fs.writeFileSync(path.join(ws, 'tone.adapter.yml'), `base_model: ${LLAMA}\ndataset:\n  path: data.jsonl\n`);
  fs.writeFileSync(path.join(ws, 'data.jsonl'), '{"prompt": "a", "completion": "b"}\n');
  fs.writeFileSync(path.join(ws, 'fresh.adapter.yml'), `base_model: ${LLAMA}\ndataset:\n  path: data.jsonl\n`);
  fs.writeFileSync(path.join(ws, 'broken.adapter.yml'), `base_model: ${LLAMA}\ndataset:\n  path: none.jsonl\n`);
  const done = fakeRun(
    runs,
    '20250102T000000Z-tone',
    LLAMA,
    [
      { type: 'started', pid: 1, totalSteps: 8, trainExamples: 4, validationExamples: 1 },
      { type: 'step', step: 8, loss: 1.5, lr: 0.1, gradNorm: 1, tokensPerSecond: 10, etaSeconds: 0 },
      { type: 'done', step: 8, adapter: path.join(runs, '20250102T000000Z-tone', 'adapter') },
    ],
    [4, 8],
  );
  fakeRun(
    runs,
    '20250101T000000Z-other',
    path.join(GOLDEN, 'gpt2'),
    [
      { type: 'started', pid: 1, totalSteps: 8, trainExamples: 4, validationExamples: 1 },
      { type: 'cancelled', step: 4, checkpoint: 'x' },
    ],
    [4],
  );
  const label = (p: string) => (p.startsWith(ws) ? path.relative(ws, p) : p);
  const opts = { defaultModel: '', settingBase: ws, runsFolder: runs, picked: [], selectedModel: undefined, label, paths: { root: ws, trustedReads: [LLAMA] } };

  it('lists base, the listed adapters (a folder, an untrained recipe) and the runs’ results and checkpoints', () => {
    const text = `model: ${LLAMA}\nmessages:\n  - role: user\n    content: "{{greeting}}, {{name}}"\ntestData:\n  - name: Ada\n    greeting: Hello\n  - name: Grace\n    greeting: Hi\nadapters:\n  - path: ${path.join(LLAMA, 'adapter_trained')}\n  - path: missing.adapter.yml\n  - path: ./nowhere\n  - path: tone.adapter.yml\n  - path: fresh.adapter.yml\n  - path: broken.adapter.yml\nmodelParameters:\n  maxTokens: 9\n  temperature: 0.5\n  stop: ["\\n"]\nsnapshot: out.snapshot.json\n`;
    const s = describePrompt(path.join(ws, 'a.prompt.yml'), text, opts);
    const v = s.info.variants.map((x) => [x.name, x.kind, x.available, x.listed, x.reason ?? '']);
    assert.deepEqual(v.slice(0, 7), [
      ['base', 'base', true, true, ''],
      ['adapter_trained', 'adapter', true, true, ''],
      ['missing', 'recipe', false, true, v[2]![4]],
      ['nowhere', 'adapter', false, true, 'not a PEFT adapter folder (no adapter_config.json)'],
      // A recipe with a finished run: that run's adapter. One never trained: why not, and what to do.
      ['tone', 'recipe', true, true, ''],
      ['fresh', 'recipe', false, true, 'not trained yet: fine-tune fresh.adapter.yml'],
      [
        'broken',
        'recipe',
        false,
        true,
        `line 3: dataset "none.jsonl" not found (looked for ${path.join(ws, 'none.jsonl')}): paths are relative to the recipe (run tuneloop check on it for every problem)`,
      ],
    ]);
    assert.match(String(v[2]![4]), /cannot read|not found|no such|ENOENT/i);
    assert.deepEqual(v.slice(7), [
      ['20250102T000000Z-tone', 'run', true, false, ''],
      ['20250102T000000Z-tone@8', 'checkpoint', true, false, ''],
      ['20250102T000000Z-tone@4', 'checkpoint', true, false, ''],
      ['20250101T000000Z-other@4', 'checkpoint', false, false, `trained on ${path.join(GOLDEN, 'gpt2')}, not on the selected model`],
    ]);
    // Only what is available can be named by the page.
    assert.deepEqual([...s.variants.keys()].length, 6);
    assert.equal(s.variants.get(`adapter:${path.join(ws, 'tone.adapter.yml')}`)?.adapterDir, path.join(done, 'adapter'));
    assert.equal(s.variants.get(`run:${done}`)?.adapterDir, path.join(done, 'adapter'));
    assert.equal(s.variants.get(`checkpoint:${path.join(done, 'checkpoints', 'step-4')}`)?.adapterDir, path.join(done, 'checkpoints', 'step-4', 'adapter'));
    assert.deepEqual(
      s.info.cases.map((c) => c.label),
      ['Case 1: name = Ada', 'Case 2: name = Grace'],
    );
    assert.deepEqual(s.info.variables.sort(), ['greeting', 'name']);
    assert.deepEqual(s.info.params, { maxTokens: 9, temperature: 0.5, stop: ['\n'] });
    assert.deepEqual(
      s.info.models.map((m) => [m.id, m.from]),
      [
        [LLAMA, 'prompt'],
        [path.join(GOLDEN, 'gpt2'), 'run'],
      ],
    );
    assert.deepEqual(s.info.snapshot, { label: 'out.snapshot.json', exists: false });
    assert.deepEqual(s.info.problems, []);
  });

  it('a hosted model runs on the configured local one; with none, the page is told what to do', () => {
    const text = 'model: openai/gpt-4o\nmessages:\n  - role: user\n    content: hi\n';
    const none = describePrompt(path.join(ws, 'h.prompt.yml'), text, { ...opts, runsFolder: undefined });
    assert.equal(none.info.model, undefined);
    assert.match(none.info.modelNote!, /No model is configured\. Give the prompt a "model:" .* set tuneloop\.defaultModel, or pick a model folder/);
    assert.equal(none.info.variants[0]!.available, false);
    const set = describePrompt(path.join(ws, 'h.prompt.yml'), text, { ...opts, runsFolder: undefined, defaultModel: LLAMA });
    assert.deepEqual(set.info.models, [{ id: LLAMA, label: LLAMA, from: 'setting' }]);
    assert.equal(set.info.hasTestData, false);
  });

  it('a model that is neither a folder nor a downloaded Hub model gets a note, whatever its spelling', () => {
    const asked: string[] = [];
    const cachedHubModel = (id: string) => (asked.push(id), undefined);
    for (const model of ['./missing', 'org/missing-model']) {
      const s = describePrompt(path.join(ws, 'm.prompt.yml'), `model: ${model}\nmessages:\n  - role: user\n    content: hi\n`, {
        ...opts,
        runsFolder: undefined,
        cachedHubModel,
      });
      assert.equal(s.info.model, undefined);
      assert.match(s.info.modelNote!, new RegExp(`the prompt's model "${model.replace('.', '\\.')}" is neither a local folder nor a downloaded Hub model`));
    }
    assert.deepEqual(asked, ['org/missing-model'], 'only a Hub id is looked up in the Hub cache');
  });

  it('finds a Hub model in the Hugging Face cache; with the download allowed, offers one the cache lacks as it is', () => {
    const text = (model: string) => `model: ${model}\nmessages:\n  - role: user\n    content: hi\n`;
    const cachedHubModel = (id: string) => (id === 'org/cached' ? '/hf/models--org--cached/snapshots/abc' : undefined);
    const cached = describePrompt(path.join(ws, 'c.prompt.yml'), text('org/cached'), { ...opts, runsFolder: undefined, cachedHubModel });
    assert.deepEqual(cached.info.models, [{ id: '/hf/models--org--cached/snapshots/abc', label: 'org/cached', from: 'prompt' }]);
    const consented = describePrompt(path.join(ws, 'c.prompt.yml'), text('org/absent'), {
      ...opts,
      runsFolder: undefined,
      cachedHubModel,
      allowDownload: true,
    });
    assert.deepEqual(consented.info.models, [{ id: 'org/absent', label: 'org/absent (downloaded when run)', from: 'prompt' }]);
    assert.equal(consented.info.model, 'org/absent');
    assert.equal(consented.info.modelNote, undefined);
    const local = describePrompt(path.join(ws, 'c.prompt.yml'), text('./missing'), { ...opts, runsFolder: undefined, cachedHubModel, allowDownload: true });
    assert.match(local.info.modelNote!, /the prompt's model "\.\/missing" is neither a local folder nor a downloaded Hub model/, 'a path is never downloaded');
  });

  it('reports a broken prompt file instead of offering to run it', () => {
    const s = describePrompt(path.join(ws, 'b.prompt.yml'), 'messages:\n  - role: bot\n    content: hi\n', opts);
    assert.match(s.info.problems[0]!, /^line 2: .*unknown role "bot"/);
  });

  it('classifies trained folders, and scans runs incrementally', () => {
    assert.deepEqual(weightsOf(path.join(LLAMA, 'adapter')), { adapterDir: path.join(LLAMA, 'adapter') });
    assert.deepEqual(weightsOf(path.join(done, 'checkpoints', 'step-8')), { adapterDir: path.join(done, 'checkpoints', 'step-8', 'adapter') });
    assert.deepEqual(weightsOf(LLAMA), { modelDir: LLAMA });
    assert.equal(weightsOf(ws), undefined);
    const scanner = new RunsScanner(label);
    const rows = scanner.scan(runs);
    assert.deepEqual(
      rows.map((r) => [r.name, r.state, r.lastStep, r.totalSteps, r.resumable, r.recipe]),
      [
        ['20250102T000000Z-tone', 'done', 8, 8, false, 'tone.adapter.yml'],
        ['20250101T000000Z-other', 'cancelled', 0, 8, true, 'tone.adapter.yml'],
      ],
    );
    // A resume appends: the next scan reads only the new lines.
    fs.appendFileSync(
      path.join(runs, '20250101T000000Z-other', 'events.jsonl'),
      `${JSON.stringify({ type: 'started', time: 't', pid: process.pid, totalSteps: 8, resumedFrom: 4, trainExamples: 4, validationExamples: 1 })}\n`,
    );
    fs.writeFileSync(
      path.join(runs, '20250101T000000Z-other', 'owner.lock'),
      JSON.stringify({ pid: process.pid, host: require('node:os').hostname(), started: 't' }),
    );
    assert.equal(scanner.scan(runs)[1]!.state, 'running');
    // Its owner gone without a final event: marked failed (and recorded in the run's events).
    fs.rmSync(path.join(runs, '20250101T000000Z-other', 'owner.lock'));
    assert.equal(scanner.scan(runs)[1]!.state, 'failed');
    assert.match(fs.readFileSync(path.join(runs, '20250101T000000Z-other', 'events.jsonl'), 'utf8'), /"type":"failed"/);
  });
});
