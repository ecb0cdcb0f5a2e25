/**
 * The element types of safetensors files, as the format names them, with their sizes, the names
 * PyTorch gives them, and conversion of the floating-point ones to float32.
 */
export const DTYPES = {
  F64: { bytes: 8, torch: 'float64', kind: 'float' },
  F32: { bytes: 4, torch: 'float32', kind: 'float' },
  F16: { bytes: 2, torch: 'float16', kind: 'float' },
  BF16: { bytes: 2, torch: 'bfloat16', kind: 'float' },
  F8_E4M3: { bytes: 1, torch: 'float8_e4m3fn', kind: 'float' },
  F8_E5M2: { bytes: 1, torch: 'float8_e5m2', kind: 'float' },
  I64: { bytes: 8, torch: 'int64', kind: 'int' },
  I32: { bytes: 4, torch: 'int32', kind: 'int' },
  I16: { bytes: 2, torch: 'int16', kind: 'int' },
  I8: { bytes: 1, torch: 'int8', kind: 'int' },
  U64: { bytes: 8, torch: 'uint64', kind: 'int' },
  U32: { bytes: 4, torch: 'uint32', kind: 'int' },
  U16: { bytes: 2, torch: 'uint16', kind: 'int' },
  U8: { bytes: 1, torch: 'uint8', kind: 'int' },
  BOOL: { bytes: 1, torch: 'bool', kind: 'bool' },
} as const satisfies Record<string, { bytes: number; torch: string; kind: 'float' | 'int' | 'bool' }>;

export type Dtype = keyof typeof DTYPES;

export function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && Object.hasOwn(DTYPES, s);
}

export function dtypeBytes(dtype: Dtype): number {
  return DTYPES[dtype].bytes;
}

/** Number of elements of a shape; the empty shape is a scalar with one element. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // Typed-array views below reinterpret little-endian file bytes in place.
  throw new Error('Tuneloop needs a little-endian processor');
}

// ---- half precision -------------------------------------------------------------------------

let halfTable: Float32Array | undefined;

/** float16 bit patterns → float32, all 65536 of them (256 KiB, built once). */
function f16Table(): Float32Array {
  if (halfTable) return halfTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    let v: number;
    if (exp === 0) v = mant * 2 ** -24;
    else if (exp === 31) v = mant === 0 ? Infinity : NaN;
    else v = (1 + mant / 1024) * 2 ** (exp - 15);
    t[h] = sign * v;
  }
  halfTable = t;
  return t;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float32 → float16 bits, rounding to nearest even, as PyTorch's `.half()` does. */
