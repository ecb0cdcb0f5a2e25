// Packages one .vsix per platform with @vscode/vsce, each carrying only its own onnxruntime binaries.
//   node scripts/package-vsix.mjs                      every target
//   node scripts/package-vsix.mjs --target linux-x64   one target
// Output: dist-vsix/tuneloop-<target>-<version>.vsix (run `npm run build:prod` first; `npm run package` does).
import { createVSIX } from '@vscode/vsce';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TARGETS, writeIgnoreFile } from './vsix-targets.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const i = argv.indexOf('--target');
const targets = i >= 0 ? [argv[i + 1]] : Object.keys(TARGETS);
const version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-vsix-'));
fs.mkdirSync(path.join(root, 'dist-vsix'), { recursive: true });

for (const target of targets) {
  const started = Date.now();
  const out = path.join(root, 'dist-vsix', `tuneloop-${target}-${version}.vsix`);
  await createVSIX({ cwd: root, target, packagePath: out, ignoreFile: writeIgnoreFile(root, target, tmp), dependencies: true, allowMissingRepository: true });
  const mb = fs.statSync(out).size / 1e6;
  console.log(`package: ${path.relative(root, out)} ${mb.toFixed(1)} MB in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
fs.rmSync(tmp, { recursive: true, force: true });
