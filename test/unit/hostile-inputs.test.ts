import * as assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readEvents } from '../../src/core/train/events';
import { goldenCopy, ROOT, tempDir } from '../helpers';

/**
 * Hostile and careless inputs, as a new user meets them on the CLI (issue 10): each case asserts the
 * message, the exit status, and that no file of the workspace (outside its runs folder) or outside it
 * changed: the file tree and every file's hash and mode are compared before and after.
 */
const CLI = path.join(ROOT, 'dist', 'cli.js');
/** The embedded model, which files may name from anywhere (a trusted read). */
const MODEL = path.join(ROOT, 'models', 'default');
const CACHE = tempDir('tuneloop-hostile-cache-');

function cli(cwd: string, args: readonly string[], options: SpawnSyncOptions = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 120_000,
    ...options,
    env: { ...process.env, NO_COLOR: '1', TUNELOOP_CACHE: CACHE, ...(options.env ?? {}) },
  });
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr), out: `${String(r.stdout)}${String(r.stderr)}` };
}

const ROWS = `${Array.from({ length: 12 }, (_, i) => JSON.stringify({ prompt: `What is colour ${i % 4}?`, completion: ` Colour ${i % 4} is ${['red', 'blue', 'green', 'gold'][i % 4]}.` })).join('\n')}\n`;

function recipe(extra: { output?: string; training?: string; dataset?: string; lora?: string } = {}): string {
  return [
    `base_model: ${MODEL}`,
    'dataset:',
    `  path: ${extra.dataset ?? 'data/d.jsonl'}`,
    '  validation_split: 2',
    'lora:',
    `  r: 2`,
    `  target_modules: ${extra.lora ?? '[q_proj, v_proj]'}`,
    'training:',
    extra.training ?? '  max_steps: 4\n  batch_size: 2\n  max_seq_len: 32',
    ...(extra.output !== undefined ? [`output: ${extra.output}`] : []),
    '',
  ].join('\n');
}

const PROMPT = (extra = '') => `name: q
model: ${MODEL}
modelParameters:
  maxTokens: 4
messages:
  - role: user
    content: "What is {{thing}}?"
testData:
  - thing: snow
${extra}`;

/** A workspace: a folder with .git (the root of its paths) and these files. */
function workspace(files: Record<string, string | Buffer> = {}): string {
  const ws = tempDir('tuneloop-hostile-ws-');
  fs.mkdirSync(path.join(ws, '.git'));
  for (const [name, text] of Object.entries({ 'data/d.jsonl': ROWS, ...files })) {
    fs.mkdirSync(path.dirname(path.join(ws, name)), { recursive: true });
    fs.writeFileSync(path.join(ws, name), text);
  }
  return ws;
}

type Tree = Map<string, string>;

/** Every file and folder under `dir` (the runs folder left out) with its hash and mode. */
function tree(dir: string, skip = ['.tuneloop']): Tree {
  const out: Tree = new Map();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const rel = path.relative(dir, p);
      if (skip.includes(rel)) continue;
      const st = fs.lstatSync(p);
      if (e.isDirectory()) {
        out.set(`${rel}/`, (st.mode & 0o7777).toString(8));
        walk(p);
      } else
        out.set(
          rel,
          `${(st.mode & 0o7777).toString(8)} ${crypto
            .createHash('sha256')
            .update(e.isSymbolicLink() ? fs.readlinkSync(p) : fs.readFileSync(p))
            .digest('hex')}`,
        );
    }
  };
  walk(dir);
  return out;
}

function assertUnchanged(before: Tree, dir: string, what = dir): void {
  assert.deepEqual(Object.fromEntries(tree(dir)), Object.fromEntries(before), `${what} changed`);
}

/** Runs `check` around `act`: the workspace (and `outside`) are the same after as before. */
function untouched<T>(dirs: readonly string[], act: () => T): T {
  const before = dirs.map((d) => tree(d));
  const r = act();
  dirs.forEach((d, i) => assertUnchanged(before[i]!, d));
  return r;
}

