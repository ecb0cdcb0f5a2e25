import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseDtypeOption, UsageError } from '../../src/cli/options';
import { parsePromptText } from '../../src/core/compare/prompt-file';
import { chooseDtype } from '../../src/core/compare/variants';
import { listExports } from '../../src/core/export/export';
import { goldenCopy, ROOT, tempDir } from '../helpers';
import { llamaConfig, makeCheckpoint } from '../make-checkpoint';

/**
 * The dtype a model runs in, chosen in three places (the command line's --dtype, the prompt file's
 * `dtype`, the extension's tuneloop.dtype setting; fp32 when none says) and carried to every variant
 * that `tuneloop run`, `eval`, `demo` and `export` run, adapters included.
 */
function cli(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), ...args], {
    encoding: 'utf8',
    cwd,
    env: { ...process.env, NO_COLOR: '1', TUNELOOP_CACHE: path.join(cwd, '.cache') },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const PROMPT = (dtype?: string) => `name: q
${dtype ? `dtype: ${dtype}\n` : ''}messages:
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
modelParameters:
  maxTokens: 4
`;

describe('dtype: --dtype, the prompt file, the setting', () => {
  it('--dtype takes exactly fp32, q8 or q4; anything else is a usage error naming --dtype and the choices', () => {
    assert.equal(parseDtypeOption(undefined), undefined);
    for (const d of ['fp32', 'q8', 'q4']) assert.equal(parseDtypeOption(d), d);
    for (const bad of ['Q4', 'int8', 'fp16', 'q4 ', '']) {
      assert.throws(
        () => parseDtypeOption(bad),
        (e: unknown) => e instanceof UsageError && e.message === `--dtype takes fp32, q8, q4 (exactly), got "${bad}"`,
        bad,
      );
    }
  });

  it('precedence: --dtype, then the prompt file, then the setting, then fp32', () => {
    const plain = parsePromptText(PROMPT(), 'q.prompt.yml');
    const q4 = parsePromptText(PROMPT('q4'), 'q.prompt.yml');
    assert.deepEqual(chooseDtype(plain), { dtype: 'fp32', from: 'default' });
    assert.deepEqual(chooseDtype(plain, { setting: 'q8' }), { dtype: 'q8', from: 'setting' });
    assert.deepEqual(chooseDtype(q4, { setting: 'q8' }), { dtype: 'q4', from: 'prompt' });
    assert.deepEqual(chooseDtype(q4, { option: 'fp32', setting: 'q8' }), { dtype: 'fp32', from: 'option' });
  });

  it('run, eval, demo and export: a bad --dtype exits 2 (as other usage errors) before anything runs; each --help documents it', () => {
    const ws = tempDir();
    fs.writeFileSync(path.join(ws, 'q.prompt.yml'), PROMPT());
    const cases: [string, string[]][] = [
      ['run', ['run', 'q.prompt.yml', '--dtype', 'q5']],
      ['eval', ['eval', 'q.prompt.yml', '--dtype', 'int4']],
      ['demo', ['demo', path.join(ws, 'absent'), '--dtype', 'Q8']],
      ['export', ['export', path.join(ws, 'absent'), '--out', path.join(ws, 'out'), '--dtype', 'fp16']],
    ];
    for (const [name, args] of cases) {
      const r = cli(ws, ...args);
      assert.equal(r.status, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^tuneloop ${name}: --dtype takes fp32, q8, q4 \\(exactly\\), got "${args.at(-1)}"\\nusage: tuneloop ${name} `), name);
      const help = cli(ws, name, '--help');
      assert.equal(help.status, 0);
      assert.match(help.stdout, /^usage: tuneloop \w+ .*\[--dtype fp32\|q8\|q4\]/, name);
      assert.match(help.stdout, /--dtype D +the dtype .*: fp32 \(float32\), q8 \(8-bit blocks,\n.*q4 \(4-bit blocks, onnx\/model_q4\.onnx\)/, name);
    }
    assert.deepEqual(fs.readdirSync(ws), ['q.prompt.yml'], 'nothing was written');
  });

  it('tuneloop export --dtype q4 writes onnx/model_q4.onnx (and no other model file) from a checkpoint', function () {
    this.timeout(60_000);
    const ws = tempDir();
    makeCheckpoint(path.join(ws, 'ckpt'), llamaConfig());
    const r = cli(ws, 'export', 'ckpt', '--dtype', 'q4', '--out', 'out');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(path.join(ws, 'out', 'onnx')), ['model_q4.onnx']);
    assert.match(r.stdout, /^exported .*ckpt to .*out as q4 \(onnx\/model_q4\.onnx, /);
    const plain = cli(ws, 'export', 'ckpt', '--out', 'out-fp32');
    assert.equal(plain.status, 0, plain.stderr);
    assert.deepEqual(fs.readdirSync(path.join(ws, 'out-fp32', 'onnx')), ['model.onnx'], 'fp32 by default');
  });

  describe('tuneloop eval and run carry the dtype to every variant, adapters included', function () {
    this.timeout(120_000);
    const ws = tempDir();
    const model = goldenCopy(ws);
    fs.writeFileSync(path.join(ws, 'q.prompt.yml'), PROMPT());
    fs.writeFileSync(path.join(ws, 'q4.prompt.yml'), PROMPT('q4'));

    it('eval --dtype q8 --reporter json: each variant ran in q8, the adapter on the q8 base; the table and JUnit name it beside the model', () => {
      const r = cli(ws, 'eval', 'q.prompt.yml', '--model', model, '--dtype', 'q8', '--reporter', 'json');
      assert.equal(r.status, 0, r.stderr);
      const file = JSON.parse(r.stdout).files[0];
      assert.deepEqual([file.model.dtype, file.model.dtypeFrom], ['q8', 'option']);
      assert.deepEqual(
        file.variants.map((v: { name: string; dtype: string }) => [v.name, v.dtype]),
        [
          ['base', 'q8'],
          ['adapter', 'q8'],
        ],
      );
      // The adapter ran: its outputs are there, from an export of the adapter on the base in q8.
      for (const c of file.cases) assert.equal(typeof c.outputs.adapter.text, 'string');
      const adapterExports = listExports(path.join(ws, '.cache')).filter((e) => e.adapter !== undefined);
      assert.deepEqual(
        adapterExports.map((e) => [e.dtype, e.adapter]),
        [['q8', path.join(model, 'adapter')]],
      );
      assert.match(r.stderr, /adapter: applying the adapter to the base model in q8/);

      const table = cli(ws, 'eval', 'q.prompt.yml', '--model', model, '--dtype', 'q8');
      assert.match(table.stdout, /^q\.prompt\.yml {2}\(model .*llama, dtype q8 \(--dtype\)\)$/m);
      const junit = cli(ws, 'eval', 'q.prompt.yml', '--model', model, '--dtype', 'q8', '--reporter', 'junit');
      assert.match(
        junit.stdout,
        /<testsuite name="q\.prompt\.yml \[adapter\]"[^>]*>\n {4}<properties>\n {6}<property name="model" value="[^"]*llama"\/>\n {6}<property name="dtype" value="q8"\/>/,
      );
    });

    it("the prompt file's dtype when there is no --dtype; --dtype wins over it", () => {
      const fromFile = JSON.parse(cli(ws, 'eval', 'q4.prompt.yml', '--model', model, '--reporter', 'json').stdout).files[0];
      assert.deepEqual([fromFile.model.dtype, fromFile.model.dtypeFrom], ['q4', 'prompt']);
      assert.deepEqual(
        fromFile.variants.map((v: { dtype: string }) => v.dtype),
        ['q4', 'q4'],
      );
      const flag = JSON.parse(cli(ws, 'eval', 'q4.prompt.yml', '--model', model, '--dtype', 'fp32', '--reporter', 'json').stdout).files[0];
      assert.deepEqual([flag.model.dtype, flag.model.dtypeFrom], ['fp32', 'option']);
      assert.deepEqual(
        flag.variants.map((v: { dtype: string }) => v.dtype),
        ['fp32', 'fp32'],
      );
      const plain = JSON.parse(cli(ws, 'eval', 'q.prompt.yml', '--model', model, '--reporter', 'json').stdout).files[0];
      assert.deepEqual([plain.model.dtype, plain.model.dtypeFrom], ['fp32', 'default']);
    });

    it('run names a quantized dtype beside each variant it streams', () => {
      const r = cli(ws, 'run', 'q4.prompt.yml', '--model', model);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /── base \[q4\] ──\n[\s\S]+── adapter \(.*adapter\) \[q4\] ──\n/);
    });
  });
});
