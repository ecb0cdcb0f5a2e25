import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareGreedy, runGolden } from '../../src/core/golden/run';
import { loadModelConfig } from '../../src/core/models/config';
import { TensorStore } from '../../src/core/safetensors/checkpoint';
import { GOLDEN, GOLDEN_ARCHS, ROOT, tempDir } from '../helpers';
import { NaiveDecoder } from '../reference/naive-decoder';

/** The same checks as `tuneloop golden`, on the fixtures: the engine against Hugging Face. */
describe('golden parity (tuneloop golden)', function () {
  this.timeout(120_000);
  const cacheDir = tempDir();

  for (const arch of GOLDEN_ARCHS) {
    it(`${arch}: every check passes (inference, LoRA, chat template, q8/q4 fidelity, gradients, AdamW, train2, adapter files)`, async () => {
      const r = await runGolden(path.join(GOLDEN, arch), { cacheDir, threads: 2 });
      for (const c of r.checks) assert.ok(c.ok, `${c.name}: ${c.maxAbsErr} > ${c.tol} ${c.detail ?? ''}`);
      const names = r.checks.map((c) => c.name);
      const grads = JSON.parse(fs.readFileSync(path.join(GOLDEN, arch, 'manifest.json'), 'utf8'))['golden.safetensors'];
      const gradKeys = Object.keys(grads)
        .filter((k) => k.startsWith('grad.'))
        .sort();
      assert.deepEqual(names.filter((n) => n.startsWith('grad.')).sort(), gradKeys, 'one check per grad.* tensor');
      assert.deepEqual(
        names.filter((n) => !n.startsWith('grad.')),
        [
          'logits_base',
          'greedy_base',
          'logits_lora',
          'logits_trained',
          'logits_merged_trained',
          'greedy_lora',
          'chat',
          'q8.kernel',
          'q8.logits',
          'q8.top1',
          'q8.perplexity',
          'q4.kernel',
          'q4.logits',
          'q4.top1',
          'q4.perplexity',
          'adamw',
          'train2.losses',
          'train2.grad_norms_before_clip',
          'train2.lrs',
          'train2.logits_trained',
          'train2.adapter_files',
          'adapter_files',
        ],
      );
      assert.ok(r.checks[0]!.maxAbsErr < 1e-5, `logits within float32 rounding: ${r.checks[0]!.maxAbsErr}`);
    });
  }

  it('fails when the graph is wrong: mistral exported without its sliding window', async () => {
    const d = tempDir();
    fs.cpSync(path.join(GOLDEN, 'mistral'), d, { recursive: true });
    const cfg = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ ...cfg, sliding_window: null }));
    const r = await runGolden(d, { cacheDir, threads: 2, only: ['logits_base'] });
    assert.equal(r.ok, false);
    assert.ok(r.checks[0]!.maxAbsErr > 1e-3, `error ${r.checks[0]!.maxAbsErr}`);
  });

  it('greedy comparison: identical passes, a difference fails, a near-tie passes', () => {
    const want = [1, 2, 3, 4, 5];
    assert.equal(compareGreedy('g', [1, 2, 3, 4, 5], want, [1, 1, 1], 2).ok, true);
    const bad = compareGreedy('g', [1, 2, 3, 9, 5], want, [1, 1, 1], 2);
    assert.equal(bad.ok, false);
    assert.match(bad.detail!, /first difference at step 1: got 9, expected 4 \(recorded gap 1\.00e\+0\)/);
    assert.equal(compareGreedy('g', [1, 2, 3, 9, 7], want, [1, 3e-4, 1], 2).ok, true);
    assert.equal(compareGreedy('g', [1, 2, 3, 4], want, [1, 1, 1], 2).ok, false);
  });
});

