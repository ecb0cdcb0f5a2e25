import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type MatrixEvent, type MatrixSpec, type ModelLease, meetsMinPassRate, runMatrix } from '../../src/core/compare/matrix';
import { parsePromptText } from '../../src/core/compare/prompt-file';
import { type ScoredCell, scoreMatrix } from '../../src/core/compare/scores';
import { compareSnapshot, readSnapshot, writeSnapshot } from '../../src/core/compare/snapshot';
import { formatDiff, wordDiff } from '../../src/core/compare/words';
import { loadCausalLM } from '../../src/core/infer/load';
import { evaluate } from '../../src/core/prompts/evaluate';
import { SafetensorsFile, writeSafetensors } from '../../src/core/safetensors';
import { goldenCopy, ROOT, runCli, tempDir } from '../helpers';
import { fakeHubHome } from '../hub-cache';

function cli(cwd: string, ...args: string[]) {
  return cliWith(cwd, {}, ...args);
}

function cliWith(cwd: string, env: Record<string, string>, ...args: string[]) {
  const r = runCli(cwd, args, env);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('compare: word diffs and snapshots', () => {
  it('diffs outputs word by word', () => {
    const parts = wordDiff('the sky is blue today', 'the sky is green today');
    assert.deepEqual(
      parts.filter((p) => p.kind !== 'same').map((p) => [p.kind, p.text]),
      [
        ['removed', 'blue'],
        ['added', 'green'],
      ],
    );
    assert.equal(formatDiff(parts, false), 'the sky is [-blue-]{+green+} today');
  });

  it('writes snapshots with sorted keys and finds every change', () => {
    const f = path.join(tempDir(), 's.json');
    writeSnapshot(f, { version: 1, model: { id: 'm', sha256: 'x' }, outputs: { lora: { '10': 'b', '2': 'a' }, base: { '0': 'z' } } });
    const text = fs.readFileSync(f, 'utf8');
    assert.ok(text.indexOf('"base"') < text.indexOf('"lora"') && text.indexOf('"2"') < text.indexOf('"10"'), text);
    const s = readSnapshot(f)!;
    assert.deepEqual(compareSnapshot(s, { base: { '0': 'z' }, lora: { '2': 'a', '10': 'b' } }), []);
    assert.deepEqual(
      compareSnapshot(s, { base: { '0': 'y', '1': 'new' }, lora: { '2': 'a' } }).map((c) => [c.variant, c.caseIndex, c.kind]),
      [
        ['base', 0, 'changed'],
        ['base', 1, 'new'],
        ['lora', 10, 'missing'],
      ],
    );
  });
});

describe('tuneloop run and eval', function () {
  this.timeout(120_000);
  const ws = tempDir();
  const model = goldenCopy(ws);
  fs.writeFileSync(
    path.join(ws, 'q.prompt.yml'),
    `name: q
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
  - path: models/llama/adapter
    minPassRate: 1
snapshot: q.snapshot.json
modelParameters:
  maxTokens: 8
`,
  );

  it('run streams base and adapter outputs with a word diff and the evaluators', () => {
    const r = cli(ws, 'run', 'q.prompt.yml', '--model', model, '--case', '1');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /── base ──\n[\s\S]+── adapter \(.*adapter\) ──\n[\s\S]+── adapter vs base ──\n/);
    assert.match(r.stdout, /evaluators:\n {2}base +pass +short/);
  });

  it('eval: no snapshot fails; --update-snapshots accepts; unchanged passes; an edited snapshot fails', () => {
    const first = cli(ws, 'eval', 'q.prompt.yml', '--model', model);
    assert.equal(first.status, 1);
    assert.match(first.stderr, /no snapshot at .*q\.snapshot\.json: accept the outputs with tuneloop eval --update-snapshots/);
    assert.equal(cli(ws, 'eval', 'q.prompt.yml', '--model', model, '--update-snapshots').status, 0);
    const same = cli(ws, 'eval', 'q.prompt.yml', '--model', model);
    assert.equal(same.status, 0, same.stderr);
    assert.match(same.stdout, /snapshot q\.snapshot\.json: same/);
    const file = path.join(ws, 'q.snapshot.json');
    const s = JSON.parse(fs.readFileSync(file, 'utf8'));
    s.outputs.adapter['1'] = 'edited by hand';
    fs.writeFileSync(file, JSON.stringify(s));
    const changed = cli(ws, 'eval', 'q.prompt.yml', '--model', model);
    assert.equal(changed.status, 1);
    assert.match(changed.stdout, /snapshot q\.snapshot\.json: changed \(1 output\(s\)\)\n {4}adapter case 1 changed: \[-edited-\]/);
  });

  it('eval in label mode (task: classification): accuracy, per-label scores and a confusion matrix from the outputs, and each answer’s confidence, in the table, JSON and JUnit', () => {
    // The labels are the base model's own one-token answers, so that some cases expect what it says
    // and the others expect another case's answer.
    const words = ['red', 'blue', 'green', 'black'];
    const probeFile = (testData: string, extra = '') =>
      `messages:\n  - role: user\n    content: "Name a colour like {{word}}."\nmodelParameters:\n  maxTokens: 1\ntestData:\n${testData}\n${extra}`;
    fs.writeFileSync(path.join(ws, 'labels-probe.prompt.yml'), probeFile(words.map((w) => `  - word: ${w}`).join('\n')));
    const probe = cli(ws, 'eval', 'labels-probe.prompt.yml', '--model', model, '--reporter', 'json');
    assert.equal(probe.status, 0, probe.stderr);
    const said = (JSON.parse(probe.stdout).files[0].cases as { outputs: { base: { text: string } } }[]).map((c) => c.outputs.base.text.trim());
    // Cases 0 and 1 expect what the model says; 2 and 3 expect the answer of case 0.
    const expected = [said[0]!, said[1]!, said[0]!, said[0]!];
    fs.writeFileSync(
      path.join(ws, 'labels.prompt.yml'),
      probeFile(words.map((w, i) => `  - word: ${w}\n    expected: ${JSON.stringify(expected[i])}`).join('\n'), 'task: classification\n'),
    );
    const j = cli(ws, 'eval', 'labels.prompt.yml', '--model', model, '--reporter', 'json');
    assert.equal(j.status, 0, j.stderr);
    const file = JSON.parse(j.stdout).files[0];
    assert.equal(file.labelMode, 'task');
    const lm = file.variants[0].labelMetrics;
    const correct = said.filter((s, i) => s.toLowerCase() === expected[i]!.toLowerCase()).length;
    assert.equal(lm.accuracy, correct / 4);
    assert.equal(
      lm.confusion.matrix.flat().reduce((a: number, b: number) => a + b, 0),
      4,
      'every case counted once',
    );
    const table = cli(ws, 'eval', 'labels.prompt.yml', '--model', model);
    assert.match(
      table.stdout,
      new RegExp(`label metrics \\(task: classification;[^\\n]*\\n {2}accuracy +${((correct / 4) * 100).toFixed(0)}%\\n {2}macro-F1 `),
    );
    assert.match(table.stdout, /confusion, base \(rows: expected; columns: read as\):/);
    // Confidence: each answer's mean token probability, recomputed from the tokens the JSON carries,
    // and the ECE from those means and the cells' pass marks (all in one bin's worth of checks).
    const conf = file.variants[0].confidence;
    const cells = (file.cases as { index: number; outputs: { base: { passed: boolean; tokens: { logprob: number }[] } } }[]).map((c) => c.outputs.base);
    const means = cells.map((c) => c.tokens.reduce((a, t) => a + Math.exp(t.logprob), 0) / c.tokens.length);
    means.forEach((m, i) => assert.ok(Math.abs(conf.byCase[i].mean - m) < 1e-12));
    let ece = 0;
    for (let b = 0; b < 10; b++) {
      const inBin = means.map((m, i) => ({ m, passed: cells[i]!.passed })).filter((x) => Math.min(9, Math.floor(x.m * 10)) === b);
      if (!inBin.length) continue;
      const avg = inBin.reduce((a, x) => a + x.m, 0) / inBin.length;
      const rate = inBin.filter((x) => x.passed).length / inBin.length;
      ece += (inBin.length / means.length) * Math.abs(rate - avg);
    }
    assert.ok(Math.abs(conf.ece - ece) < 1e-12, `${conf.ece} vs ${ece}`);
    assert.match(
      table.stdout,
      /\n {2}base {2}confidence: mean token probability [0-9.]+ \(passing [0-9.]+, failing –\); calibration error \(ECE\) [0-9.]+ over 4 answer\(s\)\n/,
    );
    const junit = cli(ws, 'eval', 'labels.prompt.yml', '--model', model, '--reporter', 'junit');
    assert.match(junit.stdout, new RegExp(`<property name="accuracy" value="${correct / 4}"/>`));
    assert.match(junit.stdout, new RegExp(`<property name="ece" value="${conf.ece}"/>`));
  });

  it('eval --record appends one line per run to NAME.history.jsonl beside the snapshot: commit, model and adapter hashes, pass rates', () => {
    const repo = tempDir();
    const m = goldenCopy(repo);
    fs.copyFileSync(path.join(ws, 'q.prompt.yml'), path.join(repo, 'q.prompt.yml'));
    const git = (...a: string[]) => spawnSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', ...a], { encoding: 'utf8' });
    const history = path.join(repo, 'q.history.jsonl');
    // Outside git: commit and dirty are null.
    const first = cli(repo, 'eval', 'q.prompt.yml', '--model', m, '--update-snapshots', '--record');
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stderr, /recorded in q\.history\.jsonl/);
    git('init', '-q');
    git('add', '-A');
    git('commit', '-qm', 'first');
    const head = git('rev-parse', 'HEAD').stdout.trim();
    const json = cli(repo, 'eval', 'q.prompt.yml', '--model', m, '--record', '--reporter', 'json');
    assert.equal(json.status, 0, json.stderr);
    const lines = fs
      .readFileSync(history, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 2, 'one line per run, appended');
    assert.deepEqual([lines[0].commit, lines[0].dirty], [null, null]);
    assert.equal(lines[1].commit, head);
    assert.equal(lines[1].dirty, false, 'read before the line is appended: the tree is as committed');
    assert.equal(lines[1].file, 'q.prompt.yml');
    const report = JSON.parse(json.stdout).files[0];
    assert.deepEqual(
      lines[1].variants.map((v: { name: string; passRate: number; regressionCount: number | null }) => [v.name, v.passRate, v.regressionCount]),
      report.variants.map((v: { name: string; passRate: number; regressionCount: number | null }) => [v.name, v.passRate, v.regressionCount]),
    );
    const adapterFile = path.join(repo, 'models', 'llama', 'adapter', 'adapter_model.safetensors');
    assert.equal(lines[1].variants[1].adapterSha256, crypto.createHash('sha256').update(fs.readFileSync(adapterFile)).digest('hex'));
    assert.equal(lines[1].variants[0].adapterSha256, null);
    assert.equal(lines[1].model.sha256, report.model.sha256);
    // Named as the snapshot names it, the same on every machine: not this machine's absolute path.
    assert.equal(lines[1].model.id, 'models/llama');
    // A change since the commit: the next line says so.
    fs.writeFileSync(path.join(repo, 'note.txt'), 'edited');
    assert.equal(cli(repo, 'eval', 'q.prompt.yml', '--model', m, '--record').status, 0);
    assert.equal(JSON.parse(fs.readFileSync(history, 'utf8').trim().split('\n')[2]!).dirty, true);
  });

  it('eval reports as JSON and JUnit, and fails a variant under its minPassRate', () => {
    const j = cli(ws, 'eval', 'q.prompt.yml', '--model', model, '--reporter', 'json', '--update-snapshots');
    const report = JSON.parse(j.stdout);
    assert.deepEqual(
      report.files[0].variants.map((v: { name: string }) => v.name),
      ['base', 'adapter'],
    );
    assert.equal(report.files[0].cases.length, 2);
    const junit = cli(ws, 'eval', 'q.prompt.yml', '--model', model, '--reporter', 'junit');
    assert.match(junit.stdout, /<testsuite name="q\.prompt\.yml \[adapter\]" tests="2" failures="0">/);
    const strict = fs.readFileSync(path.join(ws, 'q.prompt.yml'), 'utf8').replace('maxLength: 400', 'maxLength: 1');
    fs.writeFileSync(path.join(ws, 'strict.prompt.yml'), strict.replace('snapshot: q.snapshot.json\n', ''));
    const r = cli(ws, 'eval', 'strict.prompt.yml', '--model', model);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /base: pass rate 0% is under the required 100%/);
  });

  it('a variant with no completed test case has no pass rate, and fails even a minPassRate of 0', () => {
    const none = fs.readFileSync(path.join(ws, 'q.prompt.yml'), 'utf8').replace(/testData:\n( {2}- word: \w+\n)+/, 'testData: []\nminPassRate: 0\n');
    fs.writeFileSync(path.join(ws, 'none.prompt.yml'), none.replace(/adapters:\n.*\n.*\n/, '').replace('snapshot: q.snapshot.json\n', ''));
    const r = cli(ws, 'eval', 'none.prompt.yml', '--model', model);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /base +pass rate none \(no test case completed\) on all evaluators \(required 0%\) {2}FAIL/);
    assert.match(r.stderr, /base: no test case completed, so there is no pass rate to meet the required 0%/);
  });
});

