// Builds everything with esbuild.
//   node scripts/build.mjs               bundles: extension, worker, CLI (node, CommonJS) and webview (browser)
//   node scripts/build.mjs --production  the same, minified, no source maps (for .vsix and npm pack)
//   node scripts/build.mjs --tests       also transpiles src/, test/ and bench/ to out/ for mocha
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const production = args.has('--production');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const started = Date.now();

const define = { __TUNELOOP_VERSION__: JSON.stringify(pkg.version) };

// Native and host-provided modules stay outside the bundles. onnxruntime-common must be the very
// instance onnxruntime-node registers its backend with, so it is external too.
const external = ['vscode', 'onnxruntime-node', 'onnxruntime-common'];
// transformers.js imports sharp for image inputs, which Tuneloop never uses: a stub keeps its native
// binaries out of the bundle and the packages.
const alias = { sharp: path.join(root, 'src/stubs/sharp.ts') };

const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external,
  alias,
  define,
  minify: production,
  sourcemap: production ? false : 'linked',
  logLevel: 'warning',
  legalComments: 'none',
  // transformers.js' ESM build reads import.meta.url and falls back to __filename when it is empty.
  logOverride: { 'empty-import-meta': 'silent' },
};

await Promise.all([
  // The activation entry stays tiny; what it loads after activate returns is its own bundle (see main.ts).
  esbuild.build({ ...node, entryPoints: { extension: 'src/extension/main.ts' }, outdir: 'dist', external: [...external, './features.js'] }),
  esbuild.build({ ...node, entryPoints: { features: 'src/extension/features.ts' }, outdir: 'dist' }),
  esbuild.build({ ...node, entryPoints: { worker: 'src/worker/main.ts' }, outdir: 'dist' }),
  esbuild.build({ ...node, entryPoints: { trainer: 'src/worker/trainer.ts' }, outdir: 'dist' }),
  esbuild.build({ ...node, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } }),
  esbuild.build({
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
    entryPoints: { webview: 'media/main.ts' },
    outdir: 'dist',
    define,
    minify: production,
    sourcemap: production ? false : 'linked',
    logLevel: 'warning',
  }),
]);
fs.chmodSync(path.join(root, 'dist/cli.js'), 0o755);

if (args.has('--tests')) {
  // Plain transpilation, file by file, so mocha runs the tests against the modules as written.
  const files = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'fixtures') walk(p);
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) files.push(p);
    }
  };
  for (const dir of ['src', 'test', 'bench']) if (fs.existsSync(path.join(root, dir))) walk(dir);
  fs.rmSync(path.join(root, 'out'), { recursive: true, force: true });
  await esbuild.build({
    entryPoints: files,
    outdir: 'out',
    outbase: '.',
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: 'inline',
    define,
    logLevel: 'warning',
  });
}

console.log(`build: ${production ? 'production ' : ''}bundles${args.has('--tests') ? ' and tests' : ''} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