function runsOf(ws: string): string[] {
  const runs = path.join(ws, '.tuneloop', 'runs');
  return fs.existsSync(runs) ? fs.readdirSync(runs).map((n) => path.join(runs, n)) : [];
}

/** A line of `tuneloop check` output: FILE:LINE:COL: error: MESSAGE. */
function checkLine(out: string, file: string, line: number, message: RegExp): void {
  const esc = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assert.match(out, new RegExp(`${esc}:${line}:\\d+: error: ${message.source}`, 'm'), out);
}

describe('hostile inputs: nothing outside its place is deleted or overwritten', function () {
  this.timeout(180_000);

  it('output: . is refused by check (at its line) and by train, and the workspace stays as it was', () => {
    const ws = workspace({ 'r.adapter.yml': recipe({ output: '.' }), 'notes.txt': 'my work\n' });
    untouched([ws], () => {
      const c = cli(ws, ['check', 'r.adapter.yml']);
      assert.equal(c.status, 1);
      checkLine(c.stdout, 'r.adapter.yml', 12, /output "\.": the output folder .* holds .*, which replacing it would delete/);
      const t = cli(ws, ['train', 'r.adapter.yml']);
      assert.equal(t.status, 1, t.out);
      assert.match(t.stderr, /r\.adapter\.yml:12:9: .*which replacing it would delete/);
      const f = cli(ws, ['train', 'r.adapter.yml', '--force']);
      assert.equal(f.status, 1, 'not even with --force');
    });
    assert.deepEqual(runsOf(ws), [], 'no run was started');
  });

  it('output outside the root is refused by check and train; the folder there is not replaced', () => {
    const outside = tempDir('tuneloop-hostile-outside-');
    fs.writeFileSync(path.join(outside, 'keep.txt'), 'keep me\n');
    const ws = workspace({ 'r.adapter.yml': recipe({ output: outside }) });
    untouched([ws, outside], () => {
      const c = cli(ws, ['check', 'r.adapter.yml']);
      checkLine(c.stdout, 'r.adapter.yml', 12, /output ".*" resolves outside the workspace root/);
      const t = cli(ws, ['train', 'r.adapter.yml', '--force']);
      assert.equal(t.status, 1);
      assert.match(t.stderr, /resolves outside the workspace root .*--root/);
    });
  });

  it("an output folder of someone else's is replaced only with --force, then carries the marker", () => {
    const ws = workspace({ 'r.adapter.yml': recipe({ output: 'adapters/x' }), 'adapters/x/mine.txt': 'mine\n' });
    untouched([ws], () => {
      const c = cli(ws, ['check', 'r.adapter.yml']);
      assert.equal(c.status, 0, c.out);
      assert.match(c.stdout, /r\.adapter\.yml:12:9: warning: output "adapters\/x" holds files that Tuneloop did not write/);
      const t = cli(ws, ['train', 'r.adapter.yml']);
      assert.equal(t.status, 1, t.out);
      assert.match(t.stderr, /holds files that Tuneloop did not write .*--force/);
    });
    const f = cli(ws, ['train', 'r.adapter.yml', '--force', '--threads', '1']);
    assert.equal(f.status, 0, f.out);
    assert.deepEqual(fs.readdirSync(path.join(ws, 'adapters', 'x')).sort(), ['.tuneloop-output', 'adapter_config.json', 'adapter_model.safetensors']);
    // Now it is Tuneloop's own: trained again without --force, it is replaced.
    const again = cli(ws, ['train', 'r.adapter.yml', '--threads', '1']);
    assert.equal(again.status, 0, again.out);
  });

  it('snapshot: must name a .json file inside the root, never a dataset or a file outside', () => {
    const outside = tempDir('tuneloop-hostile-outside-');
    fs.writeFileSync(path.join(outside, 's.json'), '{"mine": true}\n');
    for (const [snapshot, message] of [
      ['data/d.jsonl', /snapshot "data\/d\.jsonl" must name a \.json file/],
      [path.join(outside, 's.json'), /snapshot ".*s\.json" resolves outside the workspace root/],
      ['../../s.json', /snapshot "\.\.\/\.\.\/s\.json" resolves outside the workspace root/],
    ] as const) {
      const ws = workspace({ 'q.prompt.yml': PROMPT(`snapshot: ${snapshot}\n`) });
      untouched([ws, outside], () => {
        const c = cli(ws, ['check', 'q.prompt.yml']);
        assert.equal(c.status, 1, c.out);
        checkLine(c.stdout, 'q.prompt.yml', 10, message);
        const u = cli(ws, ['eval', 'q.prompt.yml', '--update-snapshots']);
        assert.equal(u.status, 1, u.out);
        assert.match(u.stderr, /q\.prompt\.yml:10:\d+: /);
        assert.doesNotMatch(u.out, /--update-snapshots/, 'no advice to overwrite it');
      });
    }
  });

  it('a snapshot path holding a JSON file that is not a snapshot is not overwritten', () => {
    const ws = workspace({ 'q.prompt.yml': PROMPT('snapshot: package.json\n'), 'package.json': '{"name": "mine"}\n' });
    untouched([ws], () => {
      const u = cli(ws, ['eval', 'q.prompt.yml', '--update-snapshots', '--threads', '1']);
      assert.equal(u.status, 1, u.out);
      assert.match(u.stderr, /package\.json: not a Tuneloop snapshot .*it is not overwritten/);
    });
  });

  it('a read-only snapshot is not replaced, and keeps its mode', () => {
    const ws = workspace({ 'q.prompt.yml': PROMPT('snapshot: q.snapshot.json\n') });
    assert.equal(cli(ws, ['eval', 'q.prompt.yml', '--update-snapshots', '--threads', '1']).status, 0);
    const file = path.join(ws, 'q.snapshot.json');
    const s = JSON.parse(fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(file, JSON.stringify({ ...s, outputs: { base: { 0: 'accepted by hand' } } }));
    fs.chmodSync(file, 0o444);
    untouched([ws], () => {
      const u = cli(ws, ['eval', 'q.prompt.yml', '--update-snapshots', '--threads', '1']);
      assert.equal(u.status, 1, u.out);
      assert.match(u.stderr, /q\.snapshot\.json: the snapshot file is read-only, so it is not updated \(make it writable/);
    });
  });

  it('--update-snapshots on a file without a snapshot key says so and fails, before running anything', () => {
    const ws = workspace({ 'q.prompt.yml': PROMPT() });
    untouched([ws], () => {
      const u = cli(ws, ['eval', 'q.prompt.yml', '--update-snapshots']);
      assert.equal(u.status, 1);
      assert.match(u.stderr, /has no "snapshot" key, so there is nothing to write \(add snapshot: NAME\.snapshot\.json/);
    });
  });

  it('the snapshot records a local model by its path relative to the prompt file, the same on every machine', () => {
    const ws = workspace({ 'q.prompt.yml': PROMPT('snapshot: q.snapshot.json\n').replace(`model: ${MODEL}`, 'model: models/m') });
    fs.cpSync(MODEL, path.join(ws, 'models', 'm'), { recursive: true });
    const u = cli(ws, ['eval', 'q.prompt.yml', '--update-snapshots', '--threads', '1']);
    assert.equal(u.status, 0, u.out);
    assert.equal(JSON.parse(fs.readFileSync(path.join(ws, 'q.snapshot.json'), 'utf8')).model.id, 'models/m');
  });

  it('tuneloop cache clear removes only its own exports, and lists what it left', () => {
    const cache = tempDir('tuneloop-hostile-cache-');
    const ws = workspace({ 'q.prompt.yml': PROMPT() });
    assert.equal(cli(ws, ['run', 'q.prompt.yml', '--threads', '1'], { env: { TUNELOOP_CACHE: cache } }).status, 0);
    fs.mkdirSync(path.join(cache, 'exports', 'my-notes'));
    fs.writeFileSync(path.join(cache, 'exports', 'my-notes', 'n.txt'), 'mine\n');
    fs.writeFileSync(path.join(cache, 'exports', 'stray.txt'), 'mine\n');
    const c = cli(ws, ['cache', 'clear'], { env: { TUNELOOP_CACHE: cache } });
    assert.equal(c.status, 0, c.out);
    assert.match(
      c.stdout,
      /left 2 item\(s\) .* that are not Tuneloop exports: my-notes, stray\.txt|left 2 item\(s\) .* that are not Tuneloop exports: stray\.txt, my-notes/,
    );
    assert.deepEqual(fs.readdirSync(path.join(cache, 'exports')).sort(), ['my-notes', 'stray.txt']);
    assert.equal(fs.readFileSync(path.join(cache, 'exports', 'my-notes', 'n.txt'), 'utf8'), 'mine\n');
  });

  it('a diverging run fails with the step and what to do, records it, and writes no adapter to output', () => {
    const ws = workspace({
      'r.adapter.yml': recipe({
        output: 'adapters/x',
        lora: 'all-linear',
        training: '  learning_rate: 1e30\n  max_steps: 6\n  batch_size: 2\n  max_seq_len: 32',
      }),
    });
    const t = cli(ws, ['train', 'r.adapter.yml', '--threads', '1']);
    assert.equal(t.status, 1, t.out);
    assert.match(
      t.stdout,
      /failed: diverged at step \d+: the (validation )?loss is NaN; lower learning_rate \(it is 1e\+30\) or raise warmup_steps, and train again/,
    );
    const [run] = runsOf(ws);
    const events = readEvents(path.join(run!, 'events.jsonl')).events;
    const failed = events.at(-1)!;
    assert.equal(failed.type, 'failed');
    assert.equal((failed as { reason?: string }).reason, 'diverged');
    assert.ok(!events.some((e) => e.type === 'done'));
    assert.ok(!fs.existsSync(path.join(ws, 'adapters', 'x')), 'no adapter in output');
    assert.ok(!fs.existsSync(path.join(run!, 'adapter')), 'no adapter in the run');
  });

  it('NaN weights in an adapter or a model are an error naming the tensor', () => {
    const ws = workspace();
    const llama = goldenCopy(ws);
    const poison = (file: string) => {
      const buf = fs.readFileSync(file);
      const headerLen = Number(buf.readBigUInt64LE(0));
      const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
      const [name, t] = Object.entries(header).find(([k, v]) => k !== '__metadata__' && v.dtype === 'F32')!;
      buf.writeFloatLE(Number.NaN, 8 + headerLen + t.data_offsets[0] + 4);
      fs.writeFileSync(file, buf);
      return name;
    };
    const adapterKey = poison(path.join(llama, 'adapter', 'adapter_model.safetensors'));
    fs.writeFileSync(path.join(ws, 'q.prompt.yml'), PROMPT('adapters:\n  - path: models/llama/adapter\n').replace(`model: ${MODEL}`, 'model: models/llama'));
    const a = cli(ws, ['run', 'q.prompt.yml', '--threads', '1']);
    assert.equal(a.status, 1, a.out);
    assert.match(a.stderr, new RegExp(`adapter_model\\.safetensors: ${adapterKey.replace(/\./g, '\\.')}: holds a non-finite value \\(NaN at index 1\\)`));
    const modelKey = poison(path.join(llama, 'model.safetensors'));
    const m = cli(ws, ['run', 'q.prompt.yml', '--threads', '1']);
    assert.equal(m.status, 1, m.out);
    assert.match(m.stderr, new RegExp(`model\\.safetensors: ${modelKey.replace(/\./g, '\\.')}: holds a non-finite value`));
  });

  it('dataset paths are confined: ../../etc/passwd and a symlink out are refused, and nothing of them is read', () => {
    const outside = tempDir('tuneloop-hostile-outside-');
    fs.writeFileSync(path.join(outside, 'secret.jsonl'), 'root:x:0:0:the secret first line\n');
    const ws = workspace({
      'up.adapter.yml': recipe({ dataset: '../../../../../../../../etc/passwd' }),
      'link.adapter.yml': recipe({ dataset: 'data/link.jsonl' }),
    });
    fs.symlinkSync(path.join(outside, 'secret.jsonl'), path.join(ws, 'data', 'link.jsonl'));
    untouched([ws, outside], () => {
      const c = cli(ws, ['check', '.']);
      assert.equal(c.status, 1);
      checkLine(c.stdout, 'up.adapter.yml', 3, /dataset ".*etc\/passwd" resolves outside the workspace root/);
      checkLine(
        c.stdout,
        'link.adapter.yml',
        3,
        /dataset "data\/link\.jsonl" resolves outside the workspace root .* \(through a symbolic link, it is .*secret\.jsonl\)/,
      );
      for (const f of ['up.adapter.yml', 'link.adapter.yml']) {
        const t = cli(ws, ['train', f]);
        assert.equal(t.status, 1, t.out);
        assert.doesNotMatch(t.out, /root:x|secret first line/);
      }
    });
    assert.deepEqual(runsOf(ws), []);
  });

  it('no more than 80 characters of a bad row reach events.jsonl', () => {
    const secret = `${'x'.repeat(60)}THE-PART-AFTER-EIGHTY-CHARACTERS-${'y'.repeat(40)}`;
    const ws = workspace({ 'r.adapter.yml': recipe(), 'data/d.jsonl': `${ROWS}${secret}\n` });
    const t = cli(ws, ['train', 'r.adapter.yml', '--threads', '1']);
    assert.equal(t.status, 1, t.out);
    assert.match(t.stdout, /d\.jsonl:13: not valid JSON/);
    const events = fs.readFileSync(path.join(runsOf(ws)[0]!, 'events.jsonl'), 'utf8');
    assert.ok(events.includes(secret.slice(0, 50)), 'the excerpt is there');
    assert.ok(!events.includes('THE-PART-AFTER-EIGHTY'), 'and nothing of the row past 80 characters');
  });

  it('a run folder that cannot be written is an error naming it, not a trainer that dies without a trace', () => {
    const ws = workspace({ 'r.adapter.yml': recipe() });
    const file = path.join(ws, 'runs-file');
    fs.writeFileSync(file, '');
    untouched([ws], () => {
      const a = cli(ws, ['train', 'r.adapter.yml', '--runs', file]);
      assert.equal(a.status, 1, a.out);
      assert.match(a.stderr, /runs-file: the runs folder is a file/);
      const b = cli(ws, ['train', 'r.adapter.yml', '--runs', path.join(file, 'runs')]);
      assert.equal(b.status, 1, b.out);
      assert.match(b.stderr, /cannot make the runs folder: a part of the path is a file/);
    });
    // A folder this user may not write. Root writes anywhere, so as root the CLI runs as nobody.
    const asRoot = process.getuid?.() === 0;
    const locked = path.join(ws, 'locked');
    fs.mkdirSync(locked, { mode: 0o555 });
    fs.chmodSync(locked, 0o555);
    const cache = tempDir('tuneloop-hostile-cache-');
    for (const d of [ws, cache, path.join(ws, 'data')]) fs.chmodSync(d, 0o777);
    for (const f of ['r.adapter.yml', 'data/d.jsonl']) fs.chmodSync(path.join(ws, f), 0o644);
    const as = asRoot ? { uid: 65534, gid: 65534 } : {};
    const probe = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(CLI)})`], { ...as, encoding: 'utf8' });
    if (probe.status !== 0) {
      console.log(`      (skipped the permission case: nobody cannot run the CLI here: ${probe.stderr.split('\n')[0]})`);
      return;
    }
    const c = cli(ws, ['train', 'r.adapter.yml', '--runs', locked], { ...as, env: { TUNELOOP_CACHE: cache, HOME: cache } });
    assert.equal(c.status, 1, c.out);
    assert.match(c.stderr, /locked: cannot write in the runs folder: permission denied/);
  });

  it('YAML alias bombs, folders for files, broken chat templates: messages at their place, never a stack', () => {
    const bomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
    ].join('\n');
    const ws = workspace({
      'bomb.prompt.yml': `${bomb}\n${PROMPT().replace('  - thing: snow', '  - thing: *d')}`,
      'dir.adapter.yml': recipe({ dataset: 'data' }),
    });
    const broken = path.join(ws, 'models', 'broken');
    fs.cpSync(MODEL, broken, { recursive: true });
    const tc = JSON.parse(fs.readFileSync(path.join(broken, 'tokenizer_config.json'), 'utf8'));
    fs.writeFileSync(path.join(broken, 'tokenizer_config.json'), JSON.stringify({ ...tc, chat_template: '{% for m in messages %}{{ m.content }{% endfor %}' }));
    fs.writeFileSync(path.join(ws, 'chat.prompt.yml'), PROMPT().replace(`model: ${MODEL}`, 'model: models/broken'));
    untouched([ws], () => {
      const results = [
        cli(ws, ['check', 'bomb.prompt.yml']),
        cli(ws, ['run', 'bomb.prompt.yml']),
        cli(ws, ['check', 'dir.adapter.yml']),
        cli(ws, ['train', 'dir.adapter.yml']),
        cli(ws, ['info', 'models/broken']),
        cli(ws, ['run', 'chat.prompt.yml', '--threads', '1']),
      ];
      checkLine(results[0]!.stdout, 'bomb.prompt.yml', 4, /this value expands too many aliases/);
      assert.match(results[1]!.stderr, /bomb\.prompt\.yml:4:\d+: this value expands too many aliases/);
      checkLine(results[2]!.stdout, 'dir.adapter.yml', 3, /dataset "data" is a folder: name the file inside it/);
      assert.match(results[3]!.stderr, /dir\.adapter\.yml:3:\d+: dataset "data" is a folder/);
      assert.match(results[4]!.stderr, /broken\/tokenizer_config\.json: chat_template: the chat template does not parse: Parser Error/);
      assert.match(results[5]!.stderr, /broken\/tokenizer_config\.json: chat_template: the chat template does not parse/);
      for (const r of results) {
        assert.doesNotMatch(r.out, /\n\s+at \S+ \(|internal error/, r.out);
      }
    });
  });

  it('bad option values are usage errors: --threads=-3, --threads abc, --resume on a folder that is no run', () => {
    const ws = workspace({ 'q.prompt.yml': PROMPT(), 'r.adapter.yml': recipe() });
    untouched([ws], () => {
      for (const args of [
        ['run', 'q.prompt.yml', '--threads=-3'],
        ['run', 'q.prompt.yml', '--threads', 'abc'],
        ['train', 'r.adapter.yml', '--threads', '1.5'],
        ['eval', 'q.prompt.yml', '--threads', '0'],
      ]) {
        const r = cli(ws, args);
        assert.equal(r.status, 2, `${args.join(' ')}: ${r.out}`);
        assert.match(r.stderr, /--threads takes a whole number from 1 to 256, got "/);
        assert.doesNotMatch(r.stderr, /corrupt/);
      }
      const notRun = cli(ws, ['train', '--resume', path.join(ws, 'data')]);
      assert.equal(notRun.status, 1);
      assert.match(notRun.stderr, /data: not a run folder \(no events\.jsonl or spec\.json\)/);
      const missing = cli(ws, ['train', '--resume', path.join(ws, 'nowhere')]);
      assert.match(missing.stderr, /nowhere: no such run folder/);
      const file = cli(ws, ['train', '--follow', path.join(ws, 'q.prompt.yml')]);
      assert.match(file.stderr, /q\.prompt\.yml: the run folder is a file, not a folder/);
    });
  });

  it('invalid UTF-8 in a prompt file, a recipe or a dataset is an error at its line and column', () => {
    const latin1 = (s: string) => Buffer.from(s, 'latin1');
    const ws = workspace({
      'q.prompt.yml': latin1(PROMPT().replace('  - thing: snow', '  - thing: crème brûlée')),
      'r.adapter.yml': latin1(`# Recette: crème\n${recipe()}`),
      'd.adapter.yml': recipe({ dataset: 'data/latin.jsonl' }),
      'data/latin.jsonl': latin1(`${ROWS}{"prompt": "Caf\u00e9?", "completion": " Oui."}\n`),
    });
    untouched([ws], () => {
      const c = cli(ws, ['check', '.']);
      assert.equal(c.status, 1);
      checkLine(c.stdout, 'q.prompt.yml', 9, /the file is not valid UTF-8 here: byte 0xe8 \(it may be Latin-1/);
      checkLine(c.stdout, 'r.adapter.yml', 1, /the file is not valid UTF-8 here: byte 0xe8/);
      const r = cli(ws, ['run', 'q.prompt.yml']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /q\.prompt\.yml:9:14: the file is not valid UTF-8 here: .*\(save the file as UTF-8/);
    });
    const t = cli(ws, ['train', 'd.adapter.yml', '--threads', '1']);
    assert.equal(t.status, 1);
    assert.match(t.stdout, /latin\.jsonl:13:16: the file is not valid UTF-8 here: byte 0xe9/);
  });

  it('target_modules naming a module the model lacks, beside ones it has, is a warning', () => {
    const ws = workspace({ 'r.adapter.yml': recipe({ lora: '[q_proj, qkv_proj]' }) });
    const t = cli(ws, ['train', 'r.adapter.yml', '--threads', '1']);
    assert.equal(t.status, 0, t.out);
    assert.match(t.stderr, /warning: target_modules "qkv_proj" matches no module of this llama model and is ignored \(its linear modules: .*q_proj/);
    assert.match(t.stdout, /warn: target_modules "qkv_proj" matches no module/);
  });

  it('checkpoints by default every 50 steps; the last 2 kept; a finished run is not resumed', () => {
    const ws = workspace({
      'r.adapter.yml': recipe({ training: '  max_steps: 55\n  batch_size: 1\n  max_seq_len: 16' }),
      'k.adapter.yml': recipe({ training: '  max_steps: 8\n  batch_size: 1\n  max_seq_len: 16\n  checkpoint_every: 2' }),
    });
    const t = cli(ws, ['train', 'r.adapter.yml', '--threads', '1']);
    assert.equal(t.status, 0, t.out);
    const run = runsOf(ws).find((d) => d.endsWith('-r'))!;
    assert.deepEqual(fs.readdirSync(path.join(run, 'checkpoints')), ['step-50']);
    const k = cli(ws, ['train', 'k.adapter.yml', '--threads', '1']);
    assert.equal(k.status, 0, k.out);
    const kept = runsOf(ws).find((d) => d.endsWith('-k'))!;
    assert.deepEqual(fs.readdirSync(path.join(kept, 'checkpoints')).sort(), ['step-4', 'step-6']);
    const before = tree(kept, []);
    const again = cli(ws, ['train', '--resume', kept]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /the run finished at step 8: there is nothing to resume/);
    assertUnchanged(before, kept, 'the finished run');
  });

  for (const damage of ['state.json', 'optimizer.safetensors'] as const) {
    it(`resume falls back to the newest checkpoint that loads when the latest has a damaged ${damage}`, () => {
      const ws = workspace({ 'k.adapter.yml': recipe({ training: '  max_steps: 8\n  batch_size: 1\n  max_seq_len: 16\n  checkpoint_every: 2' }) });
      assert.equal(cli(ws, ['train', 'k.adapter.yml', '--threads', '1']).status, 0);
      const [run] = runsOf(ws);
      // As if the trainer had crashed after step 7: no done event, the latest checkpoint half written.
      const events = path.join(run!, 'events.jsonl');
      fs.writeFileSync(
        events,
        `${fs
          .readFileSync(events, 'utf8')
          .split('\n')
          .filter((l) => l && !l.includes('"type":"done"'))
          .join('\n')}\n`,
      );
      fs.rmSync(path.join(run!, 'adapter'), { recursive: true });
      const file = path.join(run!, 'checkpoints', 'step-6', damage);
      fs.writeFileSync(file, fs.readFileSync(file).subarray(0, damage === 'state.json' ? 10 : 100));
      const r = cli(ws, ['train', '--resume', run!, '--threads', '1']);
      assert.equal(r.status, 0, r.out);
      assert.match(r.stdout, /warn: resuming from step-4: step-6 does not load \(.*step-6.*\)/);
      assert.match(r.stdout, /resumed at step 4/);
      assert.match(r.stdout, /done after 8 steps/);
    });
  }
});
