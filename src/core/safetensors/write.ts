import * as fs from 'node:fs';
import * as path from 'node:path';
import { TuneloopError } from '../errors';
import { withAtomicFile, writeFileAtomic } from '../fs/atomic';
import { type Dtype, DTYPES, isDtype, numel } from './dtype';

/** A tensor to write; `data` may be produced on demand so that large files stream. */
export interface TensorToWrite {
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly data: Uint8Array | (() => Uint8Array);
}

export type TensorsToWrite = ReadonlyMap<string, TensorToWrite> | Readonly<Record<string, TensorToWrite>>;

function entriesOf(tensors: TensorsToWrite): [string, TensorToWrite][] {
  return tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
}

/**
 * Order of tensors in the data area: larger element types first, then by name, as the reference
 * implementation does, so that each tensor starts at an offset aligned to its element size.
 */
function layout(tensors: [string, TensorToWrite][]): [string, TensorToWrite][] {
  return [...tensors].sort(([an, a], [bn, b]) => DTYPES[b.dtype].bytes - DTYPES[a.dtype].bytes || (an < bn ? -1 : an > bn ? 1 : 0));
}

function byteSize(name: string, t: TensorToWrite): number {
  if (!isDtype(t.dtype)) throw new TuneloopError(`unknown dtype ${JSON.stringify(t.dtype)}`, { key: name });
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new TuneloopError(`bad shape ${JSON.stringify(t.shape)}`, { key: name });
  return numel(t.shape) * DTYPES[t.dtype].bytes;
}

/** The header bytes (JSON padded with spaces to a multiple of 8) and each tensor's begin offset. */
function encodeHeader(ordered: [string, TensorToWrite][], metadata: Record<string, string> | undefined): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of ordered) {
    if (name === '__metadata__') throw new TuneloopError('a tensor cannot be named __metadata__', { key: name });
    const size = byteSize(name, t);
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + size] };
    offset += size;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  const out = Buffer.alloc(8 + padded, 0x20);
  out.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(out, 8);
  return out;
}

/**
 * Write a safetensors file atomically: to a temporary name, fsynced, then renamed, so a reader never
 * sees half a file. Tensors whose data is a function are materialised one at a time.
 */
export function writeSafetensors(file: string, tensors: TensorsToWrite, metadata?: Record<string, string>): void {
  const ordered = layout(entriesOf(tensors));
  const header = encodeHeader(ordered, metadata);
  withAtomicFile(file, (tmp) => {
    const fd = fs.openSync(tmp, 'w');
    try {
      writeAll(fd, header);
      for (const [name, t] of ordered) {
        const data = typeof t.data === 'function' ? t.data() : t.data;
        const size = byteSize(name, t);
        if (data.byteLength !== size) {
          throw new TuneloopError(`has ${data.byteLength} bytes of data but shape ${JSON.stringify(t.shape)} of ${t.dtype} needs ${size}`, { file, key: name });
        }
        writeAll(fd, data);
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  });
}

function writeAll(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.byteLength) done += fs.writeSync(fd, data, done, data.byteLength - done);
}

export interface ShardedWriteResult {
  /** Shard file names, in order. */
  readonly files: string[];
  /** The index file, or undefined when everything fit in one `<prefix>.safetensors`. */
  readonly indexFile: string | undefined;
}

/**
 * Write tensors as Hugging Face does with `max_shard_size`: one `<prefix>.safetensors` if they fit,
 * else `<prefix>-0000k-of-0000n.safetensors` plus `<prefix>.safetensors.index.json` mapping each
 * tensor to its shard. A tensor larger than the limit gets a shard of its own.
 */
export function writeShardedSafetensors(
  dir: string,
  tensors: TensorsToWrite,
  options: { maxShardBytes: number; prefix?: string; metadata?: Record<string, string> },
): ShardedWriteResult {
  const prefix = options.prefix ?? 'model';
  const all = entriesOf(tensors).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const shards: [string, TensorToWrite][][] = [];
  let current: [string, TensorToWrite][] = [];
  let currentBytes = 0;
  let total = 0;
  for (const entry of all) {
    const size = byteSize(entry[0], entry[1]);
    total += size;
    if (current.length > 0 && currentBytes + size > options.maxShardBytes) {
      shards.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(entry);
    currentBytes += size;
  }
  shards.push(current);

  fs.mkdirSync(dir, { recursive: true });
  if (shards.length === 1) {
    const name = `${prefix}.safetensors`;
    writeSafetensors(path.join(dir, name), new Map(shards[0]), options.metadata);
    return { files: [name], indexFile: undefined };
  }
  const pad = (k: number) => String(k).padStart(5, '0');
  const files: string[] = [];
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, i) => {
    const name = `${prefix}-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`;
    writeSafetensors(path.join(dir, name), new Map(shard), options.metadata);
    files.push(name);
    for (const [t] of shard) weightMap[t] = name;
  });
  const indexFile = `${prefix}.safetensors.index.json`;
  const index = { metadata: { total_size: total }, weight_map: weightMap };
  writeFileAtomic(path.join(dir, indexFile), `${JSON.stringify(index, null, 2)}\n`);
  return { files, indexFile };
}