export function f32ToF16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // inf / NaN (quiet)
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → ±0
    const m = mant | 0x800000; // implicit leading one
    const shift = 14 - e;
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const midway = 1 << (shift - 1);
    if (rest > midway || (rest === midway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // may carry into the exponent: correct
  return sign | half;
}

/** float32 → bfloat16 bits, rounding to nearest even (NaN stays NaN). */
export function f32ToBf16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

// ---- float8 ---------------------------------------------------------------------------------

let e4m3Table: Float32Array | undefined;

/** float8_e4m3fn: bias 7, no infinities, S.1111.111 is NaN. */
function f8e4m3Table(): Float32Array {
  if (e4m3Table) return e4m3Table;
  const t = new Float32Array(256);
  for (let b = 0; b < 256; b++) {
    const sign = b & 0x80 ? -1 : 1;
    const exp = (b >> 3) & 0xf;
    const mant = b & 7;
    let v: number;
    if (exp === 0xf && mant === 7) v = NaN;
    else if (exp === 0) v = mant * 2 ** -9;
    else v = (1 + mant / 8) * 2 ** (exp - 7);
    t[b] = sign * v;
  }
  e4m3Table = t;
  return t;
}

// ---- conversion -----------------------------------------------------------------------------

/** A typed-array view of `bytes`, copying only when the bytes are not aligned for the type. */
function view<T>(bytes: Uint8Array, align: number, make: (buf: ArrayBufferLike, off: number, len: number) => T): T {
  if (bytes.byteOffset % align === 0) return make(bytes.buffer, bytes.byteOffset, bytes.byteLength / align);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return make(copy.buffer, 0, bytes.byteLength / align);
}

/**
 * The elements of a tensor as float32. F32 is returned as a view of `bytes` where aligned (no copy);
 * every other type is converted into a new array. Integers convert exactly up to 2^24.
 */
export function toFloat32(dtype: Dtype, bytes: Uint8Array): Float32Array {
  const n = bytes.byteLength / DTYPES[dtype].bytes;
  switch (dtype) {
    case 'F32':
      return view(bytes, 4, (b, o, l) => new Float32Array(b, o, l));
    case 'F64':
      return Float32Array.from(view(bytes, 8, (b, o, l) => new Float64Array(b, o, l)));
    case 'F16': {
      const table = f16Table();
      const src = view(bytes, 2, (b, o, l) => new Uint16Array(b, o, l));
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[src[i]!]!;
      return out;
    }
    case 'BF16': {
      const src = view(bytes, 2, (b, o, l) => new Uint16Array(b, o, l));
      const out = new Float32Array(n);
      // An Int32Array view: `x << 16` is an int32, stored without conversion (a Uint32Array took 5 times longer).
      const bits = new Int32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = src[i]! << 16;
      return out;
    }
    case 'F8_E4M3': {
      const table = f8e4m3Table();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[bytes[i]!]!;
      return out;
    }
    case 'F8_E5M2': {
      const table = f16Table(); // e5m2 is the top byte of a float16
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[bytes[i]! << 8]!;
      return out;
    }
    default:
      return Float32Array.from(toNumbers(dtype, bytes));
  }
}

/** The elements of a tensor as float32, written into `dest` (as many as it holds): no intermediate array for BF16, F16 and F32. */
export function toFloat32Into(dtype: Dtype, bytes: Uint8Array, dest: Float32Array): void {
  const n = dest.length;
  switch (dtype) {
    case 'BF16': {
      const src = view(bytes, 2, (b, o, l) => new Uint16Array(b, o, l));
      const bits = new Int32Array(dest.buffer, dest.byteOffset, n);
      for (let i = 0; i < n; i++) bits[i] = src[i]! << 16;
      return;
    }
    case 'F16': {
      const table = f16Table();
      const src = view(bytes, 2, (b, o, l) => new Uint16Array(b, o, l));
      for (let i = 0; i < n; i++) dest[i] = table[src[i]!]!;
      return;
    }
    default:
      dest.set(toFloat32(dtype, bytes).subarray(0, n));
  }
}

/** The elements as plain numbers (int64 beyond 2^53 loses precision; use `toBigInt64` for those). */
export function toNumbers(dtype: Dtype, bytes: Uint8Array): number[] {
  switch (dtype) {
    case 'I64':
      return Array.from(
        view(bytes, 8, (b, o, l) => new BigInt64Array(b, o, l)),
        Number,
      );
    case 'U64':
      return Array.from(
        view(bytes, 8, (b, o, l) => new BigUint64Array(b, o, l)),
        Number,
      );
    case 'I32':
      return Array.from(view(bytes, 4, (b, o, l) => new Int32Array(b, o, l)));
    case 'U32':
      return Array.from(view(bytes, 4, (b, o, l) => new Uint32Array(b, o, l)));
    case 'I16':
      return Array.from(view(bytes, 2, (b, o, l) => new Int16Array(b, o, l)));
    case 'U16':
      return Array.from(view(bytes, 2, (b, o, l) => new Uint16Array(b, o, l)));
    case 'I8':
      return Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    case 'U8':
      return Array.from(bytes);
    case 'BOOL':
      return Array.from(bytes, (b) => (b ? 1 : 0));
    default:
      return Array.from(toFloat32(dtype, bytes));
  }
}

/** Encode float32 values as `dtype` bytes (float types only). */
export function fromFloat32(dtype: Dtype, values: Float32Array): Uint8Array {
  const n = values.length;
  switch (dtype) {
    case 'F32':
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    case 'F64':
      return new Uint8Array(Float64Array.from(values).buffer);
    case 'F16': {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = f32ToF16Bits(values[i]!);
      return new Uint8Array(out.buffer);
    }
    case 'BF16': {
      // f32ToBf16Bits inline, on the bits' 16-bit halves so that every value stays a small integer.
      const out = new Uint16Array(n);
      const bits = new Int32Array(values.buffer, values.byteOffset, n);
      for (let i = 0; i < n; i++) {
        const x = bits[i]!;
        const hi = (x >>> 16) & 0xffff;
        const lo = x & 0xffff;
        if ((hi & 0x7fff) >= 0x7f80 && ((hi & 0x7fff) > 0x7f80 || lo !== 0))
          out[i] = hi | 0x40; // NaN stays NaN
        else out[i] = lo > 0x8000 || (lo === 0x8000 && hi & 1) ? hi + 1 : hi; // to nearest, ties to even
      }
      return new Uint8Array(out.buffer);
    }
    default:
      throw new Error(`cannot encode float32 values as ${dtype}`);
  }
}