describe('the float64 reference decoder against Hugging Face', function () {
  this.timeout(60_000);
  for (const arch of GOLDEN_ARCHS) {
    it(`${arch}: reproduces logits_base`, () => {
      const dir = path.join(GOLDEN, arch);
      const store = TensorStore.openDir(dir);
      const golden = TensorStore.openFiles([path.join(dir, 'golden.safetensors')]);
      const ids = Array.from(new BigInt64Array(golden.readBytes('input_ids').buffer), Number);
      const want = golden.readFloat32('logits_base');
      const ref = new NaiveDecoder(loadModelConfig(dir), store);
      const S = 16;
      const V = 512;
      let max = 0;
      for (let b = 0; b < 2; b++) {
        const logits = ref.forward(ids.slice(b * S, (b + 1) * S));
        logits.forEach((row, t) => row.forEach((v, i) => (max = Math.max(max, Math.abs(v - want[(b * S + t) * V + i]!)))));
      }
      assert.ok(max < 2e-4, `max abs err ${max}`);
      store.close();
      golden.close();
    });
  }
});

/** A temporary copy of the golden fixture folder `arch`, to alter. */
function goldenCopy(arch: string): string {
  const d = tempDir();
  fs.cpSync(path.join(GOLDEN, arch), d, { recursive: true });
  return d;
}

/** Add `delta` to the first float32 of the first tensor (by offset) of a safetensors file; returns its key. */
function nudgeSafetensors(file: string, delta: number): string {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const [key, entry] = Object.entries(header)
    .filter(([k]) => k !== '__metadata__')
    .sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0])[0]!;
  assert.equal(entry.dtype, 'F32');
  const at = 8 + n + entry.data_offsets[0];
  buf.writeFloatLE(buf.readFloatLE(at) + delta, at);
  fs.writeFileSync(file, buf);
  return key;
}

/** train2's results by name, every one present. */
function byName(checks: readonly { name: string; ok: boolean; maxAbsErr: number; detail?: string }[]) {
  return new Map(checks.map((c) => [c.name, c]));
}

/** The train2 checks read train2/adapter_trained/ and train2.json's lrs: changing either fails them. */
describe('golden train2: the trained adapter and the learning rates are checked', function () {
  this.timeout(60_000);
  const cacheDir = tempDir();
  const arch = 'qwen2'; // the smallest folder
  const train2 = (dir: string) => runGolden(dir, { cacheDir, threads: 2, only: ['train2'] });

  it('an unaltered copy passes every train2 check', async () => {
    const r = await train2(goldenCopy(arch));
    assert.deepEqual(
      r.checks.map((c) => c.name),
      ['train2.losses', 'train2.grad_norms_before_clip', 'train2.lrs', 'train2.logits_trained', 'train2.adapter_files'],
    );
    for (const c of r.checks) assert.ok(c.ok, `${c.name}: ${c.maxAbsErr} > ${c.tol} ${c.detail ?? ''}`);
    assert.equal(byName(r.checks).get('train2.lrs')!.maxAbsErr, 0, 'the schedule is float64 arithmetic on both sides');
  });

  it('one value of train2/adapter_trained/adapter_model.safetensors changed by 1e-2 fails train2.adapter_files', async () => {
    const d = goldenCopy(arch);
    nudgeSafetensors(path.join(d, 'train2', 'adapter_trained', 'adapter_model.safetensors'), 1e-2);
    const r = byName((await train2(d)).checks);
    const c = r.get('train2.adapter_files')!;
    assert.equal(c.ok, false);
    assert.ok(Math.abs(c.maxAbsErr - 1e-2) < 1e-4, `error ${c.maxAbsErr}`);
    for (const name of ['train2.losses', 'train2.lrs', 'train2.logits_trained']) assert.ok(r.get(name)!.ok, name);
  });

  it('lora_alpha changed in train2/adapter_trained/adapter_config.json fails train2.adapter_files', async () => {
    const d = goldenCopy(arch);
    const file = path.join(d, 'train2', 'adapter_trained', 'adapter_config.json');
    const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(file, JSON.stringify({ ...cfg, lora_alpha: cfg.lora_alpha * 2 }));
    const c = byName((await train2(d)).checks).get('train2.adapter_files')!;
    assert.equal(c.ok, false);
    assert.match(c.detail ?? '', /adapter_config\.json lora_alpha/);
  });

  it('one entry of train2.json lrs changed by 1e-9 fails train2.lrs', async () => {
    const d = goldenCopy(arch);
    const file = path.join(d, 'train2', 'train2.json');
    const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
    spec.lrs[3] += 1e-9;
    fs.writeFileSync(file, JSON.stringify(spec));
    const r = byName((await train2(d)).checks);
    assert.equal(r.get('train2.lrs')!.ok, false);
    assert.ok(r.get('train2.losses')!.ok && r.get('train2.adapter_files')!.ok);
  });
});

