import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The repository root (tests run from out/test/...). */
export const ROOT = path.resolve(__dirname, '..', '..');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');
export const GOLDEN = path.join(FIXTURES, 'golden');
export const GOLDEN_ARCHS = fs
  .readdirSync(GOLDEN)
  .filter((d) => fs.existsSync(path.join(GOLDEN, d, 'config.json')))
  .sort();

const made: string[] = [];
process.on('exit', () => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary folder, removed when the process exits. */
export function tempDir(prefix = 'tuneloop-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/**
 * A copy of a golden checkpoint (with its adapters) inside the workspace `ws`: files name their
 * models inside the workspace root, as the path rule asks (src/core/fs/root.ts).
 */
export function goldenCopy(ws: string, arch = 'llama'): string {
  const dir = path.join(ws, 'models', arch);
  if (!fs.existsSync(dir)) fs.cpSync(path.join(GOLDEN, arch), dir, { recursive: true });
  return dir;
}

/**
 * The built CLI (dist/cli.js) run in `cwd`, without colour, its export cache in `cwd/.cache` unless
 * `env` names another (or changes anything else).
 */
export function runCli(cwd: string, args: readonly string[], env: Readonly<Record<string, string>> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), ...args], {
    encoding: 'utf8',
    cwd,
    env: { ...process.env, NO_COLOR: '1', TUNELOOP_CACHE: path.join(cwd, '.cache'), ...env },
  });
}
