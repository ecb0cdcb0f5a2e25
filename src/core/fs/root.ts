import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * One rule for the paths that prompt files and recipes name (model, adapters, dataset, output,
 * snapshot): each resolves, symlinks followed, inside the root. The root is `--root` when given
 * (in VS Code: the file's workspace folder), else the nearest folder above the file that holds
 * `.git`, else the current folder when the file is inside it, else the file's own folder. Reads of
 * the embedded model and of the standard Hugging Face cache are trusted wherever those live.
 */
export interface Confinement {
  /** The root, as a real path (symlinks resolved). */
  readonly root: string;
  /** Folders that may be read from wherever they are (the embedded model, the Hub cache), as real paths. */
  readonly trustedReads: readonly string[];
}

/** The real path of `p`; for a path that does not exist yet, the real path of its nearest existing ancestor plus the rest. */
export function realPathLoose(p: string): string {
  const abs = path.resolve(p);
  const rest: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      return path.join(fs.realpathSync.native(cur), ...rest.reverse());
    } catch {
      const parent = path.dirname(cur);
      if (parent === cur) return abs;
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}

/** Whether `child` is `parent` or inside it (both absolute, compared as given). */
export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** The root for a file, by the rule above. */
export function findRoot(file: string, explicit?: string, cwd = process.cwd()): string {
  if (explicit) return realPathLoose(explicit);
  const start = realPathLoose(path.dirname(path.resolve(file)));
  for (let dir = start; ; ) {
    if (fs.existsSync(path.join(dir, '.git'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  const realCwd = realPathLoose(cwd);
  return isInside(start, realCwd) ? realCwd : start;
}

export function confinement(root: string, trustedReads: readonly string[] = []): Confinement {
  return { root: realPathLoose(root), trustedReads: trustedReads.filter((d) => d !== '').map(realPathLoose) };
}

/**
 * Why `p` (already resolved against its file's folder) may not be used, or undefined when it may.
 * Writes must land inside the root; reads may also come from a trusted folder.
 */
export function placeProblem(p: string, c: Confinement, use: 'read' | 'write'): string | undefined {
  const real = realPathLoose(p);
  if (isInside(real, c.root)) return undefined;
  if (use === 'read' && c.trustedReads.some((t) => isInside(real, t))) return undefined;
  const via = real !== path.resolve(p) ? ` (through a symbolic link, it is ${real})` : '';
  return `resolves outside the workspace root ${c.root}${via}`;
}

export const ROOT_HINT = 'keep the path inside the workspace, or run with --root to choose the root';
