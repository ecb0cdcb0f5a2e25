import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GOLDEN, goldenCopy, ROOT, tempDir } from '../helpers';
import { fakeHubHome } from '../hub-cache';

/** The bundled CLI (dist/cli.js), run as users run it. */
function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('tuneloop CLI', () => {
  it('model commands run in a process started with huge pages asked for; others, and help, run at once', function () {
    if (process.platform !== 'linux') this.skip();
    // Every node process the CLI starts loads the probe, which appends its pid and tunables.
    const dir = tempDir();
    const probe = path.join(dir, 'probe.js');
    const log = path.join(dir, 'log.txt');
    fs.writeFileSync(probe, `require('fs').appendFileSync(${JSON.stringify(log)}, process.pid + ' ' + (process.env.GLIBC_TUNABLES ?? '-') + '\\n')`);
    const run = (...args: string[]) => {
      fs.rmSync(log, { force: true });
      const { GLIBC_TUNABLES: _, ...env } = process.env;
      const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), ...args], {
        encoding: 'utf8',
        env: { ...env, NODE_OPTIONS: `--require ${probe}` },
      });
      return {
        ...r,
        processes: fs
          .readFileSync(log, 'utf8')
          .trim()
          .split('\n')
          .map((l) => l.split(' ')[1]),
      };
    };
    const missing = path.join(dir, 'no-such-model');
    const exp = run('export', missing, '--out', path.join(dir, 'out'));
    assert.equal(exp.status, 1, 'the exit status comes through');
    assert.deepEqual(exp.processes, ['-', 'glibc.malloc.hugetlb=1']);
    assert.equal(exp.stderr.split(missing).length - 1, 1, `the error once: ${exp.stderr}`);
    assert.deepEqual(run('check', dir).processes, ['-']);
    assert.deepEqual(run('export', '--help').processes, ['-']);
  });

  it('info describes a checkpoint: architecture and the parameter count of its weights', () => {
    const r = cli('info', path.join(GOLDEN, 'llama'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /LlamaForCausalLM \(model_type llama\)/);
    // 2 layers × (4·64² q,o + 2·(32·64) k,v + 3·176·64 mlp + 2·64 norms) + 2·512·64 + 64
    const expected = 2 * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 176 * 64 + 2 * 64) + 2 * 512 * 64 + 64;
    assert.match(
      r.stdout,
      new RegExp(`parameters +${expected.toLocaleString('en-US')} \\(from config\\.json\\); on disk ${expected.toLocaleString('en-US')} in 21 tensors`),
    );
    assert.match(r.stdout, /grouped-query \(2 query heads per kv head\)/);
  });

  it('info --json gives the summary as JSON', () => {
    const r = cli('info', path.join(GOLDEN, 'mistral'), '--json');
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.architecture, 'MistralForCausalLM');
    assert.deepEqual(j.config.attention.slidingWindow, [8, 8]);
  });

  it('info on a folder with a bad config exits 1 with an error naming the file and key', () => {
    const d = tempDir();
    fs.copyFileSync(path.join(GOLDEN, 'llama', 'model.safetensors'), path.join(d, 'model.safetensors'));
    fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ model_type: 'bert' }));
    const r = cli('info', d);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      new RegExp(`tuneloop info: error: ${path.join(d, 'config.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: model_type: unsupported architecture "bert"`),
    );
  });

  it('golden --json reports each check; a failing check exits 1', function () {
    this.timeout(60_000);
    const cache = tempDir();
    const ok = cli(
      'golden',
      path.join(GOLDEN, 'qwen2'),
      '--json',
      '--cache',
      cache,
      '--only',
      'logits_base,greedy_base,logits_lora,logits_trained,logits_merged_trained,greedy_lora',
    );
    assert.equal(ok.status, 0, ok.stderr);
    const j = JSON.parse(ok.stdout);
    assert.equal(j.ok, true);
    assert.deepEqual(
      j.checks.map((c: { name: string }) => c.name),
      ['logits_base', 'greedy_base', 'logits_lora', 'logits_trained', 'logits_merged_trained', 'greedy_lora'],
    );
    assert.ok(j.checks.every((c: { maxAbsErr: number; tol: number; ok: boolean }) => c.ok && c.maxAbsErr <= c.tol));
    const d = tempDir();
    fs.cpSync(path.join(GOLDEN, 'qwen2'), d, { recursive: true });
    const cfg = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ ...cfg, rms_norm_eps: 0.5 }));
    const bad = cli('golden', d, '--cache', cache, '--only', 'logits_base,greedy_base');
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /^FAIL +logits_base +max_abs_err/m);
    assert.match(bad.stdout, /NOT all 2 checks passed/);
  });

  it('train runs a recipe in the background trainer with progress; --follow replays a finished run', function () {
    this.timeout(60_000);
    const ws = tempDir();
    fs.writeFileSync(
      path.join(ws, 'd.jsonl'),
      Array.from({ length: 12 }, (_, i) => JSON.stringify({ prompt: `q${i % 3}`, completion: ` a${i % 3}` })).join('\n'),
    );
    goldenCopy(ws);
    fs.writeFileSync(
      path.join(ws, 'r.adapter.yml'),
      `base_model: models/llama\ndataset:\n  path: d.jsonl\n  validation_split: 2\ntraining:\n  max_steps: 6\n  batch_size: 2\n  eval_every: 3\n`,
    );
    const runs = path.join(ws, 'runs');
    const r = cli('train', path.join(ws, 'r.adapter.yml'), '--runs', runs, '--threads', '1');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^started: 10 training rows, 2 for validation, 6 steps/m);
    assert.match(r.stdout, /step 6\/6 {2}loss \d+\.\d{4} {2}lr /);
    assert.match(r.stdout, /step 3: validation loss \d/);
    assert.match(r.stdout, /^done after 6 steps: .*adapter$/m);
    const runDir = path.join(runs, fs.readdirSync(runs)[0]!);
    const f = cli('train', '--follow', runDir);
    assert.equal(f.status, 0);
    assert.match(f.stdout, /done after 6 steps/);
    const bad = cli('train', path.join(ws, 'nope.adapter.yml'));
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /cannot read the recipe/);
  });

  it('train finds a Hub base model in the Hugging Face cache; a missing one needs --download, as run and eval say', function () {
    this.timeout(60_000);
    const ws = tempDir();
    const hf = fakeHubHome('test-org/tiny-llama');
    const env = { ...process.env, HF_HOME: hf.home, HF_HUB_CACHE: '', HF_HUB_OFFLINE: '', HF_ENDPOINT: 'http://127.0.0.1:9' };
    const run = (...a: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), ...a], { encoding: 'utf8', cwd: ws, env });
    fs.writeFileSync(path.join(ws, 'd.jsonl'), Array.from({ length: 6 }, (_, i) => JSON.stringify({ prompt: `q${i}`, completion: ` a${i}` })).join('\n'));
    const recipe = (base: string) => `base_model: ${base}\ndataset:\n  path: d.jsonl\ntraining:\n  max_steps: 2\n  batch_size: 2\n`;
    fs.writeFileSync(path.join(ws, 'hub.adapter.yml'), recipe('test-org/tiny-llama'));
    fs.writeFileSync(path.join(ws, 'absent.adapter.yml'), recipe('test-org/absent'));
    const r = run('train', 'hub.adapter.yml', '--runs', 'runs', '--threads', '1');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^done after 2 steps/m);
    const absent = run('train', 'absent.adapter.yml', '--runs', 'runs');
    assert.equal(absent.status, 1);
    assert.match(
      absent.stderr,
      /absent\.adapter\.yml: base_model: model "test-org\/absent" looks like a Hub id, but downloading is not enabled here and the Hugging Face cache \(.*\) does not hold it \(run with --download to download it, or give a local model folder\)/,
    );
  });

  it('export merges an adapter into its base as a transformers.js folder; models lists the caches', () => {
    const ws = tempDir();
    const env = { TUNELOOP_CACHE: path.join(ws, 'cache'), HF_HUB_CACHE: path.join(ws, 'hf') };
    const run = (...a: string[]) =>
      spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), ...a], { encoding: 'utf8', env: { ...process.env, ...env } });
    const r = run('export', path.join(GOLDEN, 'llama', 'adapter'), '--base', path.join(GOLDEN, 'llama'), '--out', path.join(ws, 'out'));
    assert.equal(r.status, 0, r.stderr);
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx']) assert.ok(fs.existsSync(path.join(ws, 'out', f)), f);
    const again = run('export', path.join(GOLDEN, 'llama', 'adapter'), '--out', path.join(ws, 'out'));
    assert.equal(again.status, 1);
    assert.match(again.stderr, /the output folder is not empty/);
    const m = run('models');
    assert.equal(m.status, 0);
    assert.match(m.stdout, /Hugging Face cache \(.*hf\): empty/);
    assert.match(m.stdout, /llama .* \+ .*adapter/);
  });

  it('usage errors exit 2; unknown commands too', () => {
    assert.equal(cli('info').status, 2);
    assert.match(cli('info').stderr, /info takes exactly one checkpoint folder/);
    assert.equal(cli('info', '--bogus', 'x').status, 2);
    const r = cli('frobnicate');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command "frobnicate"/);
  });

  it('--help lists the commands and each command has its own --help; --version prints the version', () => {
    const h = cli('--help');
    assert.equal(h.status, 0);
    assert.match(h.stdout, /usage: tuneloop COMMAND/);
    assert.match(h.stdout, /\n {2}info +describe a Hugging Face checkpoint folder/);
    assert.match(cli('info', '--help').stdout, /usage: tuneloop info DIR \[--json\]/);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    assert.equal(cli('--version').stdout.trim(), pkg.version);
  });
});
