import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MAX_HEADER_BYTES, SafetensorsFile } from '../../src/core/safetensors';
import { TuneloopError } from '../../src/core/errors';
import { tempDir } from '../helpers';

/** Malformed files, each of which the reader must refuse with an error naming the file (and tensor). */
const dir = tempDir();
let count = 0;

function fileWith(headerText: string | Uint8Array, dataBytes = 0, headerLen?: bigint): string {
  const header = typeof headerText === 'string' ? Buffer.from(headerText, 'utf8') : Buffer.from(headerText);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLen ?? BigInt(header.length));
  const p = path.join(dir, `bad-${++count}.safetensors`);
  fs.writeFileSync(p, Buffer.concat([len, header, Buffer.alloc(dataBytes)]));
  return p;
}

const header = (h: unknown) => JSON.stringify(h);
const f32 = (shape: number[], begin: number, end: number) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });

function rejects(file: string, pattern: RegExp, tensor?: string): void {
  assert.throws(
    () => SafetensorsFile.open(file),
    (e: unknown) => {
      assert.ok(e instanceof TuneloopError, `expected a TuneloopError, got ${e}`);
      assert.equal(e.file, file);
      assert.ok(e.message.includes(file), `message names the file: ${e.message}`);
      if (tensor !== undefined) {
        assert.equal(e.key, tensor);
        assert.ok(e.message.includes(tensor), `message names the tensor: ${e.message}`);
      }
      assert.match(e.message, pattern);
      return true;
    },
  );
}

describe('safetensors reader refuses hostile files', () => {
  it('accepts a well-formed file (the control case for the cases below)', () => {
    const f = SafetensorsFile.open(fileWith(header({ a: f32([2], 0, 8), b: f32([1], 8, 12) }), 12));
    assert.deepEqual(f.names(), ['a', 'b']);
    f.close();
  });

  it('a file shorter than the 8-byte length prefix', () => {
    const p = path.join(dir, 'short.safetensors');
    fs.writeFileSync(p, Buffer.from([1, 2, 3]));
    rejects(p, /shorter than the 8-byte header length/);
  });

  it('a header length that runs past the end of the file', () => {
    rejects(fileWith('{}', 0, 1000n), /header length 1000 runs past the end/);
  });

  it('a header length of 2^64-1', () => {
    rejects(fileWith('{}', 0, 0xffffffffffffffffn), /runs past the end/);
  });

  it('a header length above the 100 MB limit (sparse file)', () => {
    const p = path.join(dir, 'huge-header.safetensors');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(MAX_HEADER_BYTES + 1));
    fs.writeFileSync(p, len);
    fs.truncateSync(p, MAX_HEADER_BYTES + 100); // sparse: no disk used
    rejects(p, /exceeds the limit/);
  });

  it('a header that is not UTF-8', () => {
    rejects(fileWith(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), /not valid UTF-8/);
  });

  it('a header that is not JSON', () => {
    rejects(fileWith('{"a": {"dtype": "F32",'), /not valid JSON/);
  });

  it('a header that does not start with "{"', () => {
    rejects(fileWith(' {}'), /does not start with/);
  });

  it('a header that is a JSON array', () => {
    rejects(fileWith('[{"dtype": "F32"}]'), /does not start with "\{"/);
  });

  it('a tensor entry that is not an object', () => {
    rejects(fileWith(header({ w: [1, 2, 3] })), /tensor entry must be an object/, 'w');
  });

  it('an unknown dtype', () => {
    rejects(fileWith(header({ w: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }), 16), /unknown dtype "F128"/, 'w');
  });

  it('a negative or fractional dimension', () => {
    rejects(fileWith(header({ w: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }), 8), /shape must be an array of non-negative integers/, 'w');
    rejects(fileWith(header({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 8] } }), 8), /shape must be/, 'w');
  });

  it('data_offsets of the wrong form', () => {
    rejects(fileWith(header({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }), 4), /data_offsets must be \[begin, end\]/, 'w');
    rejects(fileWith(header({ w: { dtype: 'F32', shape: [1], data_offsets: ['0', '4'] } }), 4), /data_offsets must be/, 'w');
  });

  it('data_offsets with begin after end', () => {
    rejects(fileWith(header({ w: f32([0], 8, 4) }), 8), /begin after end/, 'w');
  });

  it('data_offsets past the end of the data (a truncated file)', () => {
    rejects(fileWith(header({ w: f32([4], 0, 16) }), 10), /run past the 10-byte data area/, 'w');
  });

  it('a byte range that does not match shape × dtype size', () => {
    rejects(fileWith(header({ w: f32([3], 0, 8) }), 8), /hold 8 bytes, but shape \[3\] of F32 needs 12/, 'w');
  });

  it('a shape whose size overflows', () => {
    rejects(fileWith(header({ w: f32([2 ** 30, 2 ** 30, 2 ** 30], 0, 8) }), 8), /too large|needs/, 'w');
  });

  it('two tensors that overlap', () => {
    rejects(fileWith(header({ a: f32([2], 0, 8), b: f32([2], 4, 12) }), 12), /overlap tensor "a"/, 'b');
  });

  it('a gap between tensors', () => {
    rejects(fileWith(header({ a: f32([1], 0, 4), b: f32([1], 8, 12) }), 12), /belong to no tensor/, 'b');
  });

  it('trailing bytes after the last tensor', () => {
    rejects(fileWith(header({ a: f32([1], 0, 4) }), 12), /data area has 12 bytes but the tensors cover 4/);
  });

  it('__metadata__ that is not an object of strings', () => {
    rejects(fileWith(header({ __metadata__: { format: 1 } })), /value of "format" must be a string/, '__metadata__');
    rejects(fileWith(header({ __metadata__: 'pt' })), /must be an object of strings/, '__metadata__');
  });

  it('a missing file', () => {
    rejects(path.join(dir, 'nope.safetensors'), /cannot open safetensors file: ENOENT/);
  });

  it('accepts an empty file ({} and no data) and zero-size tensors at the same offset', () => {
    assert.deepEqual(SafetensorsFile.open(fileWith('{}')).names(), []);
    const f = SafetensorsFile.open(fileWith(header({ z1: f32([0], 4, 4), a: f32([1], 0, 4), z2: f32([3, 0], 4, 4) }), 4));
    assert.deepEqual(f.read('z2').shape, [3, 0]);
    assert.equal(f.read('z2').data.byteLength, 0);
    f.close();
  });

  it('a read of a tensor that is not in the file names the tensor', () => {
    const p = fileWith(header({ a: f32([1], 0, 4) }), 4);
    const f = SafetensorsFile.open(p);
    assert.throws(() => f.read('b'), /no such tensor.*|b: no such tensor/);
    f.close();
    assert.throws(() => f.read('a'), /already closed/);
  });
});
