import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeError } from '../core/errors';
import { defaultCacheDir } from '../core/export/cache';
import { VERSION } from '../core/version';

/**
 * An internal error's stack, with what was run, in `<cache>/logs/` (or the temporary folder when
 * the cache cannot be written). Returns the log's path, or undefined when no log could be written.
 */
export function writeCrashLog(command: string, args: readonly string[], e: unknown): string | undefined {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const text = [
    `tuneloop ${VERSION} ${command} ${args.join(' ')}`,
    `node ${process.version} ${process.platform}-${process.arch}, cwd ${process.cwd()}`,
    '',
    describeError(e),
    '',
    (e as Error | null)?.stack ?? String(e),
    '',
  ].join('\n');
  for (const dir of [path.join(defaultCacheDir(), 'logs'), os.tmpdir()]) {
    try {
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `tuneloop-crash-${stamp}-${process.pid}.log`);
      fs.writeFileSync(file, text);
      return file;
    } catch {
      // try the next place
    }
  }
  return undefined;
}
