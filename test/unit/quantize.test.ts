import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { DTYPE_SPECS } from '../../src/core/dtypes';
import { exportCheckpoint } from '../../src/core/export/export';
import { TuneloopError } from '../../src/core/errors';
import { loadCausalLM } from '../../src/core/infer/load';
import { estimateInference } from '../../src/core/infer/memory';
import { dequantizeRows, gatherBlockQuantized, matMulNBits, type QuantSpec, quantizedBytes, quantizeRows } from '../../src/core/models/graph/quantize';
import { GraphBuilder } from '../../src/core/onnx/builder';
import { encodeModel } from '../../src/core/onnx/model';
import { seededRandom } from '../../src/core/random';
import { GOLDEN, tempDir } from '../helpers';
import { llamaConfig, makeCheckpoint } from '../make-checkpoint';
import { readOnnx } from '../onnx-read';

const Q8: QuantSpec = { bits: 8, blockSize: 32, symmetric: true };
const Q4: QuantSpec = { bits: 4, blockSize: 32, symmetric: false };

function randomMatrix(rows: number, cols: number, seed: number): Float32Array {
  const rnd = seededRandom(seed);
  return Float32Array.from({ length: rows * cols }, () => (rnd() - 0.5) * 0.2);
}

async function run(g: GraphBuilder, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const bytes = Buffer.concat(encodeModel(g.model({ producerName: 'test', producerVersion: '0' })));
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    return (await s.run(feeds)).y!.data as Float32Array;
  } finally {
    await s.release();
  }
}

describe('block quantization (MatMulNBits / GatherBlockQuantized layout)', () => {
  it('gives the hand-computed codes, scales and zero points', () => {
    const row = new Float32Array(32);
    row[0] = -1;
    row[1] = 0.5;
    row[2] = 0.3;
    // q8 symmetric: scale = max|w| / 127, code = round(w / scale) + 128, no zero points.
    const s8 = quantizeRows(row, 1, 32, Q8);
    assert.equal(s8.scales[0], Math.fround(1 / 127));
    assert.deepEqual([...s8.codes.subarray(0, 4)], [1, 128 + 64, 128 + 38, 128]); // 0.5·127 = 63.5 rounds to 64, 0.3·127 = 38.1
    assert.equal(s8.zeroPoints, undefined);
    // q4 asymmetric over [−1, 0.5]: scale = 1.5 / 15 = 0.1, zero = round(1 / 0.1) = 10;
    // codes −1 → 0, 0.5 → 15, 0.3 → 13, 0 → 10; two a byte, low first.
    const s4 = quantizeRows(row, 1, 32, Q4);
    assert.equal(s4.scales[0], Math.fround(0.1));
    assert.deepEqual([...s4.codes.subarray(0, 2)], [0 | (15 << 4), 13 | (10 << 4)]);
    assert.equal(s4.codes.length, 16);
    assert.deepEqual([...s4.zeroPoints!], [10]);
    // Zero stays exact in both (padding and zero weights).
    assert.equal(dequantizeRows(s4)[5], 0);
    assert.equal(dequantizeRows(s8)[5], 0);
  });

  it('round-trips every weight to within half a step, padding a partial last block', () => {
    for (const spec of [Q8, Q4, { ...Q4, symmetric: true }, { ...Q8, symmetric: false }]) {
      const rows = 5;
      const cols = 70; // blocks of 32, 32, 6
      const w = randomMatrix(rows, cols, 7);
      const q = quantizeRows(w, rows, cols, spec);
      assert.equal(q.codes.length + q.scales.byteLength + (q.zeroPoints?.length ?? 0), quantizedBytes(rows, cols, spec));
      const back = dequantizeRows(q);
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++) {
          const step = q.scales[r * 3 + Math.floor(c / 32)]!;
          assert.ok(Math.abs(back[r * cols + c]! - w[r * cols + c]!) <= step / 2 + 1e-7, `${JSON.stringify(spec)} [${r}, ${c}]`);
        }
    }
  });

  it("onnxruntime's kernels compute with exactly the dequantized weights", async () => {
    for (const spec of [Q8, Q4]) {
      const [N, K, M] = [48, 96, 3];
      const w = randomMatrix(N, K, 11);
      const q = quantizeRows(w, N, K, spec);
      const deq = dequantizeRows(q);
      // Gather: the rows, exactly.
      const g = new GraphBuilder('gather');
      const ids = g.input('ids', 'int64', ['n']);
      g.output(gatherBlockQuantized(g, ids, 'table', q), 'y', ['n', K]);
      const rows = await run(g, { ids: new ort.Tensor('int64', BigInt64Array.from([0n, 7n, 47n]), [3]) });
      [0, 7, 47].forEach((r, i) => assert.deepEqual([...rows.subarray(i * K, (i + 1) * K)], [...deq.subarray(r * K, (r + 1) * K)]));
      // MatMulNBits: x·Wᵀ, with the activations quantized to int8 per block inside the kernel
      // (accuracy level 4), so within a small multiple of an int8 step of x times |W|.
      const m = new GraphBuilder('matmul');
      const x = m.input('x', 'float32', ['m', K]);
      m.output(matMulNBits(m, x, 'w', q), 'y', ['m', N]);
      const rnd = seededRandom(3);
      const xs = Float32Array.from({ length: M * K }, () => rnd() - 0.5);
      const y = await run(m, { x: new ort.Tensor('float32', xs, [M, K]) });
      let err = 0;
      let norm = 0;
      for (let i = 0; i < M; i++)
        for (let n = 0; n < N; n++) {
          let ref = 0;
          for (let k = 0; k < K; k++) ref += xs[i * K + k]! * deq[n * K + k]!;
          err = Math.max(err, Math.abs(y[i * N + n]! - ref));
          norm = Math.max(norm, Math.abs(ref));
        }
      assert.ok(err / norm < 0.02, `q${spec.bits}: relative error ${err / norm}`);
      // A wrong reading of the layout (the nibbles of each byte swapped) is far off: the check can fail.
      const swapped = { ...q, codes: q.codes.map((b) => (spec.bits === 4 ? ((b & 15) << 4) | (b >> 4) : b ^ 0x40)) };
      const wrong = dequantizeRows(swapped);
      let diff = 0;
      for (let i = 0; i < wrong.length; i++) diff = Math.max(diff, Math.abs(wrong[i]! - deq[i]!));
      assert.ok(diff > 0.05);
    }
  });
});