/** scripts/golden-all.sh, CI's golden stage: it must fail when it would check nothing. */
describe('scripts/golden-all.sh', function () {
  this.timeout(60_000);
  const script = path.join(ROOT, 'scripts', 'golden-all.sh');
  const cacheDir = tempDir();
  const run = (file: string, ...args: string[]) => {
    const r = spawnSync('bash', [file, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, TUNELOOP_CACHE: cacheDir } });
    return { status: r.status, out: r.stdout + r.stderr };
  };
  /** A stand-in repository holding only the script, its fixtures' golden folder, and optionally ../shared/golden. */
  const fakeRepo = (shared: boolean) => {
    const top = tempDir();
    fs.mkdirSync(path.join(top, 'repo', 'scripts'), { recursive: true });
    fs.copyFileSync(script, path.join(top, 'repo', 'scripts', 'golden-all.sh'));
    fs.mkdirSync(path.join(top, 'repo', 'test', 'fixtures', 'golden', 'not-golden'), { recursive: true });
    if (shared) fs.mkdirSync(path.join(top, 'shared', 'golden'), { recursive: true });
    return path.join(top, 'repo', 'scripts', 'golden-all.sh');
  };

  it('fails on a folder holding no golden folders', () => {
    const r = run(script, tempDir());
    assert.notEqual(r.status, 0);
    assert.match(r.out, /no golden folders in /);
  });

  it('fails on a folder without golden.json, and names it', () => {
    const root = tempDir();
    fs.cpSync(path.join(GOLDEN, 'qwen2'), path.join(root, 'qwen2'), { recursive: true });
    fs.mkdirSync(path.join(root, 'half-copied'));
    const r = run(script, root);
    assert.notEqual(r.status, 0);
    assert.match(r.out, /half-copied has no golden\.json/);
  });

  it('fails on a ROOT that does not exist', () => {
    const r = run(script, path.join(tempDir(), 'absent'));
    assert.notEqual(r.status, 0);
    assert.match(r.out, /is not a folder/);
  });

  it('falls back to test/fixtures/golden only when ../shared/golden is absent', () => {
    const absent = run(fakeRepo(false));
    assert.notEqual(absent.status, 0);
    assert.match(absent.out, /test\/fixtures\/golden\/not-golden has no golden\.json/);
    const empty = run(fakeRepo(true));
    assert.notEqual(empty.status, 0);
    assert.match(empty.out, /no golden folders in .*\/shared\/golden/);
  });

  it('passes on a folder holding one golden folder', () => {
    const root = tempDir();
    fs.cpSync(path.join(GOLDEN, 'qwen2'), path.join(root, 'qwen2'), { recursive: true });
    const r = run(script, root);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /all \d+ checks passed for .*qwen2/);
    assert.match(r.out, /golden: 1 folders checked in /);
  });

  it('fails when a folder fails its checks', () => {
    const root = tempDir();
    fs.cpSync(path.join(GOLDEN, 'qwen2'), path.join(root, 'qwen2'), { recursive: true });
    const file = path.join(root, 'qwen2', 'train2', 'train2.json');
    const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
    spec.lrs[3] += 1e-9;
    fs.writeFileSync(file, JSON.stringify(spec));
    const r = run(script, root);
    assert.notEqual(r.status, 0);
    assert.match(r.out, /FAIL {2}train2\.lrs/);
    assert.doesNotMatch(r.out, /folders checked/);
  });
});
