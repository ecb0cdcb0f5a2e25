import * as assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { activation, applyRope, MASK_VALUE, rmsNorm } from '../../src/core/models/graph/decoder';
import type { Value } from '../../src/core/onnx/builder';
import { crossEntropySum, crossEntropyWithGradient, softCrossEntropySum, softCrossEntropyWithGradient } from '../../src/core/onnx/autodiff';
import { GraphBuilder } from '../../src/core/onnx/builder';
import { openSessionFromModel } from '../../src/core/onnx/session';
import { gradcheck, type GradcheckGraph, type GradcheckOptions } from '../gradcheck';

/**
 * Every backward rule against central finite differences in float64, through onnxruntime: a tiny
 * graph per case, random inputs, the output projected to a scalar by a random tensor, and the
 * graph's gradients compared with (f(x + h) − f(x − h)) / 2h at h = 1e-6.
 *
 * Erf has no float64 kernel in onnxruntime's CPU provider, so its rule (and GELU's) is checked in
 * float32 with h = 1e-2 and a looser tolerance.
 */

const TOL64 = 1e-6;

async function expectGradients(build: (g: GraphBuilder) => GradcheckGraph, options: GradcheckOptions = {}, tol = TOL64): Promise<void> {
  const r = await gradcheck(build, options);
  const detail = r.tensors
    .map((t) => `${t.name}: ${t.maxError.toExponential(2)} (analytic ${t.worst.analytic}, numeric ${t.worst.numeric} at ${t.worst.index})`)
    .join('; ');
  assert.ok(r.maxError < tol, `relative error ${r.maxError.toExponential(2)} ≥ ${tol}: ${detail}`);
  assert.ok(r.tensors.every((t) => t.checked > 0));
}

const f64 = (data: readonly number[], dims: readonly number[]) => new ort.Tensor('float64', Float64Array.from(data), dims);
const i64 = (data: readonly number[], dims: readonly number[]) => new ort.Tensor('int64', BigInt64Array.from(data.map(BigInt)), dims);
const bool = (data: readonly boolean[], dims: readonly number[]) => new ort.Tensor('bool', Uint8Array.from(data.map(Number)), dims);
/** Values in [lo, hi] (deterministic), for inputs that must stay positive or away from a kink. */
const spread = (n: number, lo: number, hi: number) => Array.from({ length: n }, (_, i) => lo + ((hi - lo) * ((i * 7919) % n)) / Math.max(1, n - 1));

const X = (g: GraphBuilder, name: string, dims: number[]) => g.input(name, 'float64', dims);

