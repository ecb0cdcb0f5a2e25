import * as assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { addGradients, crossEntropySum } from '../../src/core/onnx/autodiff';
import { GraphBuilder, type Value } from '../../src/core/onnx/builder';
import { encodeModel } from '../../src/core/onnx/model';

/** The builder's static shapes and constants, and addGradients' contract (what it walks, what it refuses). */

async function run(g: GraphBuilder, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.ReturnType> {
  const s = await ort.InferenceSession.create(Buffer.concat(encodeModel(g.model({ producerName: 'test', producerVersion: '0' }))));
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

const f64 = (data: readonly number[], dims: readonly number[]) => new ort.Tensor('float64', Float64Array.from(data), dims);

describe('builder: static shapes and known values', () => {
  it('inputs with numeric dims have static shapes; symbolic dims leave them unknown, unless bound', () => {
    const g = new GraphBuilder('t');
    const a = g.input('a', 'float32', [2, 3]);
    const b = g.input('b', 'float32', ['batch_size', 3]);
    assert.deepEqual(a.shape, [2, 3]);
    assert.equal(b.shape, undefined);
    assert.equal(g.add(a, b).shape, undefined);
    assert.deepEqual(g.add(a, g.scalarF(1)).shape, [2, 3]);

    const h = new GraphBuilder('t', { dims: { batch_size: 4 } });
    const c = h.input('c', 'float32', ['batch_size', 3]);
    assert.deepEqual(c.shape, [4, 3]);
    h.output(c, 'out', ['batch_size', 3]);
    assert.deepEqual(h.graph().inputs[0]!.dims, [4, 3]);
    assert.deepEqual(h.graph().outputs[0]!.dims, [4, 3]);
  });

  it('resolves Reshape 0/−1 targets, Split sizes, Slice bounds, Unsqueeze axes, Gather, MatMul, Gemm', () => {
    const g = new GraphBuilder('t');
    const x = g.input('x', 'float32', [2, 5, 12]);
    assert.deepEqual(g.reshape(x, [0, -1, 4]).shape, [2, 15, 4]);
    assert.deepEqual(g.reshape(x, [0, 0, 3, 4]).shape, [2, 5, 3, 4]);
    assert.deepEqual(
      g.split(x, 2, [4, 8]).map((v) => v.shape),
      [
        [2, 5, 4],
        [2, 5, 8],
      ],
    );
    assert.deepEqual(g.slice(x, [1, -4], [100, -1], [1, 2]).shape, [2, 4, 3]);
    assert.deepEqual(g.unsqueeze(x, [0, -1]).shape, [1, 2, 5, 12, 1]);
    assert.deepEqual(g.squeeze(g.unsqueeze(x, [1]), [1]).shape, [2, 5, 12]);
    assert.deepEqual(g.transpose(x, [2, 0, 1]).shape, [12, 2, 5]);
    assert.deepEqual(g.matmul(x, g.input('w', 'float32', [12, 7])).shape, [2, 5, 7]);
    assert.deepEqual(g.gemmTransB(g.input('m', 'float32', [10, 12]), g.input('e', 'float32', [30, 12])).shape, [10, 30]);
    assert.deepEqual(g.gather(g.input('E', 'float32', [30, 12]), g.input('ids', 'int64', [2, 5])).shape, [2, 5, 12]);
    assert.deepEqual(g.reduceMean(x, [-1]).shape, [2, 5, 1]);
    assert.deepEqual(g.op('ReduceSum', [x], { keepdims: 0 }).shape, []);
    assert.throws(() => g.reshape(x, [7, -1]), /Reshape/);
    assert.throws(() => g.add(x, g.input('y', 'float32', [3, 12])), /do not broadcast/);
  });

  it('carries small integer values through shape arithmetic (Shape → Concat → Reshape, Range)', () => {
    const g = new GraphBuilder('t');
    const ids = g.input('ids', 'int64', [2, 5]);
    const target = g.concat([g.shape(ids), g.i64(7)], 0);
    assert.deepEqual(g.valuesOf(target), [2, 5, 7]);
    assert.deepEqual(g.reshape(g.input('flat', 'float32', [10, 7]), target).shape, [2, 5, 7]);
    const total = g.squeeze(g.dim(ids, 1), [0]);
    assert.deepEqual(g.valuesOf(total), [5]);
    const idx = g.range(g.scalarI(2), total, g.scalarI(1));
    assert.deepEqual(idx.shape, [3]);
    assert.deepEqual(g.valuesOf(g.sub(total, g.scalarI(1))), [4]);
    assert.deepEqual(g.lessOrEqual(g.unsqueeze(idx, [0]), g.unsqueeze(idx, [1])).shape, [3, 3]);
  });

  it('makes constants of the requested type: scalar(dtype, v), and scalarF in a float64 builder', () => {
    const g = new GraphBuilder('t', { floatType: 'float64' });
    assert.equal(g.scalar('float64', 2).dtype, 'float64');
    assert.equal(g.scalar('float32', 2).dtype, 'float32');
    assert.equal(g.scalar('int64', 2).dtype, 'int64');
    assert.equal(g.scalarF(0.5).dtype, 'float64');
    assert.equal(g.scalar('float64', 2), g.scalar('float64', 2), 'shared between identical uses');
    assert.equal(new GraphBuilder('t').scalarF(0.5).dtype, 'float32');
    assert.throws(() => g.scalar('bool', 1));
  });

  it('leaves an optional contrib output out as an empty name, returning the others in order; onnxruntime runs it', async () => {
    const g = new GraphBuilder('t');
    const x = g.input('x', 'float32', [1, 4]);
    const skip = g.input('skip', 'float32', [1, 4]);
    const w = g.initializer('w', 'float32', [4], new Uint8Array(new Float32Array([1, 1, 1, 1]).buffer));
    const outs = g.node('SkipSimplifiedLayerNormalization', [x, skip, w], { epsilon: { float: 0 } }, ['float32', null, null, 'float32'], 'com.microsoft');
    assert.equal(outs.length, 2);
    g.output(outs[0]!, 'normed', [1, 4]);
    g.output(outs[1]!, 'sum', [1, 4]);
    assert.deepEqual(
      g
        .graph()
        .nodes.find((n) => n.opType === 'SkipSimplifiedLayerNormalization')!
        .outputs.map((o) => o !== ''),
      [true, false, false, true],
    );
    const s = await ort.InferenceSession.create(Buffer.concat(encodeModel(g.model({ producerName: 'test', producerVersion: '0' }))));
    const r = await s.run({
      x: new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4]), [1, 4]),
      skip: new ort.Tensor('float32', Float32Array.from([1, 0, 1, 0]), [1, 4]),
    });
    await s.release();
    assert.deepEqual([...(r['sum']!.data as Float32Array)], [2, 2, 4, 4]);
    const rms = Math.sqrt((4 + 4 + 16 + 16) / 4); // of the sum
    (r['normed']!.data as Float32Array).forEach((v, i) => assert.ok(Math.abs(v - [2, 2, 4, 4][i]! / rms) < 1e-6));
    assert.throws(() => g.node('Split', [x], {}, ['float32', null]), /only of contrib ops/);
  });

  it('declares trainable initializers as inputs, keeping their data', () => {
    const g = new GraphBuilder('t', { trainable: (n) => n.startsWith('train.') });
    const data = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
    const a = g.initializer('train.a', 'float32', [3], data);
    const b = g.initializer('frozen.b', 'float32', [3], data);
    assert.deepEqual(a.shape, [3]);
    assert.equal(g.isInitializer(a), false);
    assert.equal(g.isInitializer(b), true);
    assert.deepEqual(
      g.graph().inputs.map((i) => i.name),
      ['train.a'],
    );
    assert.deepEqual(
      g.graph().initializers.map((i) => i.name),
      ['frozen.b'],
    );
    assert.equal(g.trainableTensors()[0]!.data, data);
  });
});