describe('tuneloop eval: each evaluator on its own, and regressions against the base (maxRegressions)', function () {
  this.timeout(120_000);
  const ws = tempDir();
  fs.mkdirSync(path.join(ws, '.git'));
  goldenCopy(ws);
  const words = ['red', 'blue', 'green'];
  const head = `model: models/llama
messages:
  - role: user
    content: "Name a colour like {{word}}."
modelParameters:
  maxTokens: 8
`;
  type Outputs = { base: string[]; adapter: string[] };
  let outputs: Outputs;
  /** Test cases expecting the base model's own output: the base passes "same as base" by construction, the adapter fails it wherever it says something else. */
  const file = (name: string, limits: { top?: number; adapter?: number }) => {
    const text = `${head}testData:
${words.map((w, i) => `  - word: ${w}\n    expected: ${JSON.stringify(outputs.base[i])}`).join('\n')}
evaluators:
  - name: same as base
    string:
      equals: "{{expected}}"
  - name: short
    maxLength: 400
adapters:
  - path: models/llama/adapter
    minPassRate: 0
${limits.adapter !== undefined ? `    maxRegressions: ${limits.adapter}\n` : ''}${limits.top !== undefined ? `maxRegressions: ${limits.top}\n` : ''}`;
    fs.writeFileSync(path.join(ws, name), text);
    return name;
  };
  /** The (case) indices where the adapter breaks the base's "fact": each is one regression. */
  let regressed: number[];

  before(() => {
    fs.writeFileSync(
      path.join(ws, 'probe.prompt.yml'),
      `${head}testData:\n${words.map((w) => `  - word: ${w}`).join('\n')}\nadapters:\n  - models/llama/adapter\n`,
    );
    const probe = cli(ws, 'eval', 'probe.prompt.yml', '--reporter', 'json');
    assert.equal(probe.status, 0, probe.stderr);
    const cases = JSON.parse(probe.stdout).files[0].cases as { outputs: Record<string, { text: string }> }[];
    outputs = { base: cases.map((c) => c.outputs['base']!.text), adapter: cases.map((c) => c.outputs['adapter']!.text) };
    regressed = words.map((_, i) => i).filter((i) => outputs.base[i] !== outputs.adapter[i]);
    assert.ok(regressed.length >= 1, `the adapter must change at least one output: ${JSON.stringify(outputs)}`);
  });

  it('over the limit (an adapter entry overriding the top level): exit 1 naming the variant, the count and the limit; the table shows each evaluator and the cases', () => {
    const n = regressed.length;
    const r = cli(ws, 'eval', file('over.prompt.yml', { top: 100, adapter: n - 1 }));
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `over\\.prompt\\.yml: adapter: ${n} regression\\(s\\) against base \\(a test case and an evaluator that base passes and adapter fails\\), over its maxRegressions of ${n - 1}\\n`,
      ),
    );
    const rate = (passed: number) => `${((passed / words.length) * 100).toFixed(0)}%`;
    assert.match(r.stdout, new RegExp(`\\n {2}same as base {2}100% +${rate(words.length - n)}\\n {2}short +100% +100%\\n`), r.stdout);
    assert.match(r.stdout, new RegExp(`\\n {2}adapter  ${n} regression\\(s\\) against base \\(allowed ${n - 1}\\) {2}FAIL\\n`));
    const first = regressed[0]!;
    assert.ok(
      r.stdout.includes(
        `    case ${first}: base passes and adapter fails "same as base"\n      base     ${JSON.stringify(outputs.base[first])}\n      adapter  ${JSON.stringify(outputs.adapter[first])}\n`,
      ),
      r.stdout,
    );
  });

  it('at the limit (the top level): exit 0; JSON carries each evaluator and every regression with both outputs', () => {
    const n = regressed.length;
    const r = cli(ws, 'eval', file('at.prompt.yml', { top: n }), '--reporter', 'json');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const [base, adapter] = JSON.parse(r.stdout).files[0].variants;
    assert.deepEqual([base.regressions, base.regressionCount, base.maxRegressions], [null, null, null], 'the base has nothing to regress against');
    assert.deepEqual(
      adapter.evaluators.map((e: { name: string; passRate: number }) => [e.name, e.passRate]),
      [
        ['same as base', (words.length - n) / words.length],
        ['short', 1],
      ],
    );
    assert.equal(adapter.regressionCount, n);
    assert.equal(adapter.maxRegressions, n);
    assert.deepEqual(
      adapter.regressions,
      regressed.map((i) => ({ caseIndex: i, evaluator: 'same as base', base: outputs.base[i], output: outputs.adapter[i] })),
    );
  });

  it('without a limit, no gate; JUnit names the evaluator of each regressed case and quotes both outputs', () => {
    const r = cli(ws, 'eval', file('free.prompt.yml', {}), '--reporter', 'junit');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    // The tiny model's outputs hold control characters (form feed, escape) that XML 1.0 cannot: written as \uXXXX.
    assert.doesNotMatch(r.stdout, /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
    const suite = r.stdout.slice(r.stdout.indexOf('[adapter]'));
    assert.match(suite, new RegExp(`<property name="regressionCount" value="${regressed.length}"/>`));
    assert.match(suite, /<property name="passRate: short" value="1"\/>/);
    const esc = (s: string) =>
      JSON.stringify(s).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;');
    for (const i of regressed)
      assert.ok(
        suite.includes(
          `name="case ${i}"><failure message="regressed against base on &quot;same as base&quot;: base ${esc(outputs.base[i]!)} passes, adapter ${esc(outputs.adapter[i]!)} fails">`,
        ),
        suite,
      );
    const table = cli(ws, 'eval', 'free.prompt.yml');
    assert.match(table.stdout, new RegExp(`adapter  ${regressed.length} regression\\(s\\) against base \\(no limit\\)\\n`));
  });
});

