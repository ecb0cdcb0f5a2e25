import * as fs from 'node:fs';
import * as path from 'node:path';
import { TuneloopError } from '../errors';
import { toFloat32 } from './dtype';
import { SafetensorsFile, type Tensor, type TensorInfo } from './read';

export const INDEX_FILE = 'model.safetensors.index.json';
export const SINGLE_FILE = 'model.safetensors';

/**
 * The tensors of a checkpoint, whether in one safetensors file or sharded with an index
 * (`model.safetensors.index.json`, as `save_pretrained` writes above `max_shard_size`). Every shard is
 * opened and validated up front; tensor bytes are read on demand.
 */
export class TensorStore {
  private constructor(
    /** Each tensor's shard. */
    private readonly owner: ReadonlyMap<string, SafetensorsFile>,
    readonly files: readonly SafetensorsFile[],
    /** Where the set of tensors was declared: the index file, or the single file. */
    readonly source: string,
  ) {}

  /** Open the weights of a checkpoint folder: the index if there is one, else `model.safetensors`. */
  static openDir(dir: string): TensorStore {
    const index = path.join(dir, INDEX_FILE);
    if (fs.existsSync(index)) return TensorStore.openIndex(index);
    const single = path.join(dir, SINGLE_FILE);
    if (fs.existsSync(single)) return TensorStore.openFiles([single]);
    const found = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')) : [];
    if (found.length === 1) return TensorStore.openFiles([path.join(dir, found[0]!)]);
    const bins = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /\.(bin|pt|pth|ckpt)$/.test(f)) : [];
    const hint =
      bins.length > 0
        ? `found only ${bins.join(', ')}: pickled weights are never loaded; convert them with safetensors (e.g. save_pretrained(..., safe_serialization=True))`
        : found.length > 1
          ? `found ${found.length} .safetensors files but no ${INDEX_FILE} saying which tensors are where`
          : 'expected model.safetensors or model.safetensors.index.json';
    throw new TuneloopError(`no safetensors weights in ${dir}`, { file: dir }, hint);
  }

  /** Open a sharded checkpoint from its index file (`{"weight_map": {tensor: shard}}`). */
  static openIndex(indexPath: string): TensorStore {
    const dir = path.dirname(indexPath);
    let index: unknown;
    try {
      index = JSON.parse(fs.readFileSync(indexPath, 'utf8'));
    } catch (e) {
      throw new TuneloopError(`cannot read the shard index: ${(e as Error).message}`, { file: indexPath });
    }
    const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
    if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
      throw new TuneloopError('must be an object mapping tensor names to shard files', { file: indexPath, key: 'weight_map' });
    }
    const shardNames = new Set<string>();
    for (const [tensor, shard] of Object.entries(weightMap as Record<string, unknown>)) {
      if (typeof shard !== 'string' || shard === '' || path.isAbsolute(shard) || shard.split(/[\\/]/).includes('..')) {
        throw new TuneloopError(`shard must be a file name inside ${dir}, found ${JSON.stringify(shard)}`, { file: indexPath, key: `weight_map.${tensor}` });
      }
      shardNames.add(shard);
    }
    const files: SafetensorsFile[] = [];
    try {
      const byName = new Map<string, SafetensorsFile>();
      for (const shard of [...shardNames].sort()) {
        const p = path.join(dir, shard);
        if (!fs.existsSync(p)) {
          const example = Object.entries(weightMap as Record<string, string>).find(([, s]) => s === shard)![0];
          throw new TuneloopError(
            `shard ${shard} (holding "${example}" among others) is missing`,
            { file: indexPath, key: 'weight_map' },
            'download the missing shard again',
          );
        }
        const f = SafetensorsFile.open(p);
        files.push(f);
        byName.set(shard, f);
      }
      for (const [tensor, shard] of Object.entries(weightMap as Record<string, string>)) {
        if (!byName.get(shard)!.has(tensor)) {
          throw new TuneloopError(
            `tensor is mapped to ${shard}, which does not hold it`,
            { file: indexPath, key: tensor },
            'the index and its shards do not match; download the checkpoint again',
          );
        }
      }
      return new TensorStore(buildOwners(files), files, indexPath);
    } catch (e) {
      for (const f of files) f.close();
      throw e;
    }
  }

  /** Treat several files as one set of tensors; a name in two files is an error. */
  static openFiles(paths: readonly string[]): TensorStore {
    const files: SafetensorsFile[] = [];
    try {
      for (const p of paths) files.push(SafetensorsFile.open(p));
      return new TensorStore(buildOwners(files), files, paths[0] ?? '');
    } catch (e) {
      for (const f of files) f.close();
      throw e;
    }
  }

  names(): string[] {
    return [...this.owner.keys()].sort();
  }

  has(name: string): boolean {
    return this.owner.has(name);
  }

  info(name: string): TensorInfo & { file: string } {
    const f = this.fileOf(name);
    return { ...f.info(name), file: f.path };
  }

  read(name: string): Tensor {
    return this.fileOf(name).read(name);
  }

  readBytes(name: string): Uint8Array {
    return this.fileOf(name).readBytes(name);
  }

  readFloat32(name: string): Float32Array {
    const f = this.fileOf(name);
    return toFloat32(f.info(name).dtype, f.readBytes(name));
  }

  /** Metadata of the first file that has any (`save_pretrained` writes `{"format": "pt"}`). */
  metadata(): Readonly<Record<string, string>> | undefined {
    return this.files.find((f) => f.metadata)?.metadata;
  }

  /** Total bytes of tensor data. */
  totalBytes(): number {
    let n = 0;
    for (const f of this.files) for (const t of f.tensors.values()) n += t.end - t.begin;
    return n;
  }

  close(): void {
    for (const f of this.files) f.close();
  }

  private fileOf(name: string): SafetensorsFile {
    const f = this.owner.get(name);
    if (!f) throw new TuneloopError('no such tensor in the checkpoint', { file: this.source, key: name });
    return f;
  }
}

function buildOwners(files: readonly SafetensorsFile[]): Map<string, SafetensorsFile> {
  const owner = new Map<string, SafetensorsFile>();
  for (const f of files) {
    for (const name of f.tensors.keys()) {
      const other = owner.get(name);
      if (other) throw new TuneloopError(`tensor is in both ${path.basename(other.path)} and ${path.basename(f.path)}`, { file: f.path, key: name });
      owner.set(name, f);
    }
  }
  return owner;
}
