// The platforms onnxruntime-node 1.30 ships binaries for, as VS Code marketplace targets, and the
// ignore file that gives each target's .vsix only its own native files.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** VS Code target → onnxruntime-node's binary folder (bin/napi-v6/<os>/<arch>). */
export const TARGETS = {
  'linux-x64': 'linux/x64',
  'linux-arm64': 'linux/arm64',
  'darwin-arm64': 'darwin/arm64',
  'win32-x64': 'win32/x64',
  'win32-arm64': 'win32/arm64',
};

export function binaryFolder(target) {
  const folder = TARGETS[target];
  if (!folder) throw new Error(`unknown target ${target}; known: ${Object.keys(TARGETS).join(', ')}`);
  return `node_modules/onnxruntime-node/bin/napi-v6/${folder}`;
}

/** The ignore file for `target`: the common allow-list plus that platform's binaries. */
export function writeIgnoreFile(root, target, outDir) {
  const base = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8');
  const file = path.join(outDir, `vscodeignore-${target}`);
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(file, `${base.trimEnd()}\n!${binaryFolder(target)}/**\n`);
  return file;
}
