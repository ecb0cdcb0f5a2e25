import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  DTYPES,
  type Dtype,
  f32ToBf16Bits,
  f32ToF16Bits,
  fromFloat32,
  readSafetensors,
  SafetensorsFile,
  TensorStore,
  toFloat32,
  toNumbers,
  writeSafetensors,
  writeShardedSafetensors,
} from '../../src/core/safetensors';
import { TuneloopError } from '../../src/core/errors';
import { GOLDEN, tempDir } from '../helpers';

const dir = tempDir();

function bytesOf(dtype: Dtype, n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n * DTYPES[dtype].bytes);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  if (dtype === 'BOOL') for (let i = 0; i < b.length; i++) b[i] = b[i]! & 1;
  return b;
}

describe('safetensors writer', () => {
  it('round-trips every dtype with metadata, aligned offsets and a padded header', () => {
    const tensors = new Map(
      (Object.keys(DTYPES) as Dtype[]).map(
        (dtype, i) => [`t.${dtype.toLowerCase()}`, { dtype, shape: [3, i + 1], data: bytesOf(dtype, 3 * (i + 1), i) }] as const,
      ),
    );
    const p = path.join(dir, 'all.safetensors');
    writeSafetensors(p, tensors, { format: 'pt', note: 'ünïcode' });
    const f = SafetensorsFile.open(p);
    assert.deepEqual(f.metadata, { format: 'pt', note: 'ünïcode' });
    assert.equal(f.dataStart % 8, 0, 'header padded so the data area starts 8-byte aligned');
    for (const [name, t] of tensors) {
      const info = f.info(name);
      assert.equal(info.begin % DTYPES[t.dtype].bytes, 0, `${name} aligned to its element size`);
      assert.equal(info.dtype, t.dtype);
      assert.deepEqual([...info.shape], t.shape);
      assert.deepEqual(f.readBytes(name), t.data);
    }
    f.close();
    assert.deepEqual(
      fs.readdirSync(dir).filter((n) => n.includes('.tmp')),
      [],
      'no temporary files left behind',
    );
  });

  it('leaves neither the target nor a temporary file when writing fails midway', () => {
    const p = path.join(dir, 'failed.safetensors');
    assert.throws(
      () =>
        writeSafetensors(p, {
          a: { dtype: 'F32', shape: [2], data: new Uint8Array(8) },
          b: {
            dtype: 'F32',
            shape: [2],
            data: () => {
              throw new Error('source went away');
            },
          },
        }),
      /source went away/,
    );
    assert.equal(fs.existsSync(p), false);
    assert.deepEqual(
      fs.readdirSync(dir).filter((n) => n.includes('failed')),
      [],
    );
  });

  it('keeps the previous file intact when an overwrite fails', () => {
    const p = path.join(dir, 'keep.safetensors');
    writeSafetensors(p, { a: { dtype: 'F32', shape: [1], data: new Uint8Array(4) } });
    const before = fs.readFileSync(p);
    assert.throws(
      () => writeSafetensors(p, { a: { dtype: 'F32', shape: [2], data: new Uint8Array(4) } }),
      (e: unknown) => e instanceof TuneloopError && /has 4 bytes of data but shape \[2\] of F32 needs 8/.test(e.message) && e.key === 'a',
    );
    assert.deepEqual(fs.readFileSync(p), before);
  });

  it('writes what Python wrote: re-writing golden llama/model.safetensors gives the same tensors', () => {
    const src = readSafetensors(path.join(GOLDEN, 'llama', 'model.safetensors'));
    const p = path.join(dir, 'llama-copy.safetensors');
    writeSafetensors(p, src, { format: 'pt' });
    const back = readSafetensors(p);
    assert.deepEqual([...back.keys()].sort(), [...src.keys()].sort());
    for (const [k, t] of src) assert.deepEqual(back.get(k)!.data, t.data);
  });
});