describe('autodiff: backward rules against finite differences (float64)', function () {
  this.timeout(60_000);

  describe('elementwise arithmetic with broadcasting', () => {
    it('Add, both operands broadcast: [2, 1, 4] + [3, 1] → [2, 3, 4]', () =>
      expectGradients((g) => {
        const [a, b] = [X(g, 'a', [2, 1, 4]), X(g, 'b', [3, 1])];
        return { output: g.add(a, b), wrt: [a, b] };
      }));
    it('Sub, both operands broadcast: [3, 1] − [2, 1, 4]', () =>
      expectGradients((g) => {
        const [a, b] = [X(g, 'a', [3, 1]), X(g, 'b', [2, 1, 4])];
        return { output: g.sub(a, b), wrt: [a, b] };
      }));
    it('Mul, both operands broadcast: [2, 3, 1] · [1, 4], and x·x (one value used twice)', () =>
      expectGradients((g) => {
        const [a, b] = [X(g, 'a', [2, 3, 1]), X(g, 'b', [1, 4])];
        return { output: g.add(g.mul(a, b), g.mul(a, a)), wrt: [a, b] };
      }));
    it('Div, both operands broadcast: [2, 3, 1] / [3, 4]', () =>
      expectGradients(
        (g) => {
          const [a, b] = [X(g, 'a', [2, 3, 1]), X(g, 'b', [3, 4])];
          return { output: g.div(a, b), wrt: [a, b] };
        },
        { feeds: { b: f64(spread(12, 0.5, 2), [3, 4]) } },
      ));
    it('Div by a scalar constant, Sum of three inputs with broadcasting', () =>
      expectGradients((g) => {
        const [a, b, c] = [X(g, 'a', [2, 3]), X(g, 'b', [3]), X(g, 'c', [2, 1])];
        return { output: g.op('Sum', [g.div(a, g.scalarF(3)), b, c]), wrt: [a, b, c] };
      }));
    it('Pow with constant exponents 2, 3 and 0.5', () =>
      expectGradients(
        (g) => {
          const x = X(g, 'x', [2, 5]);
          const y = g.add(g.add(g.op('Pow', [x, g.scalarF(2)]), g.op('Pow', [x, g.scalarF(3)])), g.op('Pow', [x, g.scalarF(0.5)]));
          return { output: y, wrt: [x] };
        },
        { feeds: { x: f64(spread(10, 0.3, 1.7), [2, 5]) } },
      ));
    it('Pow with a float32 exponent constant on a float64 base (as rmsNorm writes it)', () =>
      expectGradients((g) => {
        const x = X(g, 'x', [3, 4]);
        return { output: g.op('Pow', [x, g.constant('float32', [2], [])]), wrt: [x] };
      }));
    it('Pow with a differentiated exponent', () =>
      expectGradients(
        (g) => {
          const [x, p] = [X(g, 'x', [2, 3]), X(g, 'p', [3])];
          return { output: g.op('Pow', [x, p]), wrt: [x, p] };
        },
        { feeds: { x: f64(spread(6, 0.5, 2), [2, 3]) } },
      ));
    it('Where: the gradient goes to the selected branch only (both branches broadcast)', () =>
      expectGradients(
        (g) => {
          const c = g.input('c', 'bool', [2, 3, 4]);
          const [a, b] = [X(g, 'a', [3, 1]), X(g, 'b', [2, 1, 4])];
          return { output: g.where(c, a, b), wrt: [a, b] };
        },
        {
          feeds: {
            c: bool(
              Array.from({ length: 24 }, (_, i) => (i * 5) % 3 === 0),
              [2, 3, 4],
            ),
          },
        },
      ));
  });

  describe('elementwise functions', () => {
    const unaryCases: [string, (g: GraphBuilder, x: Value) => Value, [number, number]][] = [
      ['Neg', (g, x) => g.neg(x), [-1, 1]],
      ['Identity', (g, x) => g.op('Identity', [x]), [-1, 1]],
      ['Sqrt', (g, x) => g.sqrt(x), [0.2, 2]],
      ['Reciprocal', (g, x) => g.reciprocal(x), [0.3, 2]],
      ['Exp', (g, x) => g.op('Exp', [x]), [-1, 1]],
      ['Log', (g, x) => g.op('Log', [x]), [0.2, 2]],
      ['Cos', (g, x) => g.cos(x), [-3, 3]],
      ['Sin', (g, x) => g.sin(x), [-3, 3]],
      ['Sigmoid', (g, x) => g.sigmoid(x), [-3, 3]],
      ['Tanh', (g, x) => g.tanh(x), [-2, 2]],
      ['Relu (no input at the kink)', (g, x) => g.op('Relu', [x]), [-1.03, 0.97]],
    ];
    for (const [name, f, [lo, hi]] of unaryCases) {
      it(name, () =>
        expectGradients(
          (g) => {
            const x = X(g, 'x', [3, 5]);
            return { output: f(g, x), wrt: [x] };
          },
          { feeds: { x: f64(spread(15, lo, hi), [3, 5]) } },
        ),
      );
    }
    it('Cast float32 → float64 (a float32 input, the loss in float64)', () =>
      expectGradients(
        (g) => {
          const x = g.input('x', 'float32', [2, 3]);
          return { output: g.sin(g.cast(x, 'float64')), wrt: [x] };
        },
        { feeds: { x: new ort.Tensor('float32', Float32Array.from(spread(6, -1, 1)), [2, 3]) }, h: 1e-3 },
        1e-5,
      ));
    it('Erf, and GELU as decoder.ts writes it (float32: onnxruntime has no float64 Erf kernel)', () =>
      expectGradients(
        (g) => {
          const x = g.input('x', 'float32', [3, 5]);
          return { output: g.add(g.op('Erf', [x]), activation(g, x, 'gelu')), wrt: [x] };
        },
        { builder: { floatType: 'float32' }, h: 1e-2 },
        5e-3,
      ));
    it('SiLU and the tanh GELU as decoder.ts writes them', () =>
      expectGradients((g) => {
        const x = X(g, 'x', [3, 5]);
        return { output: g.add(activation(g, x, 'silu'), activation(g, x, 'gelu_pytorch_tanh')), wrt: [x] };
      }));
  });

  describe('softmax and reductions', () => {
    it('Softmax on the last axis and on axis 1', () =>
      expectGradients((g) => {
        const x = X(g, 'x', [2, 3, 4]);
        return { output: g.add(g.softmax(x, -1), g.softmax(x, 1)), wrt: [x] };
      }));
    it('LogSoftmax', () =>
      expectGradients((g) => {
        const x = X(g, 'x', [2, 5]);
        return { output: g.op('LogSoftmax', [x], { axis: -1 }), wrt: [x] };
      }));
    it('ReduceMean keeping dims, and over two axes without', () =>
      expectGradients((g) => {
        const x = X(g, 'x', [2, 3, 4]);
        const a = g.reduceMean(x, [-1]); // [2, 3, 1]
        const b = g.reduceMean(x, [0, 2], 0); // [3]
        return { output: g.add(a, g.unsqueeze(b, [1])), wrt: [x] };
      }));
    it('ReduceSum over one axis and over every axis', () =>
      expectGradients((g) => {
        const x = X(g, 'x', [2, 3, 4]);
        const a = g.op('ReduceSum', [x, g.i64(1)], { keepdims: 1 }); // [2, 1, 4]
        const all = g.op('ReduceSum', [g.mul(x, x)], { keepdims: 0 }); // []
        return { output: g.mul(a, all), wrt: [x] };
      }));
  });

  describe('matrix products', () => {
    it('batched MatMul with a broadcast 2-D weight: [2, 3, 4] · [4, 5]', () =>
      expectGradients((g) => {
        const [x, w] = [X(g, 'x', [2, 3, 4]), X(g, 'w', [4, 5])];
        return { output: g.matmul(x, w), wrt: [x, w] };
      }));
    it('batched MatMul, both batched, with broadcast batch axes: [2, 1, 3, 4] · [3, 4, 5]', () =>
      expectGradients((g) => {
        const [x, w] = [X(g, 'x', [2, 1, 3, 4]), X(g, 'w', [3, 4, 5])];
        return { output: g.matmul(x, w), wrt: [x, w] };
      }));
    it('MatMul of a 2-D matrix with a batch: [3, 4] · [2, 4, 5]', () =>
      expectGradients((g) => {
        const [x, w] = [X(g, 'x', [3, 4]), X(g, 'w', [2, 4, 5])];
        return { output: g.matmul(x, w), wrt: [x, w] };
      }));
    it('Gemm with transB = 1, with and without bias', () =>
      expectGradients((g) => {
        const [a, b, c] = [X(g, 'a', [3, 4]), X(g, 'b', [5, 4]), X(g, 'c', [5])];
        return { output: g.add(g.gemmTransB(a, b, c), g.gemmTransB(a, b)), wrt: [a, b, c] };
      }));
    it('Gemm with transA, alpha and beta', () =>
      expectGradients((g) => {
        const [a, b, c] = [X(g, 'a', [4, 3]), X(g, 'b', [4, 5]), X(g, 'c', [3, 1])];
        const y1 = g.op('Gemm', [a, b, c], { transA: 1, alpha: { float: 0.5 }, beta: { float: 2 } });
        const y2 = g.op('Gemm', [a, g.transpose(b, [1, 0]), c], { transA: 1, transB: 1 });
        return { output: g.add(y1, y2), wrt: [a, b, c] };
      }));
  });

  describe('layout', () => {
    it('Reshape with 0 and −1, Transpose, Unsqueeze, Squeeze, Flatten', () =>
      expectGradients((g) => {
        const x = X(g, 'x', [2, 3, 4]);
        const r = g.reshape(x, [0, -1, 2]); // [2, 6, 2]
        const t = g.transpose(r, [2, 0, 1]); // [2, 2, 6]
        const u = g.squeeze(g.unsqueeze(t, [1, 3]), [1]); // [2, 2, 1, 6]
        const f = g.op('Flatten', [u], { axis: 2 }); // [4, 6]
        return { output: g.mul(f, f), wrt: [x] };
      }));
    it('Split (one piece unused) and Concat: rotate_half as applyRope writes it', () =>
      expectGradients((g) => {
        const [x, cos, sin] = [X(g, 'x', [1, 2, 3, 8]), X(g, 'cos', [1, 1, 3, 8]), X(g, 'sin', [1, 1, 3, 8])];
        const [p] = g.split(x, 3, [2, 6]);
        return { output: g.concat([applyRope(g, x, cos, sin, 8), g.concat([p!, p!], 3)], 3), wrt: [x, cos, sin] };
      }));
    it('Slice with negative bounds and clamped ends, on two axes', () =>
      expectGradients((g) => {
        const x = X(g, 'x', [3, 5, 4]);
        return { output: g.slice(x, [1, -3], [100, -1], [0, 1]), wrt: [x] };
      }));
    it('Expand, and grouped-query heads repeated as Reshape/Expand (kv heads shared by query heads)', () =>
      expectGradients((g) => {
        // k: [B, kvH, T, d] = [1, 2, 3, 4] repeated to nH = 6 heads: [1, 2, 1, 3, 4] → [1, 2, 3, 3, 4] → [1, 6, 3, 4]
        const k = X(g, 'k', [1, 2, 3, 4]);
        const rep = g.reshape(g.op('Expand', [g.unsqueeze(k, [2]), g.i64(1, 2, 3, 3, 4)]), [1, 6, 3, 4]);
        const q = X(g, 'q', [1, 6, 3, 4]);
        const b = X(g, 'b', [3, 1]);
        return { output: g.add(g.matmul(q, g.transpose(rep, [0, 1, 3, 2])), g.op('Expand', [b, g.i64(1, 1, 1, 3)])), wrt: [k, q, b] };
      }));
  });

  describe('indexing', () => {
    it('Gather on axis 0: an embedding lookup with repeated ids (ScatterND with add)', () =>
      expectGradients(
        (g) => {
          const e = X(g, 'e', [6, 4]);
          const ids = g.input('ids', 'int64', [2, 3]);
          return { output: g.gather(e, ids), wrt: [e] };
        },
        { feeds: { ids: i64([1, 3, 1, 5, 1, 3], [2, 3]) } },
      ));
    it('Gather on axis 1 with 2-D indices', () =>
      expectGradients(
        (g) => {
          const x = X(g, 'x', [2, 5, 3]);
          const ids = g.input('ids', 'int64', [2, 2]);
          return { output: g.gather(x, ids, 1), wrt: [x] };
        },
        { feeds: { ids: i64([4, 0, 4, 2], [2, 2]) } },
      ));
    it('GatherElements on the last axis, with a repeated index', () =>
      expectGradients(
        (g) => {
          const x = X(g, 'x', [2, 3, 5]);
          const idx = g.input('idx', 'int64', [2, 3, 2]);
          return { output: g.op('GatherElements', [x, idx], { axis: -1 }), wrt: [x] };
        },
        { feeds: { idx: i64([0, 4, 1, 1, 2, 3, 4, 4, 0, 2, 3, 1], [2, 3, 2]) } },
      ));
  });

  describe('normalization and attention pieces', () => {
    it('RMSNorm as decoder.ts writes it (Pow → ReduceMean → Add → Sqrt → Div → Mul)', () =>
      expectGradients((g) => {
        const [x, w] = [X(g, 'x', [2, 3, 8]), X(g, 'w', [8])];
        return { output: rmsNorm(g, x, w, 1e-5), wrt: [x, w] };
      }));
    it('LayerNormalization (onnxruntime kernel forward, decomposed backward)', () =>
      expectGradients((g) => {
        const [x, s, b] = [X(g, 'x', [2, 3, 6]), X(g, 's', [6]), X(g, 'b', [6])];
        return { output: g.layerNorm(x, s, b, 1e-5), wrt: [x, s, b] };
      }));
    it('LayerNormalization over the last two axes', () =>
      expectGradients((g) => {
        const [x, s] = [X(g, 'x', [2, 3, 4]), X(g, 's', [3, 4])];
        return { output: g.op('LayerNormalization', [x, s], { axis: 1, epsilon: { float: 1e-5 } }), wrt: [x, s] };
      }));
    it('masked softmax as attention() writes it: Where with a large finite negative, causal and sliding-window masks', () =>
      expectGradients((g) => {
        // mask built with the int64/bool ops of attentionMasks (Range, LessOrEqual, Greater, And)
        const [S, T, window] = [4, 6, 3];
        const kvIdx = g.unsqueeze(g.range(g.scalarI(0), g.scalarI(T), g.scalarI(1)), [0]); // [1, T]
        const qIdx = g.unsqueeze(g.range(g.scalarI(T - S), g.scalarI(T), g.scalarI(1)), [1]); // [S, 1]
        const causal = g.lessOrEqual(kvIdx, qIdx); // [S, T]
        const sliding = g.and(causal, g.greater(kvIdx, g.sub(qIdx, g.scalarI(window)))); // [S, T]
        const both = g.unsqueeze(g.concat([g.unsqueeze(causal, [0]), g.unsqueeze(sliding, [0])], 0), [0]); // [1, 2, S, T]
        const scores = X(g, 'scores', [2, 2, S, T]);
        const masked = g.where(both, g.mul(scores, g.scalarF(0.7)), g.scalarF(MASK_VALUE));
        return { output: g.softmax(masked, -1), wrt: [scores] };
      }));
  });

  describe('loss', () => {
    it('cross-entropy sum with a partial weight mask', () =>
      expectGradients(
        (g) => {
          const logits = X(g, 'logits', [2, 3, 7]);
          const targets = g.input('targets', 'int64', [2, 3]);
          const weights = X(g, 'weights', [2, 3]);
          return { output: crossEntropySum(g, g.mul(logits, g.scalarF(3)), targets, weights), wrt: [logits] };
        },
        { feeds: { targets: i64([0, 6, 2, 2, 5, 0], [2, 3]), weights: f64([1, 1, 0, 1, 0, 1], [2, 3]) } },
      ));

    it('soft cross-entropy against a teacher’s top-k (token-level distillation), at temperature 2', () =>
      expectGradients(
        (g) => {
          const logits = X(g, 'logits', [2, 3, 7]);
          const ids = g.input('ids', 'int64', [2, 3, 2]);
          const q = X(g, 'q', [2, 3, 2]);
          return { output: softCrossEntropySum(g, g.mul(logits, g.scalarF(3)), ids, q, 2), wrt: [logits] };
        },
        { feeds: { ids: i64([0, 6, 2, 3, 1, 4, 5, 0, 6, 2, 3, 3], [2, 3, 2]), q: f64([0.7, 0.3, 0.5, 0.5, 0, 0, 0.9, 0.1, 0.2, 0.8, 0.6, 0.4], [2, 3, 2]) } },
      ));

    it('the distillation step’s hand-written gradient (1/τ)·(softmax(z/τ)·Σq − scatter(q)) matches central differences of the same loss', async () => {
      for (const temperature of [1, 2.5]) {
        const g = new GraphBuilder('soft', { floatType: 'float64' });
        const logits = X(g, 'logits', [2, 3, 7]);
        const ids = g.input('ids', 'int64', [2, 3, 3]);
        const q = X(g, 'q', [2, 3, 3]);
        const { lossSum, dlogits } = softCrossEntropyWithGradient(g, logits, ids, q, temperature);
        // Weighted teacher probabilities: one position without soft targets (all 0), one weighted 0.5·τ².
        const qs = [0.6, 0.3, 0.1, 0.5, 0.25, 0.25, 0, 0, 0, 0.8, 0.1, 0.1, 0.2, 0.2, 0.6, 0.4, 0.4, 0.2].map((v, i) =>
          i >= 15 ? v * 0.5 * temperature ** 2 : v,
        );
        await expectHandGradient(
          g,
          lossSum,
          dlogits,
          { ids: i64([0, 6, 2, 3, 1, 4, 5, 0, 6, 2, 3, 1, 6, 5, 4, 0, 1, 2], [2, 3, 3]), q: f64(qs, [2, 3, 3]) },
          `τ ${temperature}`,
        );
      }
    });

    it("the training step's hand-written gradient w·(softmax − onehot) matches central differences of the same loss", async () => {
      const g = new GraphBuilder('ce', { floatType: 'float64' });
      const logits = X(g, 'logits', [2, 3, 7]);
      const targets = g.input('targets', 'int64', [2, 3]);
      const weights = X(g, 'weights', [2, 3]);
      const { lossSum, dlogits } = crossEntropyWithGradient(g, logits, targets, weights);
      await expectHandGradient(g, lossSum, dlogits, { targets: i64([0, 6, 2, 2, 5, 0], [2, 3]), weights: f64([1, 1, 0, 1, 0, 0.5], [2, 3]) }, 'cross-entropy');
    });
  });
});

