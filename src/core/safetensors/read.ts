import * as fs from 'node:fs';
import { TuneloopError } from '../errors';
import { type Dtype, DTYPES, isDtype, numel, toFloat32 } from './dtype';

/**
 * The safetensors format: 8 bytes of little-endian u64 header length N, N bytes of JSON header
 * (`{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}}`), then the
 * data area. Offsets are relative to the data area.
 *
 * The reader treats every file as hostile until its header has been checked: the header length
 * lies inside the file, the header is UTF-8 JSON of the right shape, every tensor's byte range lies
 * inside the data area and equals shape × element size, and the ranges tile the data area with no
 * overlap and no gap (the rules of the reference implementation). Only then are bytes read, one
 * tensor at a time and on demand, so reading a file costs memory for the tensors asked for and no
 * more.
 */

/** Headers above this are refused, as by the reference implementation. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Byte range in the data area, [begin, end). */
  readonly begin: number;
  readonly end: number;
}

/** A tensor held in memory: raw little-endian bytes with their type and shape. */
export interface Tensor {
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

export class SafetensorsFile {
  private fd: number | undefined;

  private constructor(
    readonly path: string,
    fd: number,
    /** File offset where the data area starts (8 + header length). */
    readonly dataStart: number,
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Readonly<Record<string, string>> | undefined,
  ) {
    this.fd = fd;
  }

  /** Open and validate a file; throws a TuneloopError naming the file (and tensor) on any defect. */
  static open(path: string): SafetensorsFile {
    let fd: number;
    try {
      fd = fs.openSync(path, 'r');
    } catch (e) {
      throw new TuneloopError(`cannot open safetensors file: ${(e as NodeJS.ErrnoException).code ?? e}`, { file: path });
    }
    try {
      const size = fs.fstatSync(fd).size;
      const { dataStart, tensors, metadata } = parseHeader(path, size, (pos, len) => readExactly(fd, path, pos, len));
      return new SafetensorsFile(path, fd, dataStart, tensors, metadata);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new TuneloopError('no such tensor in this file', { file: this.path, key: name });
    return t;
  }

  /** The tensor's raw bytes, in a fresh 8-byte-aligned buffer of exactly its size. */
  readBytes(name: string): Uint8Array {
    const t = this.info(name);
    return readExactly(this.openFd(), this.path, this.dataStart + t.begin, t.end - t.begin);
  }

  read(name: string): Tensor {
    const t = this.info(name);
    return { dtype: t.dtype, shape: t.shape, data: this.readBytes(name) };
  }

  /** The tensor converted to float32 (see `toFloat32` for which types convert how). */
  readFloat32(name: string): Float32Array {
    const t = this.info(name);
    return toFloat32(t.dtype, this.readBytes(name));
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private openFd(): number {
    if (this.fd === undefined) throw new TuneloopError('safetensors file was already closed', { file: this.path });
    return this.fd;
  }
}

/** Read the header and tensor table of a file without keeping it open. */
export function readSafetensorsHeader(path: string): { tensors: ReadonlyMap<string, TensorInfo>; metadata?: Readonly<Record<string, string>> } {
  const f = SafetensorsFile.open(path);
  f.close();
  return f.metadata ? { tensors: f.tensors, metadata: f.metadata } : { tensors: f.tensors };
}

/** Read every tensor of a file into memory. */
export function readSafetensors(path: string): Map<string, Tensor> {
  const f = SafetensorsFile.open(path);
  try {
    return new Map(f.names().map((n) => [n, f.read(n)]));
  } finally {
    f.close();
  }
}

function readExactly(fd: number, path: string, position: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, out, done, Math.min(length - done, 1 << 30), position + done);
    if (n === 0) throw new TuneloopError(`file ended after ${position + done} bytes while reading ${length} bytes at ${position}`, { file: path });
    done += n;
  }
  return out;
}

function parseHeader(
  path: string,
  fileSize: number,
  read: (position: number, length: number) => Uint8Array,
): { dataStart: number; tensors: Map<string, TensorInfo>; metadata: Record<string, string> | undefined } {
  const fail = (message: string, key?: string, hint?: string): never => {
    throw new TuneloopError(message, key === undefined ? { file: path } : { file: path, key }, hint);
  };
  const notSafetensors = 'is this a safetensors file? Re-save it with safetensors.torch.save_file';

  if (fileSize < 8) fail(`file is ${fileSize} bytes, shorter than the 8-byte header length`, undefined, notSafetensors);
  const lenBytes = read(0, 8);
  const headerLen = new DataView(lenBytes.buffer).getBigUint64(0, true);
  if (headerLen > BigInt(fileSize - 8)) {
    fail(`header length ${headerLen} runs past the end of the ${fileSize}-byte file`, undefined, 'the file is truncated or not safetensors');
  }
  if (headerLen > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLen} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  const n = Number(headerLen);
  if (n < 2) fail(`header length ${n} is too short for a JSON object`, undefined, notSafetensors);
  const headerBytes = read(8, n);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    return fail('header is not valid UTF-8', undefined, notSafetensors);
  }
  if (!text.startsWith('{')) fail('header does not start with "{"', undefined, notSafetensors);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON: ${(e as Error).message}`, undefined, notSafetensors);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');

  const dataStart = 8 + n;
  const dataSize = fileSize - dataStart;
  let metadata: Record<string, string> | undefined;
  const tensors = new Map<string, TensorInfo>();

  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail('must be an object of strings', '__metadata__');
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`value of "${k}" must be a string, found ${typeName(v)}`, '__metadata__');
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      fail(`tensor entry must be an object with dtype, shape and data_offsets, found ${typeName(entry)}`, name);
    }
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (!isDtype(dtype)) fail(`unknown dtype ${JSON.stringify(dtype)}; expected one of ${Object.keys(DTYPES).join(', ')}`, name);
    if (!Array.isArray(shape) || !shape.every(isIndex)) fail(`shape must be an array of non-negative integers, found ${JSON.stringify(shape)}`, name);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
      fail(`data_offsets must be [begin, end] with non-negative integers, found ${JSON.stringify(offsets)}`, name);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) fail(`data_offsets [${begin}, ${end}] has begin after end`, name);
    if (end > dataSize) fail(`data_offsets [${begin}, ${end}] run past the ${dataSize}-byte data area`, name, 'the file is truncated');
    const elements = numel(shape as number[]);
    const expected = elements * DTYPES[dtype as Dtype].bytes;
    if (!Number.isSafeInteger(expected)) fail(`shape ${JSON.stringify(shape)} is too large`, name);
    if (end - begin !== expected) {
      fail(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but shape ${JSON.stringify(shape)} of ${dtype} needs ${expected}`, name);
    }
    tensors.set(name, { name, dtype: dtype as Dtype, shape: Object.freeze([...(shape as number[])]), begin, end });
  }

  // The byte ranges must tile the data area exactly: sorted by begin, each starts where the last ended.
  const ordered = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: TensorInfo | undefined;
  for (const t of ordered) {
    if (t.begin < cursor) fail(`bytes [${t.begin}, ${t.end}) overlap tensor "${previous!.name}" [${previous!.begin}, ${previous!.end})`, t.name);
    if (t.begin > cursor) fail(`bytes [${cursor}, ${t.begin}) before this tensor belong to no tensor`, t.name);
    cursor = t.end;
    previous = t;
  }
  if (cursor !== dataSize) {
    fail(`the data area has ${dataSize} bytes but the tensors cover ${cursor}`, undefined, 'the file has trailing bytes or is truncated');
  }
  return { dataStart, tensors, metadata };
}

function isIndex(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function typeName(x: unknown): string {
  return x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x;
}
