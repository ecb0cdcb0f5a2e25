import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_DTYPE, EXPORT_DTYPES } from '../../src/core/dtypes';
import { COMMAND_NEEDS_TRUST } from '../../src/extension/trust';
import { ROOT } from '../helpers';

/** The extension manifest, the bundles, and what each platform's .vsix would carry. */
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));

describe('extension manifest', () => {
  it('is named tuneloop, targets VS Code 1.100 and its types match the engine', () => {
    assert.equal(pkg.name, 'tuneloop');
    assert.equal(pkg.engines.vscode, '^1.100.0');
    const types = lock.packages['node_modules/@types/vscode'].version as string;
    assert.match(types, /^1\.100\./, `@types/vscode ${types} must match the engine`);
    assert.equal(pkg.main, './dist/extension.js');
  });

  it('activates narrowly: on prompt or adapter files present (commands and views activate implicitly)', () => {
    assert.ok(pkg.activationEvents.length > 0);
    for (const e of pkg.activationEvents as string[]) {
      assert.match(e, /^(workspaceContains:\*\*\/\*\.(prompt|adapter)\.ya?ml|onLanguage:tuneloop-(prompt|adapter)|onWebviewPanel:tuneloop\.panel)$/, e);
    }
  });

  it('declares every command it refers to, and registers every command it declares', () => {
    const declared = new Set((pkg.contributes.commands as { command: string }[]).map((c) => c.command));
    const referenced = [
      ...Object.values(pkg.contributes.menus as Record<string, { command: string }[]>)
        .flat()
        .map((m) => m.command),
      ...(pkg.contributes.viewsWelcome as { contents: string }[]).flatMap((v) => [...v.contents.matchAll(/command:([\w.]+)/g)].map((m) => m[1]!)),
    ];
    for (const c of referenced) assert.ok(declared.has(c), `${c} is used but not declared`);
    // The extension registers exactly the declared set: main.ts's command table is typed by the trust
    // table's ids (Record<CommandId, …>), so the compiler holds the two to the same keys.
    assert.deepEqual(Object.keys(COMMAND_NEEDS_TRUST).sort(), [...declared].sort());
  });

  it('declares its views, settings, languages and untrusted-workspace behaviour', () => {
    const views = pkg.contributes.views.tuneloop.map((v: { id: string }) => v.id);
    assert.deepEqual(views, ['tuneloop.home', 'tuneloop.runs']);
    assert.ok(pkg.contributes.viewsContainers.activitybar.some((c: { id: string }) => c.id === 'tuneloop'));
    const settings = Object.keys(pkg.contributes.configuration.properties);
    for (const s of ['tuneloop.defaultModel', 'tuneloop.threads', 'tuneloop.dtype', 'tuneloop.cacheFolder', 'tuneloop.runsFolder', 'tuneloop.logLevel'])
      assert.ok(settings.includes(s), s);
    // tuneloop.dtype: the dtypes the exporter writes, fp32 by default, each described; the prompt file's dtype wins.
    const dtype = pkg.contributes.configuration.properties['tuneloop.dtype'];
    assert.deepEqual(dtype.enum, [...EXPORT_DTYPES]);
    assert.equal(dtype.default, DEFAULT_DTYPE);
    assert.equal(dtype.enumDescriptions.length, EXPORT_DTYPES.length);
    assert.match(dtype.markdownDescription, /A prompt file's top-level `dtype:` wins over this setting/);
    assert.deepEqual(
      pkg.contributes.languages.map((l: { id: string }) => l.id),
      ['tuneloop-prompt', 'tuneloop-adapter'],
    );
    for (const g of pkg.contributes.grammars) JSON.parse(fs.readFileSync(path.join(ROOT, g.path), 'utf8'));
    assert.equal(pkg.capabilities.untrustedWorkspaces.supported, 'limited');
  });

  it('has a tuneloop bin: the bundled CLI with a node shebang', () => {
    assert.deepEqual(pkg.bin, { tuneloop: 'dist/cli.js' });
    assert.match(fs.readFileSync(path.join(ROOT, 'dist/cli.js'), 'utf8').slice(0, 30), /^#!\/usr\/bin\/env node\n/);
  });
});

describe('bundles', () => {
  for (const b of ['extension', 'features', 'worker', 'trainer', 'cli']) {
    it(`dist/${b}.js keeps vscode and onnxruntime external and leaves sharp out`, () => {
      const js = fs.readFileSync(path.join(ROOT, 'dist', `${b}.js`), 'utf8');
      const required = new Set([...js.matchAll(/require\("([^"./][^"]*)"\)/g)].map((m) => m[1]!));
      const builtins = new Set(require('node:module').builtinModules as string[]);
      for (const r of required)
        assert.ok(r.startsWith('node:') || builtins.has(r) || /^(vscode|onnxruntime-(node|common))$/.test(r), `${b} requires ${r} at run time`);
      assert.ok(!required.has('sharp'), 'sharp is stubbed out');
    });
  }

  it('the extension host bundles stay light: no transformers.js, no onnxruntime (models load in the worker)', () => {
    for (const b of ['extension', 'features']) {
      const js = fs.readFileSync(path.join(ROOT, 'dist', `${b}.js`), 'utf8');
      assert.ok(!/require\("onnxruntime-(node|common)"\)/.test(js), `${b}.js loads onnxruntime`);
      assert.ok(!js.includes('@huggingface/transformers') && !js.includes('AutoModelForCausalLM'), `${b}.js bundles transformers.js`);
    }
  });

  it('the activation entry is a few kilobytes that load only vscode, and features.js after activate returns', () => {
    const js = fs.readFileSync(path.join(ROOT, 'dist', 'extension.js'), 'utf8');
    assert.ok(js.length < 16_000, `dist/extension.js is ${js.length} bytes: what activation needs not has crept into it`);
    assert.deepEqual([...new Set([...js.matchAll(/require\("([^"]*)"\)/g)].map((m) => m[1]))].sort(), ['./features.js', 'vscode']);
    assert.ok(fs.statSync(path.join(ROOT, 'dist', 'features.js')).size > 100_000, 'dist/features.js holds the extension');
  });

  it('the CLI and worker bundle transformers.js (its version string is inside)', () => {
    const v = lock.packages['node_modules/@huggingface/transformers'].version as string;
    for (const b of ['cli', 'worker']) assert.ok(fs.readFileSync(path.join(ROOT, 'dist', `${b}.js`), 'utf8').includes(v), b);
  });
});

describe('platform packages (.vsix file lists)', function () {
  this.timeout(120_000);
  const targetsModule = import(path.join(ROOT, 'scripts/vsix-targets.mjs')) as Promise<{
    TARGETS: Record<string, string>;
    writeIgnoreFile(root: string, target: string, out: string): string;
  }>;
  const vsce = require('@vscode/vsce') as { listFiles(o: object): Promise<string[]> };
  const tmp = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'tuneloop-vsix-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('each target carries its own onnxruntime binaries and nothing of the others', async () => {
    const { TARGETS, writeIgnoreFile } = await targetsModule;
    assert.deepEqual(Object.keys(TARGETS).sort(), ['darwin-arm64', 'linux-arm64', 'linux-x64', 'win32-arm64', 'win32-x64']);
    for (const [target, folder] of Object.entries(TARGETS)) {
      const files = (await vsce.listFiles({ cwd: ROOT, ignoreFile: writeIgnoreFile(ROOT, target, tmp), dependencies: true })).sort();
      const natives = files.filter((f) => f.includes('/bin/napi-v6/'));
      assert.ok(natives.length >= 2, `${target}: native files present`);
      for (const f of natives) assert.ok(f.startsWith(`node_modules/onnxruntime-node/bin/napi-v6/${folder}/`), `${target} carries ${f}`);
      assert.ok(natives.includes(`node_modules/onnxruntime-node/bin/napi-v6/${folder}/onnxruntime_binding.node`), `${target}: binding`);
      for (const f of [
        'package.json',
        'README.md',
        'LICENSE',
        'dist/extension.js',
        'dist/features.js',
        'dist/worker.js',
        'dist/trainer.js',
        'dist/webview.js',
        'media/main.css',
        'media/tuneloop.svg',
        'node_modules/onnxruntime-node/dist/index.js',
        'node_modules/onnxruntime-common/dist/cjs/index.js',
      ]) {
        assert.ok(files.includes(f), `${target} lacks ${f}`);
      }
      for (const f of files) {
        assert.doesNotMatch(f, /(^|\/)(sharp|@img|@huggingface|onnxruntime-web|src|test|bench|scripts)\//, `${target} should not carry ${f}`);
        assert.doesNotMatch(f, /\.(map|ts)$/, `${target} should not carry ${f}`);
      }
    }
  });
});
