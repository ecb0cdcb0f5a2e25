import * as fs from 'node:fs';
import { TuneloopError } from '../errors';
import { writeFileAtomic } from '../fs/atomic';

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

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v as object).sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

export function writeSnapshot(file: string, s: Snapshot): void {
  writeFileAtomic(file, JSON.stringify(sortKeys(s), null, 2) + '\n');
}

export function readSnapshot(file: string): Snapshot | undefined {
  if (!fs.existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new TuneloopError(`not valid JSON: ${(e as Error).message}`, { file }, 'fix it, or write it again with tuneloop eval --update-snapshots');
  }
  const s = raw as Snapshot;
  if (s?.version !== 1 || typeof s.outputs !== 'object' || s.outputs === null || typeof s.model?.id !== 'string') {
    throw new TuneloopError('not a Tuneloop snapshot (version 1 with model and outputs)', { file }, 'write it again with tuneloop eval --update-snapshots');
  }
  for (const [variant, cases] of Object.entries(s.outputs)) {
    for (const [k, v] of Object.entries(cases ?? {})) if (typeof v !== 'string') throw new TuneloopError(`output of case ${k} must be a string`, { file, key: `outputs.${variant}.${k}` });
  }
  return s;
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
