import type { z } from 'zod';
import { TuneloopError } from '../errors';
import { describeIssues } from '../zod-issues';
import { readTextFile } from './text';

/**
 * A JSON file from disk, checked against its schema before anything trusts it: a run's spec, an
 * export's manifest, a model's config. A file that is missing, not UTF-8, not JSON or not of the
 * expected shape is a TuneloopError naming the file (and the key), with `hint` saying what to do.
 */
export function readJsonFile<T>(file: string, schema: z.ZodType<T>, what: string, hint?: string): T {
  const text = readTextFile(file, what);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new TuneloopError(`the ${what} is not valid JSON: ${(e as Error).message}`, { file }, hint);
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new TuneloopError(
      `the ${what} is not as expected: ${describeIssues(r.error)}`,
      { file, ...(first?.path.length ? { key: first.path.join('.') } : {}) },
      hint,
    );
  }
  return r.data;
}

/** The value with every object's keys in order (numbers in their numeric order): for files that diff well and for content keys. */
export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v as object)
        .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  return v;
}
