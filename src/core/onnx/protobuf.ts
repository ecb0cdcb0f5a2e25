/**
 * A protobuf writer, just enough for ONNX: varints, length-delimited fields and packed repeated
 * scalars, written into growable chunks. Field order is the caller's, so the same message always
 * gives the same bytes.
 */
export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private buf = new Uint8Array(1024);
  private pos = 0;
  private flushed = 0;

  /** Total bytes written so far. */
  get length(): number {
    return this.flushed + this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) this.buf = new Uint8Array(Math.max(n, this.buf.length * 2));
  }

  private flush(): void {
    if (this.pos === 0) return;
    this.chunks.push(this.buf.slice(0, this.pos));
    this.flushed += this.pos;
    this.pos = 0;
  }

  /** An unsigned varint; negative int64 values are written as their two's complement (10 bytes). */
  varint(value: number | bigint): this {
    this.ensure(10);
    if (typeof value === 'number' && value >= 0 && value < 2 ** 31) {
      let v = value;
      while (v > 0x7f) {
        this.buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.buf[this.pos++] = v;
      return this;
    }
    let v = BigInt.asUintN(64, BigInt(value));
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
    return this;
  }

  private tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }

  /** int32, int64, enum, bool fields (wire type 0). */
  int(field: number, value: number | bigint): this {
    return this.tag(field, 0).varint(value);
  }

  /** float field (wire type 5). */
  float(field: number, value: number): this {
    this.tag(field, 5);
    this.ensure(4);
    new DataView(this.buf.buffer, this.buf.byteOffset).setFloat32(this.pos, value, true);
    this.pos += 4;
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2).varint(data.byteLength);
    this.raw(data);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }

  /** An embedded message, built by `build` into a writer of its own. */
  message(field: number, build: (w: ProtoWriter) => void): this {
    const w = new ProtoWriter();
    build(w);
    this.tag(field, 2).varint(w.length);
    for (const c of w.finishChunks()) this.raw(c);
    return this;
  }

  /** Packed repeated varints (int64s, ints). */
  packedInts(field: number, values: readonly (number | bigint)[]): this {
    if (values.length === 0) return this;
    const w = new ProtoWriter();
    for (const v of values) w.varint(v);
    this.tag(field, 2).varint(w.length);
    for (const c of w.finishChunks()) this.raw(c);
    return this;
  }

  /** Packed repeated floats. */
  packedFloats(field: number, values: readonly number[]): this {
    if (values.length === 0) return this;
    const data = new Uint8Array(new Float32Array(values).buffer);
    return this.bytes(field, data);
  }

  raw(data: Uint8Array): void {
    if (data.byteLength > 64 * 1024) {
      // Large payloads (tensor data) are kept as they are rather than copied into the buffer.
      this.flush();
      this.chunks.push(data);
      this.flushed += data.byteLength;
      return;
    }
    this.ensure(data.byteLength);
    this.buf.set(data, this.pos);
    this.pos += data.byteLength;
  }

  finishChunks(): Uint8Array[] {
    this.flush();
    return this.chunks;
  }

  finish(): Uint8Array {
    const chunks = this.finishChunks();
    if (chunks.length === 1) return chunks[0]!;
    const out = new Uint8Array(this.flushed);
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.byteLength;
    }
    return out;
  }
}
