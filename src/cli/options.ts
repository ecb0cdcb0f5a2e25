import * as fs from 'node:fs';
import * as path from 'node:path';
import { TuneloopError } from '../core/errors';
import { defaultCacheDir as hubCacheDir } from '../core/hub';
import { EXPORT_DTYPES, type ExportDtype, isExportDtype } from '../core/dtypes';

/** Options every command reads the same way. */

/** A mistake in the command line itself: printed with the command's usage line, exit status 2. */
export class UsageError extends Error {}

/** `--threads N`: a whole number from 1 to 256, or absent (onnxruntime's own choice). */
export function parseThreads(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isInteger(n) || n < 1 || n > 256)
    throw new UsageError(`--threads takes a whole number from 1 to 256, got "${value}"`);
  return n;
}

/** `--dtype fp32|q8|q4`: exactly one of these, or absent (the prompt file's dtype, else fp32). */
export function parseDtypeOption(value: string | undefined): ExportDtype | undefined {
  if (value === undefined) return undefined;
  if (isExportDtype(value)) return value;
  throw new UsageError(`--dtype takes ${EXPORT_DTYPES.join(', ')} (exactly), got "${value}"`);
}

/** The --dtype lines of a help text: what runs in it, and its default. */
export function dtypeHelp(what: string, byDefault = "the prompt file's dtype, else fp32"): string {
  return `  --dtype D      the dtype ${what} in: fp32 (float32), q8 (8-bit blocks,
                 onnx/model_quantized.onnx) or q4 (4-bit blocks, onnx/model_q4.onnx); a checkpoint
                 is exported in it, with its adapter (default: ${byDefault})`;
}

/** `--root DIR`: an existing folder, or absent (the nearest folder holding .git, else the current folder). */
export function parseRoot(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const abs = path.resolve(value);
  if (!fs.statSync(abs, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--root takes a folder, and ${abs} is not one`);
  return abs;
}

/** The embedded default model shipped beside the CLI (models/default), unless TUNELOOP_MODEL names another. */
export function defaultModelDir(): string {
  return process.env.TUNELOOP_MODEL ?? path.resolve(__dirname, '..', 'models', 'default');
}

/** Folders files may name for reading wherever they are: the embedded model and the Hugging Face cache. */
export function trustedReads(): string[] {
  return [defaultModelDir(), hubCacheDir()];
}

/** How a command line allows a Hub download (`--download` on run, eval and train), for the message when it is not allowed. */
export const DOWNLOAD_HINT = 'run with --download to download it';

/** A folder argument that must exist as a folder (`--runs`, `--resume`): a TuneloopError naming it otherwise. */
export function existingFolder(value: string, what: string): string {
  const abs = path.resolve(value);
  const st = fs.statSync(abs, { throwIfNoEntry: false });
  if (!st) throw new TuneloopError(`no such ${what}`, { file: abs });
  if (!st.isDirectory()) throw new TuneloopError(`the ${what} is a file, not a folder`, { file: abs });
  return abs;
}
