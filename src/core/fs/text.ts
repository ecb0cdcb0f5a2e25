import * as fs from 'node:fs';
import { TuneloopError } from '../errors';

/**
 * Text files users write (prompt files, recipes, datasets) are UTF-8. Node's `readFileSync(f, 'utf8')`
 * turns any other encoding into U+FFFD without a word, so a Latin-1 file would train on or be
 * compared against replacement characters; here invalid bytes are an error at their line and column.
 */
const DECODER = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** The first byte offset at which `bytes` stops being valid UTF-8, or -1 when it is all valid. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    if (i + need >= n) return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** 1-based line and column (in characters) of byte `offset` in `bytes`, which is valid UTF-8 before it. */
function positionOf(bytes: Uint8Array, offset: number): { line: number; column: number } {
  const before = Buffer.from(bytes.buffer, bytes.byteOffset, offset).toString('utf8');
  const lines = before.split('\n');
  return { line: lines.length, column: [...lines.at(-1)!].length + 1 };
}

/** The problem with a buffer as UTF-8 text, with its position, or undefined when it is valid. */
export function utf8Problem(bytes: Uint8Array): { line: number; column: number; byte: number; message: string } | undefined {
  try {
    DECODER.decode(bytes);
    return undefined;
  } catch {
    const at = firstInvalidUtf8(bytes);
    const offset = Math.max(at, 0);
    const { line, column } = positionOf(bytes, offset);
    const byte = bytes[offset] ?? 0;
    return {
      line,
      column,
      byte,
      message: `the file is not valid UTF-8 here: byte 0x${byte.toString(16).padStart(2, '0')} (it may be Latin-1 or another encoding)`,
    };
  }
}

export const UTF8_HINT = 'save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)';

/**
 * Read a text file strictly: invalid UTF-8 is a TuneloopError naming the file, line and column; a
 * folder or an unreadable file is a TuneloopError too, with `what` saying which file the user meant.
 * A leading byte-order mark is dropped.
 */
export function readTextFile(file: string, what = 'file'): string {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new TuneloopError(`cannot read the ${what}: ${describeFsError(e)}`, { file }, fsHint(e));
  }
  const problem = utf8Problem(bytes);
  if (problem) throw new TuneloopError(problem.message, { file, line: problem.line, column: problem.column }, UTF8_HINT);
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** A file-system error in words: "it is a folder", "no such file", "permission denied"… */
export function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or folder';
    case 'EISDIR':
      return 'it is a folder, not a file';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOSPC':
      return 'the disk is full';
    default:
      return code ?? (e instanceof Error ? e.message : String(e));
  }
}

function fsHint(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code === 'EISDIR') return 'name a file inside the folder';
  if (code === 'EACCES' || code === 'EPERM') return 'check the file permissions';
  return 'check the path';
}