describe('sharded checkpoints', () => {
  const tensors = Object.fromEntries(
    Array.from({ length: 7 }, (_, i) => [`layer.${i}.weight`, { dtype: 'F32' as const, shape: [4, 4], data: bytesOf('F32', 16, i) }]),
  );

  it('writes shards under the size limit with an index, and reads them back as one set', () => {
    const d = path.join(dir, 'sharded');
    const r = writeShardedSafetensors(d, tensors, { maxShardBytes: 150, metadata: { format: 'pt' } });
    assert.equal(r.indexFile, 'model.safetensors.index.json');
    assert.deepEqual(r.files, [
      'model-00001-of-00004.safetensors',
      'model-00002-of-00004.safetensors',
      'model-00003-of-00004.safetensors',
      'model-00004-of-00004.safetensors',
    ]);
    const index = JSON.parse(fs.readFileSync(path.join(d, r.indexFile), 'utf8'));
    assert.equal(index.metadata.total_size, 7 * 64);
    const store = TensorStore.openDir(d);
    assert.deepEqual(store.names(), Object.keys(tensors).sort());
    for (const [k, t] of Object.entries(tensors)) assert.deepEqual(store.readBytes(k), t.data);
    assert.equal(store.info('layer.6.weight').file, path.join(d, 'model-00004-of-00004.safetensors'));
    assert.deepEqual(store.metadata(), { format: 'pt' });
    store.close();
  });

  it('writes a single model.safetensors when everything fits', () => {
    const d = path.join(dir, 'single');
    const r = writeShardedSafetensors(d, tensors, { maxShardBytes: 1 << 20 });
    assert.deepEqual(r, { files: ['model.safetensors'], indexFile: undefined });
    assert.equal(TensorStore.openDir(d).names().length, 7);
  });

  function brokenIndex(name: string, mutate: (index: { weight_map: Record<string, string> }, d: string) => void): string {
    const d = path.join(dir, name);
    writeShardedSafetensors(d, tensors, { maxShardBytes: 150 });
    const file = path.join(d, 'model.safetensors.index.json');
    const index = JSON.parse(fs.readFileSync(file, 'utf8'));
    mutate(index, d);
    fs.writeFileSync(file, JSON.stringify(index));
    return d;
  }

  it('refuses an index whose shard is missing, naming the shard', () => {
    const d = brokenIndex('missing-shard', (_, d) => fs.rmSync(path.join(d, 'model-00002-of-00004.safetensors')));
    assert.throws(() => TensorStore.openDir(d), /shard model-00002-of-00004\.safetensors \(holding "layer\.2\.weight" among others\) is missing/);
  });

  it('refuses an index that maps a tensor to a shard without it, naming the tensor', () => {
    const d = brokenIndex('wrong-shard', (index) => {
      index.weight_map['layer.0.weight'] = 'model-00003-of-00004.safetensors';
    });
    assert.throws(() => TensorStore.openDir(d), /layer\.0\.weight: tensor is mapped to model-00003-of-00004\.safetensors, which does not hold it/);
  });

  it('refuses a shard path outside the folder', () => {
    const d = brokenIndex('traversal', (index) => {
      index.weight_map['layer.0.weight'] = '../../etc/passwd';
    });
    assert.throws(() => TensorStore.openDir(d), /weight_map\.layer\.0\.weight: shard must be a file name inside/);
  });

  it('refuses a tensor present in two shards', () => {
    const d = path.join(dir, 'dup');
    writeSafetensors(path.join(d, 'a.safetensors'), { x: tensors['layer.0.weight']! });
    writeSafetensors(path.join(d, 'b.safetensors'), { x: tensors['layer.1.weight']! });
    assert.throws(
      () => TensorStore.openFiles([path.join(d, 'a.safetensors'), path.join(d, 'b.safetensors')]),
      /x: tensor is in both a\.safetensors and b\.safetensors/,
    );
  });

  it('says what to do for a folder with only pickled weights, and never opens them', () => {
    const d = path.join(dir, 'pickled');
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, 'pytorch_model.bin'), 'not for us');
    assert.throws(() => TensorStore.openDir(d), /found only pytorch_model\.bin: pickled weights are never loaded/);
  });
});

