import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../src/core/onnx/builder';
import { encodeModel } from '../src/core/onnx/model';
import { fastestRun } from './timing';

/**
 * The dense MatMul FLOP/s onnxruntime reaches here: the best of a few shapes, each [M, K] × [K, N]
 * with the weight an initializer (pre-packed, as the model's are) and the product reduced to a
 * scalar so that no output is copied out. Shapes with power-of-two strides (1024³) run at a third
 * of the others on this machine's caches, so a single such shape understates the peak.
 */
export async function matmulFlops(
  shapes: readonly (readonly [number, number, number])[],
  threads: number,
): Promise<{ flops: number; shape: readonly number[] }> {
  let best = { flops: 0, shape: [] as readonly number[] };
  for (const [m, k, n] of shapes) {
    const g = new GraphBuilder('matmul');
    const a = g.input('a', 'float32', [m, k]);
    const w = Float32Array.from({ length: k * n }, (_, i) => ((i * 7919) % 1000) / 1e5);
    const b = g.initializer('b', 'float32', [k, n], new Uint8Array(w.buffer));
    g.output(g.op('ReduceMax', [g.matmul(a, b)], { keepdims: 0 }), 'y', []);
    const s = await ort.InferenceSession.create(Buffer.concat(encodeModel(g.model({ producerName: 'bench', producerVersion: '0' }))), {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      enableMemPattern: false,
    });
    const feeds = { a: new ort.Tensor('float32', new Float32Array(m * k).fill(0.5), [m, k]) };
    const t = await fastestRun(s, feeds);
    await s.release();
    const flops = (2 * m * k * n) / t;
    if (flops > best.flops) best = { flops, shape: [m, k, n] };
  }
  return best;
}
