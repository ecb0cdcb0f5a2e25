import * as fs from 'node:fs';
import * as path from 'node:path';
import { ProtoWriter } from './protobuf';

/**
 * The parts of ONNX's ModelProto that Tuneloop writes, as plain data, and their encoding. Field
 * numbers are those of onnx/onnx.proto.
 */

/** TensorProto.DataType, by the names used in this code base. */
export const DATA_TYPES = { float32: 1, uint8: 2, int8: 3, uint16: 4, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11, bfloat16: 16 } as const;
export type DType = keyof typeof DATA_TYPES;
export const DTYPE_BYTES: Record<DType, number> = {
  float32: 4,
  uint8: 1,
  int8: 1,
  uint16: 2,
  int32: 4,
  int64: 8,
  bool: 1,
  float16: 2,
  float64: 8,
  bfloat16: 2,
};

/** A dimension: a fixed size, or a symbolic name (`batch_size`), or unknown. */
export type Dim = number | string | null;

export interface ValueInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly dims: readonly Dim[];
}

export interface TensorDef {
  readonly name: string;
  readonly dtype: DType;
  readonly dims: readonly number[];
  /** Raw little-endian element bytes. */
  readonly data: Uint8Array;
}

export type AttributeValue =
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'tensor'; readonly value: TensorDef }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'ints'; readonly value: readonly number[] };

export interface NodeDef {
  readonly opType: string;
  readonly domain: string;
  readonly name: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: readonly (readonly [string, AttributeValue])[];
}

export interface GraphDef {
  readonly name: string;
  readonly nodes: readonly NodeDef[];
  readonly initializers: readonly TensorDef[];
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
}

export interface ModelDef {
  readonly irVersion: number;
  readonly opsets: readonly { readonly domain: string; readonly version: number }[];
  readonly producerName: string;
  readonly producerVersion: string;
  readonly graph: GraphDef;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Where initializers go when they are stored outside the .onnx file. */
export interface ExternalData {
  /** File name relative to the model, as written in each tensor's `location`. */
  readonly location: string;
  /** Tensors of at least this many bytes go to the external file. */
  readonly minBytes: number;
  /** Appends bytes to the external file and returns the offset they start at. */
  append(data: Uint8Array): number;
}

const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

function writeTensor(w: ProtoWriter, t: TensorDef, external: ExternalData | undefined): void {
  w.packedInts(1, t.dims);
  w.int(2, DATA_TYPES[t.dtype]);
  w.string(8, t.name);
  if (external && t.data.byteLength >= external.minBytes) {
    // ONNX aligns external tensors for mmap; 4096 is what onnx's own writer uses.
    const offset = external.append(t.data);
    for (const [k, v] of [
      ['location', external.location],
      ['offset', String(offset)],
      ['length', String(t.data.byteLength)],
    ] as const) {
      w.message(13, (e) => e.string(1, k).string(2, v));
    }
    w.int(14, 1); // data_location = EXTERNAL
  } else {
    w.bytes(9, t.data);
  }
}

function writeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, DATA_TYPES[v.dtype]);
      tensor.message(2, (shape) => {
        for (const d of v.dims) {
          shape.message(1, (dim) => {
            if (typeof d === 'number') dim.int(1, d);
            else if (typeof d === 'string') dim.string(2, d);
          });
        }
      });
    }),
  );
}

function writeAttribute(w: ProtoWriter, name: string, a: AttributeValue): void {
  w.string(1, name);
  switch (a.kind) {
    case 'float':
      w.float(2, a.value);
      break;
    case 'int':
      w.int(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'tensor':
      w.message(5, (t) => writeTensor(t, a.value, undefined));
      break;
    case 'floats':
      w.packedFloats(7, a.value);
      break;
    case 'ints':
      w.packedInts(8, a.value);
      break;
  }
  w.int(20, ATTRIBUTE_TYPE[a.kind]);
}

function writeNode(w: ProtoWriter, n: NodeDef): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.opType);
  for (const [name, a] of n.attributes) w.message(5, (aw) => writeAttribute(aw, name, a));
  if (n.domain) w.string(7, n.domain);
}

/** Encode a model as protobuf chunks (large tensor payloads are referenced, not copied). */
export function encodeModel(m: ModelDef, external?: ExternalData): Uint8Array[] {
  const w = new ProtoWriter();
  w.int(1, m.irVersion);
  w.string(2, m.producerName);
  w.string(3, m.producerVersion);
  w.message(7, (g) => {
    for (const n of m.graph.nodes) g.message(1, (nw) => writeNode(nw, n));
    g.string(2, m.graph.name);
    for (const t of m.graph.initializers) g.message(5, (tw) => writeTensor(tw, t, external));
    for (const v of m.graph.inputs) g.message(11, (vw) => writeValueInfo(vw, v));
    for (const v of m.graph.outputs) g.message(12, (vw) => writeValueInfo(vw, v));
  });
  for (const o of m.opsets) w.message(8, (ow) => (o.domain ? ow.string(1, o.domain) : ow).int(2, o.version));
  for (const [k, v] of Object.entries(m.metadata ?? {})) w.message(14, (e) => e.string(1, k).string(2, v));
  return w.finishChunks();
}

/** Write a model; with external data, initializers go to `<file>_data` at 4 KiB-aligned offsets. */
export function writeModelFile(file: string, model: ModelDef, externalData: boolean): void {
  let dataFd: number | undefined;
  let dataPos = 0;
  const external: ExternalData | undefined = externalData
    ? {
        location: `${path.basename(file)}_data`,
        minBytes: 1024,
        append(data) {
          dataFd ??= fs.openSync(`${file}_data`, 'w');
          const pad = (4096 - (dataPos % 4096)) % 4096;
          if (pad) fs.writeSync(dataFd, new Uint8Array(pad));
          const offset = dataPos + pad;
          fs.writeSync(dataFd, data);
          dataPos = offset + data.byteLength;
          return offset;
        },
      }
    : undefined;
  const chunks = encodeModel(model, external);
  if (dataFd !== undefined) fs.closeSync(dataFd);
  const fd = fs.openSync(file, 'w');
  try {
    for (const c of chunks) fs.writeSync(fd, c);
  } finally {
    fs.closeSync(fd);
  }
}
