import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareSnapshot, readSnapshot, writeSnapshot } from '../../src/core/compare/snapshot';
import { formatDiff, wordDiff } from '../../src/core/compare/words';
import { goldenCopy, ROOT, tempDir } from '../helpers';

function cli(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), ...args], {
    encoding: 'utf8',
    cwd,
    env: { ...process.env, NO_COLOR: '1', TUNELOOP_CACHE: path.join(cwd, '.cache') },
  });
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
});

describe('the example workspace', function () {
  this.timeout(120_000);

  it('tuneloop eval passes with the committed snapshot and fails after the snapshot is edited', () => {
    const root = tempDir();
    fs.cpSync(path.join(ROOT, 'examples'), path.join(root, 'examples'), { recursive: true, filter: (p) => !p.includes('.tuneloop') });
    fs.cpSync(path.join(ROOT, 'models'), path.join(root, 'models'), { recursive: true });
    fs.mkdirSync(path.join(root, '.git')); // a clone: the root of the paths the example names
    const ws = path.join(root, 'examples');
    const ok = cli(ws, 'eval', 'answer-format.prompt.yml', '--threads', '2');
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /base +pass rate 0% \(required 0%\)\n {2}answer-format pass rate (8\d|9\d|100)% \(required 80%\)/);
    assert.match(ok.stdout, /snapshot answer-format\.snapshot\.json: same/);
    const file = path.join(ws, 'answer-format.snapshot.json');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/"0": "[^"]*"/, '"0": "edited"'));
    const changed = cli(ws, 'eval', 'answer-format.prompt.yml', '--threads', '2');
    assert.equal(changed.status, 1);
    assert.match(changed.stderr, /output\(s\) differ from the snapshot/);
  });
});