/**
 * A loss's hand-written gradient d loss / d logits ([2, 3, 7] logits, float64) against central
 * differences of the same loss, logit by logit, to 1e-7.
 */
async function expectHandGradient(g: GraphBuilder, lossSum: Value, dlogits: Value, feeds: Record<string, ort.Tensor>, what: string): Promise<void> {
  g.output(lossSum, 'loss', []);
  g.output(dlogits, 'dlogits', [2, 3, 7]);
  const s = await openSessionFromModel(g.model({ producerName: 't', producerVersion: '0' }), 1, { graphOptimizationLevel: 'basic' });
  try {
    const x = Float64Array.from({ length: 42 }, (_, i) => Math.sin(i * 1.7) * 2);
    const all = { ...feeds, logits: new ort.Tensor('float64', x, [2, 3, 7]) };
    const analytic = (await s.run(all)).dlogits!.data as Float64Array;
    const loss = async () => ((await s.run(all, ['loss'])).loss!.data as Float64Array)[0]!;
    const h = 1e-6;
    for (let k = 0; k < x.length; k++) {
      const x0 = x[k]!;
      x[k] = x0 + h;
      const up = await loss();
      x[k] = x0 - h;
      const down = await loss();
      x[k] = x0;
      const numeric = (up - down) / (2 * h);
      assert.ok(Math.abs(analytic[k]! - numeric) < 1e-7, `${what}, logit ${k}: ${analytic[k]} vs ${numeric}`);
    }
  } finally {
    await s.release();
  }
}