describe('the matrix core: events and pass rates', function () {
  this.timeout(120_000);
  const ws = tempDir();
  const llama = goldenCopy(ws);
  const cacheDir = tempDir();
  const file = path.join(ws, 'm.prompt.yml');
  const prompt = parsePromptText(
    'messages:\n  - role: user\n    content: "Name a colour like {{word}}."\ntestData:\n  - word: red\n  - word: blue\nevaluators:\n  - name: short\n    maxLength: 400\n',
    file,
  );
  const spec = (model: string): MatrixSpec => ({
    file,
    prompt,
    model: { id: model, dir: model },
    variants: [{ name: 'base' }, { name: 'adapter', adapterDir: path.join(llama, 'adapter') }],
    cases: [
      { index: 0, vars: { word: 'red' } },
      { index: 1, vars: { word: 'blue' } },
    ],
    params: { maxTokens: 8 },
  });
  const collect = async (events: AsyncIterable<MatrixEvent>, onEvent?: (e: MatrixEvent) => void): Promise<MatrixEvent[]> => {
    const out: MatrixEvent[] = [];
    for await (const e of events) {
      out.push(e);
      onEvent?.(e);
    }
    return out;
  };

  it('streams each variant, cell and token, and ends with passed ÷ completed for each variant', async () => {
    const events = await collect(runMatrix(spec(llama), { cacheDir, threads: 1, hashModel: true }));
    const cells = events.filter((e) => e.type === 'cellDone');
    assert.deepEqual(
      cells.map((e) => [e.variant, e.caseIndex]),
      [
        ['base', 0],
        ['base', 1],
        ['adapter', 0],
        ['adapter', 1],
      ],
    );
    for (const c of cells) {
      const tokens = events.filter((e) => e.type === 'token' && e.variant === c.variant && e.caseIndex === c.caseIndex);
      assert.deepEqual(
        tokens.map((t) => t.type === 'token' && t.token.id),
        c.cell.tokens.map((t) => t.id),
        'every token streamed before its cell',
      );
    }
    assert.ok(events.some((e) => e.type === 'progress' && /adapter: merging the adapter into the base model/.test(e.message)));
    const end = events.at(-1)!;
    assert.equal(end.type, 'end');
    assert.deepEqual(end.type === 'end' && end.passRates, { base: 1, adapter: 1 });
    assert.match(end.type === 'end' ? (end.modelSha256 ?? '') : '', /^[0-9a-f]{64}$/);
  });

  it('a cancelled cell is not completed: a variant with none completed has no pass rate, and fails its gate', async () => {
    const stop = new AbortController();
    const events = await collect(runMatrix(spec(llama), { cacheDir, threads: 1, signal: stop.signal, hashModel: true }), (e) => {
      if (e.type === 'token') stop.abort();
    });
    const cells = events.filter((e) => e.type === 'cellDone');
    assert.deepEqual(
      cells.map((e) => e.type === 'cellDone' && [e.variant, e.caseIndex, e.cell.finish]),
      [['base', 0, 'cancelled']],
    );
    const end = events.at(-1)!;
    assert.deepEqual(end, { type: 'end', passRates: {}, cancelled: true });
    assert.equal(meetsMinPassRate(undefined, 0), false);
    assert.equal(meetsMinPassRate(0, 0), true);
  });

  it('a variant that cannot load is reported and the others run; a consumer that stops early releases the model', async () => {
    const missing = path.join(ws, 'no-such-model');
    const failed = await collect(runMatrix({ ...spec(missing), variants: [{ name: 'base' }, { name: 'full', modelDir: llama }] }, { cacheDir, threads: 1 }));
    const error = failed.find((e) => e.type === 'variantError');
    assert.match(error?.type === 'variantError' ? error.message : '', /no-such-model: no such folder/);
    assert.equal(failed.filter((e) => e.type === 'cellDone' && e.variant === 'full').length, 2);
    assert.deepEqual(failed.at(-1), { type: 'end', passRates: { full: 1 }, cancelled: false });

    let released = 0;
    const loadModel = async (dir: string): Promise<ModelLease> => {
      const model = await loadCausalLM(dir, { cacheDir, threads: 1 });
      return {
        model,
        release: async () => {
          released++;
          await model.dispose();
        },
      };
    };
    for await (const e of runMatrix(spec(llama), { cacheDir, loadModel })) if (e.type === 'token') break;
    assert.equal(released, 1);
  });
});

