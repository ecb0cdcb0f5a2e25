import * as fs from 'node:fs';
import * as path from 'node:path';
import { isInside, realPathLoose } from '../fs/root';
import { TuneloopError } from '../errors';
import { writeFileAtomic } from '../fs/atomic';
import { sortKeys } from '../fs/json';
import { describeFsError, readTextFile } from '../fs/text';

/**
 * A snapshot file (the prompt file's `snapshot` key): accepted outputs that `tuneloop eval` compares
 * against. JSON with sorted keys, so that a diff in review shows exactly what changed:
 * `{version, model: {id, sha256}, outputs: {variant: {caseIndex: text}}}`.
 */
export interface Snapshot {
  readonly version: 1;
  readonly model: { readonly id: string; readonly sha256: string };
  readonly outputs: { readonly [variant: string]: { readonly [caseIndex: string]: string } };
}

/**
 * Write a snapshot: only over a file that is already a snapshot (or none), never over a dataset or
 * another file that `snapshot:` was pointed at by mistake; never over a read-only file (its mode is
 * the user's way of saying "do not touch"), and with the file's mode kept.
 */
export function writeSnapshot(file: string, s: Snapshot): void {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (st) {
    if (st.isDirectory()) throw new TuneloopError('the snapshot path is a folder', { file }, 'point snapshot: at a .json file');
    // Root may write any file; the mode bits still say what its owner wants.
    if ((st.mode & 0o222) === 0)
      throw new TuneloopError('the snapshot file is read-only, so it is not updated', { file }, 'make it writable (chmod u+w) to accept new outputs');
    readSnapshot(file, { refusingToOverwrite: true });
  }
  try {
    writeFileAtomic(file, `${JSON.stringify(sortKeys(s), null, 2)}\n`, st ? { mode: st.mode & 0o7777 } : {});
  } catch (e) {
    throw new TuneloopError(`cannot write the snapshot: ${describeFsError(e)}`, { file }, 'check that the file and its folder can be written');
  }
}

export function readSnapshot(file: string, options: { readonly refusingToOverwrite?: boolean } = {}): Snapshot | undefined {
  if (!fs.existsSync(file)) return undefined;
  // A file that is not a snapshot is never overwritten: the hint must not say --update-snapshots.
  const notOurs = options.refusingToOverwrite
    ? 'it is not a Tuneloop snapshot, so it is not overwritten: point snapshot: at a new file (NAME.snapshot.json), or remove this one'
    : 'point snapshot: at a new file (NAME.snapshot.json); if this file is a damaged snapshot, remove it and accept the outputs again';
  return parseSnapshot(readTextFile(file, 'snapshot'), file, notOurs);
}

/** A snapshot's text, checked; `file` names it in errors (a path, or REF:path for one read from git). */
export function parseSnapshot(text: string, file: string, hint = 'point snapshot: at a new file (NAME.snapshot.json)'): Snapshot {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new TuneloopError(`not valid JSON: ${(e as Error).message}`, { file }, hint);
  }
  const s = raw as Snapshot;
  if (s?.version !== 1 || typeof s.outputs !== 'object' || s.outputs === null || typeof s.model?.id !== 'string') {
    throw new TuneloopError('not a Tuneloop snapshot (version 1 with model and outputs)', { file }, hint);
  }
  for (const [variant, cases] of Object.entries(s.outputs)) {
    for (const [k, v] of Object.entries(cases ?? {}))
      if (typeof v !== 'string') throw new TuneloopError(`output of case ${k} must be a string`, { file, key: `outputs.${variant}.${k}` });
  }
  return s;
}

/**
 * The model's id as a snapshot records it: the same on every machine, so a snapshot committed on one
 * compares equal on another. The embedded model is `tuneloop/default`, a Hub id stays as it is, a
 * local folder is written relative to the prompt file (or by its name when it lies outside the root).
 */
export function snapshotModelId(
  model: { readonly id: string; readonly from: string },
  promptFile: string,
  options: { readonly embeddedModel: string; readonly root: string },
): string {
  const abs = path.resolve(path.dirname(promptFile), model.id);
  if (!fs.existsSync(abs)) return model.id; // a Hub id
  const real = realPathLoose(abs);
  if (real === realPathLoose(options.embeddedModel)) return 'tuneloop/default';
  if (!isInside(real, realPathLoose(options.root))) return path.basename(real);
  return (
    path
      .relative(realPathLoose(path.dirname(promptFile)), real)
      .split(path.sep)
      .join('/') || '.'
  );
}

export interface SnapshotChange {
  readonly variant: string;
  readonly caseIndex: number;
  readonly kind: 'changed' | 'new' | 'missing';
  readonly before?: string;
  readonly after?: string;
}

/** What differs between a snapshot and the outputs of this run (a model change counts too). */
export function compareSnapshot(snapshot: Snapshot, outputs: Snapshot['outputs']): SnapshotChange[] {
  const changes: SnapshotChange[] = [];
  for (const [variant, cases] of Object.entries(outputs)) {
    const before = snapshot.outputs[variant] ?? {};
    for (const [k, after] of Object.entries(cases)) {
      const b = before[k];
      if (b === undefined) changes.push({ variant, caseIndex: Number(k), kind: 'new', after });
      else if (b !== after) changes.push({ variant, caseIndex: Number(k), kind: 'changed', before: b, after });
    }
    for (const [k, b] of Object.entries(before)) if (!(k in cases)) changes.push({ variant, caseIndex: Number(k), kind: 'missing', before: b });
  }
  for (const [variant, cases] of Object.entries(snapshot.outputs)) {
    if (!(variant in outputs)) for (const [k, b] of Object.entries(cases)) changes.push({ variant, caseIndex: Number(k), kind: 'missing', before: b });
  }
  return changes.sort((a, b) => a.variant.localeCompare(b.variant) || a.caseIndex - b.caseIndex);
}
