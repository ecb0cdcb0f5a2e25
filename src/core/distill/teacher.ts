import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type CellResult, type MatrixSpec, runMatrix } from '../compare/matrix';
import { fileSha256 } from '../export/cache';
import { sortKeys } from '../fs/json';
import type { Variables } from '../prompts/render';
import type { TeacherTokens } from '../train/data';

/**
 * The teacher's answers to the inputs, generated through the matrix (one model load for all rows)
 * and cached by content: the cache file's name hashes the teacher (its model's and adapter's files,
 * its messages, its generation parameters and dtype), and each line holds one input's answer, keyed
 * by the hash of the input's variables. A run appends as it goes, so a stopped run (Ctrl-C, a
 * crash) resumes where it stopped, and a second run of the same teacher on the same inputs
 * generates nothing.
 */
export interface TeacherAnswer {
  readonly text: string;
  readonly finish: CellResult['finish'];
  /** With `tokens` (token-level distillation): the answer's token ids and each one's top-k [id, log-probability]. */
  readonly tokens?: TeacherTokens;
}

export interface TeacherRunOptions {
  readonly cacheDir: string;
  /** Keep each answer's tokens and their top-k (token-level distillation). */
  readonly tokens?: boolean | undefined;
  readonly threads?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** After each answer (cached or new): how many of the inputs have one. */
  readonly onProgress?: ((done: number, total: number, cached: number) => void) | undefined;
  /** Loading and exporting the model. */
  readonly onMessage?: ((message: string) => void) | undefined;
}

export interface TeacherRun {
  /** One per input, in order; undefined where the run was stopped first. */
  readonly answers: readonly (TeacherAnswer | undefined)[];
  readonly cached: number;
  readonly generated: number;
  readonly cancelled: boolean;
  readonly cacheFile: string;
}

/** The hash of every file in a folder (names and contents), through the export cache's file hashes. */
export function folderSha256(dir: string, cacheDir: string): string {
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) files.push(r);
    }
  };
  walk('');
  const h = crypto.createHash('sha256');
  for (const f of files.sort()) h.update(`${f} ${fileSha256(path.join(dir, f), cacheDir)}\n`);
  return h.digest('hex');
}

/** Canonical JSON (keys sorted), so that equal variables hash alike whatever their order in the file. */
function canonical(v: unknown): string {
  return JSON.stringify(sortKeys(v));
}

export function sha256(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}

/** The teacher's identity for the cache: everything that changes its answers. */
export function teacherKey(
  spec: Pick<MatrixSpec, 'prompt' | 'params' | 'dtype'>,
  modelDir: string,
  adapterDir: string | undefined,
  cacheDir: string,
  tokens = false,
): string {
  return sha256(
    canonical({
      // Answers with their tokens' top-k are another cache than text alone.
      ...(tokens ? { tokens: true } : {}),
      model: folderSha256(modelDir, cacheDir),
      adapter: adapterDir ? folderSha256(adapterDir, cacheDir) : null,
      messages: spec.prompt.messages.map((m) => ({ role: m.role, content: m.content })),
      params: spec.params,
      dtype: spec.dtype ?? 'fp32',
    }),
  );
}

function readCache(file: string): Map<string, TeacherAnswer> {
  const out = new Map<string, TeacherAnswer>();
  if (!fs.existsSync(file)) return out;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      const o = JSON.parse(line) as { row?: unknown; text?: unknown; finish?: unknown; tokens?: TeacherTokens };
      if (typeof o.row === 'string' && typeof o.text === 'string' && typeof o.finish === 'string')
        out.set(o.row, { text: o.text, finish: o.finish as TeacherAnswer['finish'], ...(o.tokens ? { tokens: o.tokens } : {}) });
    } catch {
      // A line cut short by a crash: that input is generated again.
    }
  }
  return out;
}

/**
 * Runs the teacher (`spec` with the teacher's prompt, model and variant; its cases are replaced by
 * the inputs) on the inputs that have no cached answer.
 */
export async function runTeacher(spec: Omit<MatrixSpec, 'cases'>, key: string, inputs: readonly Variables[], options: TeacherRunOptions): Promise<TeacherRun> {
  const dir = path.join(options.cacheDir, 'distill');
  fs.mkdirSync(dir, { recursive: true });
  const cacheFile = path.join(dir, `${key}.jsonl`);
  const cache = readCache(cacheFile);
  const rowKeys = inputs.map((v) => sha256(canonical(v)));
  const answers: (TeacherAnswer | undefined)[] = rowKeys.map((k) => cache.get(k));
  const cached = answers.filter((a) => a !== undefined).length;
  let done = cached;
  options.onProgress?.(done, inputs.length, cached);
  const todo = inputs.flatMap((vars, index) => (answers[index] ? [] : [{ index, vars }]));
  let generated = 0;
  let cancelled = false;
  if (todo.length > 0) {
    const fd = fs.openSync(cacheFile, 'a');
    try {
      for await (const e of runMatrix({ ...spec, cases: todo }, { cacheDir: options.cacheDir, threads: options.threads, signal: options.signal })) {
        if (e.type === 'variantError' || e.type === 'cellError') throw e.error;
        if (e.type === 'progress') options.onMessage?.(e.message);
        if (e.type === 'end') cancelled = e.cancelled;
        if (e.type !== 'cellDone' || e.cell.finish === 'cancelled') continue;
        const answer: TeacherAnswer = {
          text: e.cell.text,
          finish: e.cell.finish,
          ...(options.tokens
            ? {
                tokens: {
                  ids: e.cell.tokens.map((t) => t.id),
                  top: e.cell.tokens.map((t) => (t.top ?? [{ id: t.id, logprob: t.logprob }]).map((a) => [a.id, a.logprob] as [number, number])),
                },
              }
            : {}),
        };
        answers[e.caseIndex] = answer;
        fs.writeSync(fd, `${JSON.stringify({ row: rowKeys[e.caseIndex], ...answer })}\n`);
        generated++;
        options.onProgress?.(++done, inputs.length, cached);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return { answers, cached, generated, cancelled: cancelled || (options.signal?.aborted ?? false), cacheFile };
}