describe('dtype conversion', () => {
  it('float16: every one of the 65536 bit patterns survives f16 → f32 → f16 (NaNs stay NaN)', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const f = toFloat32('F16', new Uint8Array(all.buffer));
    for (let h = 0; h < 65536; h++) {
      const back = f32ToF16Bits(f[h]!);
      if (Number.isNaN(f[h])) assert.ok((back & 0x7c00) === 0x7c00 && (back & 0x3ff) !== 0, `NaN ${h.toString(16)}`);
      else assert.equal(back, h, `0x${h.toString(16)} → ${f[h]} → 0x${back.toString(16)}`);
    }
  });

  it('float16: hand-computed values and round-to-nearest-even', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff], // largest finite
      [65520, 0x7c00], // rounds up to infinity
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // tie between 0 and 2^-24: even is 0
      [3 * 2 ** -25, 0x0002], // tie between 1 and 2 ulps: even is 2
      [1 + 2 ** -11, 0x3c00], // tie: even mantissa stays
      [1 + 3 * 2 ** -11, 0x3c02], // tie: odd mantissa rounds up
      [0.1, 0x2e66],
      [Infinity, 0x7c00],
      [-0, 0x8000],
    ];
    for (const [v, bits] of cases) assert.equal(f32ToF16Bits(v), bits, `${v}`);
    assert.deepEqual(Array.from(toFloat32('F16', new Uint8Array(new Uint16Array([0x3c00, 0x3555, 0x7bff, 0x0001, 0xfc00]).buffer))), [
      1,
      0.333251953125,
      65504,
      2 ** -24,
      -Infinity,
    ]);
  });

  it('bfloat16: hand-computed values and round-to-nearest-even', () => {
    assert.equal(f32ToBf16Bits(1), 0x3f80);
    assert.equal(f32ToBf16Bits(1 + 2 ** -8), 0x3f80); // tie, even
    assert.equal(f32ToBf16Bits(1 + 3 * 2 ** -8), 0x3f82); // tie, odd rounds up
    assert.equal(f32ToBf16Bits(-3.140625), 0xc049);
    assert.ok(Number.isNaN(toFloat32('BF16', new Uint8Array(new Uint16Array([f32ToBf16Bits(NaN)]).buffer))[0]));
    assert.deepEqual(Array.from(toFloat32('BF16', new Uint8Array(new Uint16Array([0x3f80, 0xc049, 0x4049]).buffer))), [1, -3.140625, 3.140625]);
    const v = new Float32Array([0.5, -7.25, 1024]);
    assert.deepEqual(toFloat32('BF16', fromFloat32('BF16', v)), v);
    assert.deepEqual(toFloat32('F16', fromFloat32('F16', v)), v);
  });

  it('bfloat16: the bulk encoder agrees with f32ToBf16Bits on every kind of value, ties, infinities and NaNs included', () => {
    const bits = new Uint32Array(200_000);
    let x = 12345;
    for (let i = 0; i < bits.length; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      // Random patterns, and every 4th one a tie (low half exactly 0x8000) or near the top of the range.
      bits[i] = i % 4 === 0 ? (x & 0xffff0000) | 0x8000 : i % 4 === 1 ? (x & 0x80000000) | 0x7f7f0000 | (x & 0xffff) : x;
    }
    bits.set([0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffffffff, 0, 0x80000000, 0x3f808000, 0x3f818000]);
    const values = new Float32Array(bits.buffer);
    const bulk = new Uint16Array(fromFloat32('BF16', values).buffer);
    for (let i = 0; i < values.length; i++) {
      const want = f32ToBf16Bits(values[i]!);
      if (bulk[i] !== want) assert.fail(`0x${bits[i]!.toString(16)}: 0x${bulk[i]!.toString(16)}, want 0x${want.toString(16)}`);
    }
  });

  it('float8 and integer types', () => {
    // e4m3fn: 0x38 = 1.0, 0x7e = 448 (max), 0x7f = NaN, 0x01 = 2^-9; e5m2: 0x3c = 1.0, 0x7c = inf
    const e4 = toFloat32('F8_E4M3', new Uint8Array([0x38, 0x7e, 0x01, 0xb8, 0x7f]));
    assert.deepEqual(Array.from(e4.subarray(0, 4)), [1, 448, 2 ** -9, -1]);
    assert.ok(Number.isNaN(e4[4]));
    assert.deepEqual(Array.from(toFloat32('F8_E5M2', new Uint8Array([0x3c, 0x7c, 0xc0]))), [1, Infinity, -2]);
    assert.deepEqual(toNumbers('I64', new Uint8Array(new BigInt64Array([-5n, 1n << 40n]).buffer)), [-5, 2 ** 40]);
    assert.deepEqual(toNumbers('I8', new Uint8Array([0xff, 0x7f])), [-1, 127]);
    assert.deepEqual(toNumbers('BOOL', new Uint8Array([0, 1, 1])), [0, 1, 1]);
    assert.deepEqual(Array.from(toFloat32('I32', new Uint8Array(new Int32Array([-3, 7]).buffer))), [-3, 7]);
  });

  it('reads misaligned F32 bytes by copying', () => {
    const buf = new Uint8Array(9);
    buf.set(new Uint8Array(new Float32Array([1.5, -2]).buffer), 1);
    assert.deepEqual(Array.from(toFloat32('F32', buf.subarray(1))), [1.5, -2]);
  });
});
