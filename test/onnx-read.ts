/**
 * A reader for the parts of an ONNX ModelProto the tests look at (nodes with their attributes,
 * initializers' names, types and sizes), written from the field numbers of onnx/onnx.proto,
 * independently of the project's writer.
 */
export interface ReadNode {
  readonly opType: string;
  readonly domain: string;
  readonly inputs: string[];
  readonly outputs: string[];
  readonly ints: Record<string, number>;
}

export interface ReadInitializer {
  readonly name: string;
  readonly dataType: number;
  readonly dims: number[];
  /** Bytes stored inline (raw_data), 0 for external data. */
  readonly rawBytes: number;
}

export interface ReadModel {
  readonly opsets: { domain: string; version: number }[];
  readonly nodes: ReadNode[];
  readonly initializers: ReadInitializer[];
}

type Field = { field: number; wire: number; value: number | Uint8Array };

function* fields(buf: Uint8Array): Generator<Field> {
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let mult = 1;
    for (;;) {
      const b = buf[pos++]!;
      result += (b & 0x7f) * mult;
      if (b < 0x80) return result;
      mult *= 128;
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) yield { field, wire, value: varint() };
    else if (wire === 2) {
      const n = varint();
      yield { field, wire, value: buf.subarray(pos, pos + n) };
      pos += n;
    } else if (wire === 5) {
      yield { field, wire, value: buf.subarray(pos, pos + 4) };
      pos += 4;
    } else if (wire === 1) {
      yield { field, wire, value: buf.subarray(pos, pos + 8) };
      pos += 8;
    } else throw new Error(`wire type ${wire}`);
  }
}

const text = (v: number | Uint8Array) => Buffer.from(v as Uint8Array).toString('utf8');

function packedInts(v: number | Uint8Array): number[] {
  if (typeof v === 'number') return [v];
  return [...fields(prefixEach(v))].map((f) => f.value as number);
}

/** Packed varints as a sequence of field-1 varints, so `fields` can read them. */
function prefixEach(v: Uint8Array): Uint8Array {
  const out: number[] = [];
  let start = true;
  for (const b of v) {
    if (start) out.push(8);
    out.push(b);
    start = b < 0x80;
  }
  return Uint8Array.from(out);
}

export function readOnnx(buf: Uint8Array): ReadModel {
  const model: ReadModel = { opsets: [], nodes: [], initializers: [] };
  for (const f of fields(buf)) {
    if (f.field === 8 && f.wire === 2) {
      let domain = '';
      let version = 0;
      for (const o of fields(f.value as Uint8Array)) {
        if (o.field === 1) domain = text(o.value);
        if (o.field === 2) version = o.value as number;
      }
      model.opsets.push({ domain, version });
    }
    if (f.field !== 7 || f.wire !== 2) continue;
    for (const g of fields(f.value as Uint8Array)) {
      if (g.field === 1) {
        const node: ReadNode = { opType: '', domain: '', inputs: [], outputs: [], ints: {} };
        let opType = '';
        let domain = '';
        for (const n of fields(g.value as Uint8Array)) {
          if (n.field === 1) node.inputs.push(text(n.value));
          if (n.field === 2) node.outputs.push(text(n.value));
          if (n.field === 4) opType = text(n.value);
          if (n.field === 7) domain = text(n.value);
          if (n.field === 5) {
            let name = '';
            let i: number | undefined;
            for (const a of fields(n.value as Uint8Array)) {
              if (a.field === 1) name = text(a.value);
              if (a.field === 3) i = a.value as number;
            }
            if (i !== undefined) node.ints[name] = i;
          }
        }
        model.nodes.push({ ...node, opType, domain });
      }
      if (g.field === 5) {
        let name = '';
        let dataType = 0;
        const dims: number[] = [];
        let rawBytes = 0;
        for (const t of fields(g.value as Uint8Array)) {
          if (t.field === 1) dims.push(...packedInts(t.value));
          if (t.field === 2) dataType = t.value as number;
          if (t.field === 8) name = text(t.value);
          if (t.field === 9) rawBytes = (t.value as Uint8Array).byteLength;
        }
        model.initializers.push({ name, dataType, dims, rawBytes });
      }
    }
  }
  return model;
}