describe('addGradients', () => {
  it('d/dx Σ x² = 2x, and the loss and a gradient can be graph outputs (also of one value twice)', async () => {
    const g = new GraphBuilder('t', { floatType: 'float64' });
    const x = g.input('x', 'float64', [2, 3]);
    const loss = g.op('ReduceSum', [g.mul(x, x)], { keepdims: 0 });
    g.output(loss, 'loss', []);
    const [dx] = addGradients(g, loss, [x]);
    g.output(dx!, 'dx', [2, 3]);
    g.output(dx!, 'dx_again', [2, 3]);
    const out = await run(g, { x: f64([1, -2, 3, 0.5, 0, -1], [2, 3]) });
    assert.deepEqual(Array.from(out.dx!.data as Float64Array), [2, -4, 6, 1, 0, -2]);
    assert.deepEqual(Array.from(out.dx_again!.data as Float64Array), [2, -4, 6, 1, 0, -2]);
    assert.equal((out.loss!.data as Float64Array)[0], 1 + 4 + 9 + 0.25 + 1);
  });

  it('sums the contributions of a value used three times (one Sum node)', async () => {
    const g = new GraphBuilder('t', { floatType: 'float64' });
    const x = g.input('x', 'float64', [3]);
    const y = g.add(g.add(g.mul(x, g.scalarF(2)), g.sin(x)), g.neg(x)); // 2x + sin x − x
    const loss = g.op('ReduceSum', [y], { keepdims: 0 });
    const before = g.recorded().length;
    const [dx] = addGradients(g, loss, [x]);
    assert.equal(
      g
        .recorded()
        .slice(before)
        .filter((n) => n.opType === 'Sum').length,
      1,
    );
    g.output(dx!, 'dx', [3]);
    const xs = [0.1, 0.7, -1.2];
    const out = await run(g, { x: f64(xs, [3]) });
    Array.from(out.dx!.data as Float64Array).forEach((v, i) => assert.ok(Math.abs(v - (1 + Math.cos(xs[i]!))) < 1e-12));
  });

  it('differentiates only nodes on a path from a trained value to the loss', () => {
    const g = new GraphBuilder('t', { floatType: 'float64' });
    const x = g.input('x', 'float64', [4]);
    const frozen = g.input('frozen', 'float64', [4]);
    const side = g.op('Exp', [g.mul(frozen, frozen)]); // no trained input: no backward nodes
    g.op('Tanh', [x]); // not on the way to the loss: no backward nodes
    const loss = g.op('ReduceSum', [g.mul(g.sigmoid(x), side)], { keepdims: 0 });
    const before = g.recorded().length;
    addGradients(g, loss, [x]);
    const grads = g.recorded().slice(before);
    // Sigmoid's rule (Mul, Sub, Mul) and Mul's (Mul) and ReduceSum's (Reshape/Expand); no Exp, no Tanh backward
    assert.ok(grads.every((n) => !['Exp', 'Tanh', 'Cosh'].includes(n.opType)));
    assert.ok(grads.every((n) => n.inputs.every((v) => v?.name !== frozen.name || n.opType === 'Mul')));
    assert.ok(grads.length < 12, `${grads.length} backward nodes`);
  });

  it('returns zeros for a value the loss does not depend on', async () => {
    const g = new GraphBuilder('t', { floatType: 'float64' });
    const [x, unused] = [g.input('x', 'float64', [2]), g.input('unused', 'float64', [2, 2])];
    const loss = g.op('ReduceSum', [x], { keepdims: 0 });
    const [, du] = addGradients(g, loss, [x, unused]);
    assert.deepEqual(du!.shape, [2, 2]);
    g.output(du!, 'du', [2, 2]);
    const out = await run(g, { x: f64([1, 2], [2]), unused: f64([1, 2, 3, 4], [2, 2]) });
    assert.deepEqual(Array.from(out.du!.data as Float64Array), [0, 0, 0, 0]);
  });

  it('refuses initializers, integer values, unknown shapes and ops without a rule, naming them', () => {
    const g = new GraphBuilder('t');
    const w = g.initializer('w', 'float32', [2], new Uint8Array(8));
    const x = g.input('x', 'float32', [2]);
    const loss = g.op('ReduceSum', [g.mul(x, w)], { keepdims: 0 });
    assert.throws(() => addGradients(g, loss, [w]), /w is an initializer/);
    assert.throws(() => addGradients(g, loss, [g.input('i', 'int64', [2])]), /int64/);
    const sym = g.input('s', 'float32', ['n']);
    assert.throws(() => addGradients(g, loss, [sym]), /no static shape/);
    const odd = g.op('ReduceSum', [g.op('Softplus', [x])], { keepdims: 0 });
    assert.throws(() => addGradients(g, odd, [x]), /no backward rule for Softplus/);
  });

  it('crossEntropySum is Σ w·(−log softmax(logits)[target])', async () => {
    const g = new GraphBuilder('t', { floatType: 'float64' });
    const logits = g.input('logits', 'float64', [1, 2, 3]);
    const targets = g.input('targets', 'int64', [1, 2]);
    const weights = g.input('weights', 'float64', [1, 2]);
    const loss: Value = crossEntropySum(g, logits, targets, weights);
    assert.deepEqual(loss.shape, []);
    g.output(loss, 'loss', []);
    const l = [0.5, -1, 2, 3, 0, 1];
    const out = await run(g, {
      logits: f64(l, [1, 2, 3]),
      targets: new ort.Tensor('int64', BigInt64Array.from([2n, 0n]), [1, 2]),
      weights: f64([1, 0.5], [1, 2]),
    });
    const nll = (row: number[], t: number) => Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[t]!;
    const want = nll(l.slice(0, 3), 2) + 0.5 * nll(l.slice(3), 0);
    assert.ok(Math.abs((out.loss!.data as Float64Array)[0]! - want) < 1e-12);
  });
});