describe('a Hub model from the Hugging Face cache, in tuneloop run and eval', function () {
  this.timeout(120_000);
  const ws = tempDir();
  fs.mkdirSync(path.join(ws, '.git'));
  goldenCopy(ws); // for its adapter
  const hf = fakeHubHome('test-org/tiny-llama');
  // No server is asked: HF_ENDPOINT names a port nothing listens on.
  const env = { HF_HOME: hf.home, HF_HUB_CACHE: '', HF_HUB_OFFLINE: '', HF_ENDPOINT: 'http://127.0.0.1:9' };
  const PROMPT = (model: string) => `name: hub
model: ${model}
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
  - path: models/llama/adapter
snapshot: hub.snapshot.json
modelParameters:
  maxTokens: 8
`;
  fs.writeFileSync(path.join(ws, 'hub.prompt.yml'), PROMPT('test-org/tiny-llama'));
  fs.writeFileSync(path.join(ws, 'absent.prompt.yml'), PROMPT('test-org/absent').replace('snapshot: hub.snapshot.json\n', ''));

  it('tuneloop models lists it, and run and eval use it offline, adapters merged into it', () => {
    const listed = cliWith(ws, env, 'models');
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, /test-org\/tiny-llama/);
    const r = cliWith(ws, env, 'run', 'hub.prompt.yml');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /── base ──\n[\s\S]+── adapter \(.*adapter\) ──\n[\s\S]+── adapter vs base ──\n/);
    const u = cliWith(ws, env, 'eval', 'hub.prompt.yml', '--update-snapshots');
    assert.equal(u.status, 0, u.stderr);
    assert.match(u.stdout, /\(model test-org\/tiny-llama, dtype fp32 \(the default\)\)/);
    assert.equal(JSON.parse(fs.readFileSync(path.join(ws, 'hub.snapshot.json'), 'utf8')).model.id, 'test-org/tiny-llama', 'recorded by its Hub id');
    const same = cliWith(ws, env, 'eval', 'hub.prompt.yml');
    assert.equal(same.status, 0, same.stdout + same.stderr);
    assert.match(same.stdout, /snapshot hub\.snapshot\.json: same/);
  });

  it('a Hub id the cache does not hold: the same message from run and eval, naming --download; with it, the Hub is asked', () => {
    const message = new RegExp(
      `absent\\.prompt\\.yml: model "test-org/absent" looks like a Hub id, but downloading is not enabled here and the Hugging Face cache \\(${hf.cacheDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\) does not hold it \\(run with --download to download it, or give a local model folder\\)`,
    );
    for (const command of ['run', 'eval']) {
      const r = cliWith(ws, env, command, 'absent.prompt.yml');
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stderr, message);
    }
    const offline = cliWith(ws, { ...env, HF_HUB_OFFLINE: '1' }, 'eval', 'absent.prompt.yml', '--download');
    assert.equal(offline.status, 1);
    assert.match(offline.stderr, /test-org\/absent@main is not in the Hugging Face cache .* offline mode is on/);
    const unreachable = cliWith(ws, env, 'run', 'absent.prompt.yml', '--download');
    assert.equal(unreachable.status, 1);
    assert.match(unreachable.stderr, /test-org\/absent@main is not in the Hugging Face cache .* http:\/\/127\.0\.0\.1:9 cannot be reached/);
  });
});

