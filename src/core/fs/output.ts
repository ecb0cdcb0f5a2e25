import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type ErrorPlace, TuneloopError } from '../errors';
import { describeFsError } from './text';

/**
 * Folders Tuneloop writes whole (a recipe's `output:`): replaced only when absent, empty, or marked
 * as Tuneloop's own by a `.tuneloop-output` file, and only once the new content is complete. A
 * folder with anything else in it is someone's work: replacing it needs `--force` (in the panel, a
 * question), so that `output: .` or `output: /home/me` can never wipe what Tuneloop did not make.
 */
export const OUTPUT_MARKER = '.tuneloop-output';

export type OutputState = 'absent' | 'empty' | 'ours' | 'foreign' | 'file';

export function outputState(dir: string): OutputState {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch {
    return 'absent';
  }
  if (!st.isDirectory()) return 'file';
  const names = fs.readdirSync(dir);
  if (names.length === 0) return 'empty';
  return names.includes(OUTPUT_MARKER) ? 'ours' : 'foreign';
}

/** Refused with `--force` or without: the folder is a file, or holds what the run itself reads or is. */
export class OutputRefusedError extends TuneloopError {}

/** Refused unless forced: the folder holds files Tuneloop did not write. */
export class ForeignOutputError extends TuneloopError {}

/**
 * Whether `dir` may be replaced. `protect` lists paths that must never be inside the output (the
 * recipe, its dataset, the workspace root): replacing a folder that holds them would delete them.
 */
export function checkOutput(dir: string, options: { readonly force?: boolean; readonly protect?: readonly string[]; readonly place?: ErrorPlace }): void {
  const place = options.place ?? { file: dir };
  for (const p of options.protect ?? []) {
    const rel = path.relative(dir, p);
    if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) {
      throw new OutputRefusedError(
        `the output folder ${dir} holds ${p}, which replacing it would delete`,
        place,
        'name a folder of its own for the adapter, e.g. output: adapters/NAME',
      );
    }
  }
  const state = outputState(dir);
  if (state === 'file') throw new OutputRefusedError(`the output ${dir} is a file, not a folder`, place, 'name a folder for the adapter');
  if (state === 'foreign' && !options.force) {
    throw new ForeignOutputError(
      `the output folder ${dir} holds files that Tuneloop did not write (it has no ${OUTPUT_MARKER} marker), so it is not replaced`,
      place,
      'name an empty or new folder, or run with --force to replace it',
    );
  }
}

/**
 * Replace `dir` by the folder `fill` writes: built beside it under a temporary name with the marker,
 * then swapped in; the old folder is removed only after the new one is in place. `checkOutput` is
 * applied again just before the swap, since the folder may have changed while a run trained.
 */
export function replaceOutput(
  dir: string,
  fill: (tmp: string) => void,
  options: { readonly force?: boolean; readonly protect?: readonly string[]; readonly place?: ErrorPlace; readonly note?: string },
): void {
  checkOutput(dir, options);
  const parent = path.dirname(dir);
  const suffix = `${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  const tmp = path.join(parent, `.${path.basename(dir)}.new-${suffix}`);
  const old = path.join(parent, `.${path.basename(dir)}.old-${suffix}`);
  try {
    fs.mkdirSync(parent, { recursive: true });
    fs.mkdirSync(tmp);
    fill(tmp);
    fs.writeFileSync(
      path.join(tmp, OUTPUT_MARKER),
      `${options.note ?? 'Written by Tuneloop.'}\nTuneloop replaces this folder when it writes it again; remove this file to keep it from doing so.\n`,
    );
    checkOutput(dir, options);
    const hadOld = outputState(dir) !== 'absent';
    if (hadOld) fs.renameSync(dir, old);
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      if (hadOld) fs.renameSync(old, dir);
      throw e;
    }
    if (hadOld) fs.rmSync(old, { recursive: true, force: true });
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (e instanceof TuneloopError) throw e;
    throw new TuneloopError(
      `cannot write the output folder: ${describeFsError(e)}`,
      options.place ?? { file: dir },
      'check that the folder and its parent can be written',
    );
  }
}
