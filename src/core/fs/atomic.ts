import * as fs from 'node:fs';
import * as path from 'node:path';
import * as crypto from 'node:crypto';

/**
 * Writes go to a temporary name beside the target and are renamed into place once complete, so a
 * reader never sees half a file and a crash leaves the old file (or none) behind.
 */
export function temporaryNameFor(target: string): string {
  const suffix = `${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  return path.join(path.dirname(target), `.${path.basename(target)}.${suffix}.tmp`);
}

/** Write `data` to `target` atomically (temporary file, fsync, rename), with `mode` when given. */
export function writeFileAtomic(target: string, data: string | Uint8Array, options: { readonly mode?: number } = {}): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = temporaryNameFor(target);
  try {
    const fd = fs.openSync(tmp, 'w', options.mode);
    if (options.mode !== undefined) fs.fchmodSync(fd, options.mode);
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Run `write` against a temporary path and rename it onto `target` only if it returns normally.
 * For writers that stream (large safetensors files) rather than hold all bytes at once.
 */
export function withAtomicFile<T>(target: string, write: (tmpPath: string) => T): T {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = temporaryNameFor(target);
  try {
    const result = write(tmp);
    fs.renameSync(tmp, target);
    return result;
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
