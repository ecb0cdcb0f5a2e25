import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../fs/atomic';

/** Where exports are kept unless a setting or TUNELOOP_CACHE says otherwise. */
export function defaultCacheDir(): string {
  if (process.env.TUNELOOP_CACHE) return process.env.TUNELOOP_CACHE;
  const base = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  return path.join(base, 'tuneloop');
}

const HashIndex = z.record(z.string(), z.object({ size: z.number(), mtimeMs: z.number(), ino: z.number(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }));

interface HashEntry {
  size: number;
  mtimeMs: number;
  ino: number;
  sha256: string;
}

/**
 * SHA-256 of files, remembered by (path, size, mtime, inode) in `<cacheDir>/hashes.json`, so that a
 * checkpoint already seen is recognised without reading its gigabytes again.
 */
export function fileSha256(file: string, cacheDir: string): string {
  const abs = path.resolve(file);
  const st = fs.statSync(abs);
  const indexFile = path.join(cacheDir, 'hashes.json');
  let index: Record<string, HashEntry> = {};
  try {
    const r = HashIndex.safeParse(JSON.parse(fs.readFileSync(indexFile, 'utf8')));
    if (r.success) index = r.data;
  } catch {
    // no index yet, or a damaged one: start afresh
  }
  const known = index[abs];
  if (known && known.size === st.size && known.mtimeMs === st.mtimeMs && known.ino === st.ino) return known.sha256;
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(abs, 'r');
  try {
    const buf = Buffer.allocUnsafe(8 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  const sha256 = hash.digest('hex');
  index[abs] = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, sha256 };
  writeFileAtomic(indexFile, JSON.stringify(index));
  return sha256;
}

/** Bytes in a folder, recursively. */
export function folderBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? folderBytes(p) : fs.statSync(p).size;
  }
  return n;
}