describe('the example workspace', function () {
  this.timeout(300_000);

  /** The example as a user clones it: examples/ beside models/default, in a folder with .git. */
  function clone(options: { snapshot?: boolean } = {}): string {
    const root = tempDir();
    fs.cpSync(path.join(ROOT, 'examples'), path.join(root, 'examples'), { recursive: true, filter: (p) => !p.includes('.tuneloop') });
    fs.cpSync(path.join(ROOT, 'models'), path.join(root, 'models'), { recursive: true });
    fs.mkdirSync(path.join(root, '.git'));
    const ws = path.join(root, 'examples');
    if (options.snapshot === false) {
      const file = path.join(ws, 'answer-format.prompt.yml');
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^snapshot: .*\n/m, ''));
    }
    return ws;
  }

  /** Each evaluator's pass rate for base and tuned, and tuned's regressions, from the committed snapshot's outputs. */
  function snapshotFigures() {
    const file = path.join(ROOT, 'examples', 'answer-format.prompt.yml');
    const prompt = parsePromptText(fs.readFileSync(file, 'utf8'), file);
    const snapshot = readSnapshot(path.join(ROOT, 'examples', 'answer-format.snapshot.json'))!;
    const cases = prompt.testData ?? [];
    const results: Record<string, Record<number, ScoredCell>> = {};
    for (const [variant, outputs] of Object.entries(snapshot.outputs))
      results[variant] = Object.fromEntries(
        cases.map((c, i) => {
          const text = outputs[String(i)]!;
          return [i, { text, finish: 'stop' as const, evaluations: evaluate(prompt, text, c.values) }];
        }),
      );
    const [base, tuned] = scoreMatrix({ evaluators: prompt.evaluators, variants: ['base', 'answer-format'], results });
    return { cases: cases.length, base: base!, tuned: tuned!, prompt };
  }

  it('tuneloop eval passes with the committed snapshot and fails after the snapshot is edited', () => {
    const ws = clone();
    const ok = cli(ws, 'eval', 'answer-format.prompt.yml', '--threads', '2');
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    const { base, tuned } = snapshotFigures();
    const pct = (x: number | undefined) => `${((x ?? Number.NaN) * 100).toFixed(0)}%`;
    for (const [k, e] of base.evaluators.entries())
      assert.match(ok.stdout, new RegExp(`\\n {2}${e.name} +${pct(e.rate)} +${pct(tuned.evaluators[k]!.rate)}\\n`), `${e.name}, for base and tuned`);
    assert.match(ok.stdout, new RegExp(`answer-format +${tuned.regressions!.length} regression\\(s\\) against base \\(allowed 2\\)`));
    assert.match(ok.stdout, /snapshot answer-format\.snapshot\.json: same/);
    const file = path.join(ws, 'answer-format.snapshot.json');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/"0": "[^"]*"/, '"0": "edited"'));
    const changed = cli(ws, 'eval', 'answer-format.prompt.yml', '--threads', '2');
    assert.equal(changed.status, 1);
    assert.match(changed.stderr, /output\(s\) differ from the snapshot/);
  });

  it('the committed snapshot: tuned answers exactly right on at least 90%, base on at most 10%, at most 2 facts lost', () => {
    const { cases, base, tuned } = snapshotFigures();
    const rate = (v: typeof base, name: string) => v.evaluators.find((e) => e.name === name)!.rate!;
    assert.ok(cases >= 40);
    assert.ok(rate(tuned, 'exact answer') >= 0.9, `tuned exact ${rate(tuned, 'exact answer')}`);
    assert.ok(rate(base, 'exact answer') <= 0.1, `base exact ${rate(base, 'exact answer')}`);
    assert.ok(rate(base, 'right fact') >= 0.85, `base right fact ${rate(base, 'right fact')}`);
    const lost = tuned.regressions!.filter((r) => r.evaluator === 'right fact');
    assert.ok(lost.length <= 2, JSON.stringify(lost));
  });

  it("the README's sentences about the demo quote the committed snapshot's figures", () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ');
    const { cases, base, tuned } = snapshotFigures();
    assert.match(readme, new RegExp(`asks ${cases} short questions`));
    const here = /\(here: ([^)]*)\)/.exec(readme);
    assert.ok(here, 'the README gives the pass rates "(here: …)"');
    const quoted = here[1]!.split(', ').map((p) => /^(.+) (\d+)% → (\d+)%$/.exec(p)!);
    assert.deepEqual(
      quoted.map((m) => [m[1], Number(m[2]), Number(m[3])]),
      base.evaluators.map((e, k) => [e.name, Math.round(e.rate! * 100), Math.round(tuned.evaluators[k]!.rate! * 100)]),
    );
    const regressions = /regressions against the base[^(]*\((\d+) here[,)]/.exec(readme);
    assert.ok(regressions, 'the README gives the regressions "(N here)"');
    assert.equal(Number(regressions[1]), tuned.regressions!.length);
  });

  it('tuneloop eval exits 1 once an adapter that breaks facts passes maxRegressions', () => {
    const ws = clone({ snapshot: false });
    // The committed adapter with its B matrices scaled up: it still changes every output, now into wrong ones.
    const file = path.join(ws, 'adapters', 'answer-format', 'adapter_model.safetensors');
    const adapter = SafetensorsFile.open(file);
    const tensors = new Map(
      [...adapter.names()].map((name) => {
        const data = adapter.readFloat32(name);
        const scaled = /lora_B/.test(name) ? data.map((x) => x * 25) : data;
        return [name, { dtype: 'F32' as const, shape: [...adapter.info(name).shape], data: new Uint8Array(scaled.buffer) }];
      }),
    );
    adapter.close();
    writeSafetensors(file, tensors);
    const r = cli(ws, 'eval', 'answer-format.prompt.yml', '--threads', '2');
    assert.equal(r.status, 1, r.stdout + r.stderr);
    const count = Number(/answer-format: (\d+) regression\(s\) against base/.exec(r.stderr)?.[1]);
    assert.ok(count > 2, r.stderr);
    assert.match(r.stderr, /over its maxRegressions of 2/);
    assert.match(r.stdout, /base passes and answer-format fails "right fact"/);
  });
});
