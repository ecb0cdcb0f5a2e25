import * as fs from 'node:fs';
import { DATA_TYPES, DTYPE_BYTES, type DType } from '../src/core/onnx/model';

/**
 * The weights of an .onnx file as stored, and the bytes a decode step reads of them, from the file
 * itself (field numbers of onnx/onnx.proto). The file is read by position: an initializer's
 * raw_data (gigabytes in a quantized 1B export, which keeps its weights inline) is skipped, never
 * loaded, so the bench process stays small; external data is sized from the tensor's dims.
 */

export interface StoredInitializer {
  readonly name: string;
  readonly dtype: DType | undefined;
  readonly dims: readonly number[];
  /** Bytes as stored: numel × the element size (packed 4-bit codes are uint8 bytes, as written). */
  readonly bytes: number;
  /** The op types that read it (one entry per use). */
  readonly usedBy: readonly string[];
}

export interface StoredNode {
  readonly name: string;
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

export interface WeightBytes {
  readonly initializers: readonly StoredInitializer[];
  readonly nodes: readonly StoredNode[];
  /** Every initializer's bytes. */
  readonly storedBytes: number;
  /**
   * Bytes a decode step (one new token) reads: every initializer once, except tables that only a
   * Gather or GatherBlockQuantized reads (a token embedding that is not also the LM head), of which
   * one row per token is read. A tied head that is one tensor is counted once, since it is one initializer.
   */
  readonly bytesPerToken: number;
  /** The tables read one row per token, and their whole bytes (left out of bytesPerToken but for one row). */
  readonly gatherOnly: readonly { readonly name: string; readonly bytes: number }[];
}

const TYPE_OF = new Map<number, DType>(Object.entries(DATA_TYPES).map(([k, v]) => [v, k as DType]));
const GATHERS = new Set(['Gather', 'GatherBlockQuantized']);

class PositionalReader {
  private readonly buf = Buffer.alloc(10);
  constructor(private readonly fd: number) {}

  bytes(pos: number, n: number): Buffer {
    const b = Buffer.alloc(n);
    let got = 0;
    while (got < n) {
      const r = fs.readSync(this.fd, b, got, n - got, pos + got);
      if (r === 0) throw new Error(`onnx file ends at ${pos + got}, ${n - got} bytes short`);
      got += r;
    }
    return b;
  }

  /** A varint at `pos`: its value and the position after it. */
  varint(pos: number): [number, number] {
    const n = fs.readSync(this.fd, this.buf, 0, 10, pos);
    const [value, after] = varintIn(this.buf.subarray(0, n))(0);
    return [value, pos + after];
  }
}

type Field = { field: number; wire: number; value: number; start: number; end: number };

type VarintAt = (pos: number) => [number, number];

/** A varint in `b` at `pos`: its value and the position after it. */
const varintIn =
  (b: Buffer): VarintAt =>
  (pos) => {
    let result = 0;
    let mult = 1;
    for (let i = pos; i < b.length; i++) {
      const x = b[i]!;
      result += (x & 0x7f) * mult;
      if (x < 0x80) return [result, i + 1];
      mult *= 128;
    }
    throw new Error(`bad varint at ${pos}`);
  };

/** The fields of the message in [start, end): varints as value, length-delimited ones as [start, end). */
function* fieldsAt(varint: VarintAt, start: number, end: number): Generator<Field> {
  let pos = start;
  while (pos < end) {
    const [key, p] = varint(pos);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) {
      const [value, q] = varint(p);
      yield { field, wire, value, start: p, end: q };
      pos = q;
    } else if (wire === 2) {
      const [n, q] = varint(p);
      yield { field, wire, value: n, start: q, end: q + n };
      pos = q + n;
    } else if (wire === 5 || wire === 1) {
      const n = wire === 5 ? 4 : 8;
      yield { field, wire, value: 0, start: p, end: p + n };
      pos = p + n;
    } else throw new Error(`wire type ${wire} at ${pos}`);
  }
}

/** Packed varints. */
function packed(b: Buffer): number[] {
  const out: number[] = [];
  let v = 0;
  let mult = 1;
  for (const x of b) {
    v += (x & 0x7f) * mult;
    if (x < 0x80) {
      out.push(v);
      v = 0;
      mult = 1;
    } else mult *= 128;
  }
  return out;
}

export function readWeightBytes(file: string): WeightBytes {
  const fd = fs.openSync(file, 'r');
  try {
    const r = new PositionalReader(fd);
    const at: VarintAt = (pos) => r.varint(pos);
    const size = fs.fstatSync(fd).size;
    const inits: { name: string; dtype: DType | undefined; dims: number[] }[] = [];
    const uses = new Map<string, string[]>();
    const nodes: StoredNode[] = [];
    for (const top of fieldsAt(at, 0, size)) {
      if (top.field !== 7 || top.wire !== 2) continue; // the graph
      for (const g of fieldsAt(at, top.start, top.end)) {
        if (g.field === 1 && g.wire === 2) {
          // A node: small, read whole.
          const node = r.bytes(g.start, g.end - g.start);
          let opType = '';
          let name = '';
          const inputs: string[] = [];
          const outputs: string[] = [];
          for (const f of fieldsAt(varintIn(node), 0, node.length)) {
            if (f.field === 1) inputs.push(node.toString('utf8', f.start, f.end));
            if (f.field === 2) outputs.push(node.toString('utf8', f.start, f.end));
            if (f.field === 3) name = node.toString('utf8', f.start, f.end);
            if (f.field === 4) opType = node.toString('utf8', f.start, f.end);
          }
          nodes.push({ name, opType, inputs, outputs });
          for (const i of inputs) {
            if (!i) continue;
            const list = uses.get(i) ?? [];
            list.push(opType);
            uses.set(i, list);
          }
        }
        if (g.field === 5 && g.wire === 2) {
          let name = '';
          let dtype: DType | undefined;
          const dims: number[] = [];
          for (const t of fieldsAt(at, g.start, g.end)) {
            if (t.field === 1) dims.push(...(t.wire === 0 ? [t.value] : packed(r.bytes(t.start, t.end - t.start))));
            if (t.field === 2) dtype = TYPE_OF.get(t.value);
            if (t.field === 8) name = r.bytes(t.start, t.end - t.start).toString('utf8');
          }
          inits.push({ name, dtype, dims });
        }
      }
    }
    const initializers = inits.map((t) => ({
      ...t,
      bytes: t.dims.reduce((a, b) => a * b, 1) * (t.dtype ? DTYPE_BYTES[t.dtype] : 0),
      usedBy: uses.get(t.name) ?? [],
    }));
    let bytesPerToken = 0;
    const gatherOnly: { name: string; bytes: number }[] = [];
    for (const t of initializers) {
      if (t.usedBy.length > 0 && t.usedBy.every((op) => GATHERS.has(op)) && t.dims.length >= 1 && t.dims[0]! > 1) {
        gatherOnly.push({ name: t.name, bytes: t.bytes });
        bytesPerToken += t.bytes / t.dims[0]!;
      } else bytesPerToken += t.bytes;
    }
    return { initializers, nodes, storedBytes: initializers.reduce((a, t) => a + t.bytes, 0), bytesPerToken, gatherOnly };
  } finally {
    fs.closeSync(fd);
  }
}