describe('quantized exports', function () {
  this.timeout(120_000);

  it('q4: every weight MatMul of the decoder and the LM head is MatMulNBits with bits = 4, and the embedding is GatherBlockQuantized', async () => {
    const src = tempDir();
    const config = llamaConfig({ hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2, tie_word_embeddings: true });
    makeCheckpoint(src, config, 1);
    const cacheDir = tempDir();
    const fp32 = await exportCheckpoint(src, { cacheDir });
    const q4 = await exportCheckpoint(src, { cacheDir, dtype: 'q4' });
    assert.notEqual(q4.dir, fp32.dir, 'the dtype is part of the cache key');
    assert.equal((await exportCheckpoint(src, { cacheDir, dtype: 'q4' })).cached, true);
    assert.deepEqual(fs.readdirSync(path.join(q4.dir, 'onnx')), ['model_q4.onnx']);
    const bytes = fs.readFileSync(path.join(q4.dir, 'onnx', 'model_q4.onnx'));
    const m = readOnnx(bytes);
    assert.ok(m.opsets.some((o) => o.domain === 'com.microsoft' && o.version === 1));
    const weights = new Set(m.initializers.map((i) => i.name));
    // No float matrix product reads a stored weight: the only MatMuls left multiply activations (attention).
    const floatProducts = m.nodes.filter((n) => ['MatMul', 'Gemm'].includes(n.opType) && n.inputs.some((i) => weights.has(i)));
    assert.deepEqual(
      floatProducts.map((n) => n.inputs.join(',')),
      [],
    );
    const nbits = m.nodes.filter((n) => n.opType === 'MatMulNBits');
    // Per layer: q/k/v fused, o, gate/up fused, down; plus the (tied) head.
    assert.equal(nbits.length, 2 * 4 + 1);
    assert.ok(nbits.every((n) => n.domain === 'com.microsoft' && n.ints.bits === 4 && n.ints.block_size === 32 && n.ints.accuracy_level === 4));
    const gathers = m.nodes.filter((n) => n.opType === 'GatherBlockQuantized');
    assert.equal(gathers.length, 1);
    assert.equal(gathers[0]!.ints.bits, 4);
    assert.ok(!m.nodes.some((n) => n.opType === 'Gather' && n.inputs.some((i) => weights.has(i))), 'no float embedding lookup');
    // 5 bits a weight against 32; the tied table is stored twice (lookup and head), so at this tiny
    // size the file is a little under a third of the float32 one.
    const fp32Bytes = fs.statSync(path.join(fp32.dir, 'onnx', 'model.onnx')).size;
    assert.ok(bytes.length < fp32Bytes / 3, `${bytes.length} against ${fp32Bytes}`);
    // And it runs through transformers.js, with the dtype it was asked for.
    const lm = await loadCausalLM(src, { cacheDir, dtype: 'q4' });
    assert.equal(lm.dtype, 'q4');
    await lm.dispose();
  });

  it('q8 is model_quantized.onnx with 8-bit blocks; a folder without the asked dtype says which it has', async () => {
    const src = tempDir();
    makeCheckpoint(src, llamaConfig(), 1);
    const cacheDir = tempDir();
    const q8 = await exportCheckpoint(src, { cacheDir, dtype: 'q8' });
    assert.equal(DTYPE_SPECS.q8.file, 'model_quantized.onnx');
    const m = readOnnx(fs.readFileSync(path.join(q8.dir, 'onnx', 'model_quantized.onnx')));
    const nbits = m.nodes.filter((n) => n.opType === 'MatMulNBits');
    assert.ok(nbits.length > 0 && nbits.every((n) => n.ints.bits === 8));
    await assert.rejects(
      loadCausalLM(q8.dir, { dtype: 'q4' }),
      (e: unknown) => e instanceof TuneloopError && /no q4 weights \(onnx\/model_q4\.onnx\)/.test(e.message) && /holds q8/.test(e.hint ?? ''),
    );
  });

  it('an adapter on a quantized base: float32 branches by default, merged on request; each cached apart', async () => {
    const cacheDir = tempDir();
    const src = path.join(GOLDEN, 'llama');
    const adapterDir = path.join(src, 'adapter');
    const branches = await exportCheckpoint(src, { cacheDir, dtype: 'q4', adapterDir });
    const merged = await exportCheckpoint(src, { cacheDir, dtype: 'q4', adapterDir, adapterMode: 'merge' });
    const fp32 = await exportCheckpoint(src, { cacheDir, adapterDir });
    assert.equal(new Set([branches.dir, merged.dir, fp32.dir]).size, 3);
    const read = (dir: string, file: string) => readOnnx(fs.readFileSync(path.join(dir, 'onnx', file)));
    const lora = (m: ReturnType<typeof readOnnx>) => m.initializers.filter((i) => /lora_[AB]\.weight$/.test(i.name) && i.dataType === 1).length;
    // All seven linear modules of both layers carry an A and a B in float32 beside the 4-bit base.
    assert.equal(lora(read(branches.dir, 'model_q4.onnx')), 2 * 7 * 2);
    assert.equal(lora(read(merged.dir, 'model_q4.onnx')), 0);
    assert.equal(lora(read(fp32.dir, 'model.onnx')), 0, 'fp32 merges');
    assert.equal(JSON.parse(fs.readFileSync(path.join(branches.dir, 'tuneloop-export.json'), 'utf8')).adapterMode, 'branches');
  });

  it("the memory check before loading counts the dtype's own file, not the folder's other dtypes", async () => {
    const src = tempDir();
    makeCheckpoint(src, llamaConfig(), 1);
    const cacheDir = tempDir();
    const fp32 = await exportCheckpoint(src, { cacheDir });
    const q4 = await exportCheckpoint(src, { cacheDir, dtype: 'q4' });
    // One folder holding both, as a Hub folder of onnx-community's does.
    const both = tempDir();
    fs.cpSync(fp32.dir, both, { recursive: true });
    fs.copyFileSync(path.join(q4.dir, 'onnx', 'model_q4.onnx'), path.join(both, 'onnx', 'model_q4.onnx'));
    const size = (f: string) => fs.statSync(path.join(both, 'onnx', f)).size;
    assert.equal(estimateInference(both, 16, 'q4').weightBytes, size('model_q4.onnx'));
    assert.equal(estimateInference(both, 16, 'fp32').weightBytes, size('model.onnx'));
    // Refused in fp32 and loaded in q4 with the same memory available.
    const available = estimateInference(both, 2048, 'q4').totalBytes + 1024;
    await assert.rejects(loadCausalLM(both, { availableMemory: available }), /the model needs about/);
    const lm = await loadCausalLM(both, { availableMemory: available, dtype: 'q4' });
    await lm.dispose();
  });
});
