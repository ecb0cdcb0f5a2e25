import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { blockStep, type QuantDtype, withActivationNoise } from '../../src/core/golden/quantized';
import { type CheckResult, runGolden } from '../../src/core/golden/run';
import { GraphBuilder } from '../../src/core/onnx/builder';
import type { ModelDef, TensorDef } from '../../src/core/onnx/model';
import { openSessionFromModel } from '../../src/core/onnx/session';
import { seededRandom } from '../../src/core/random';
import { GOLDEN, tempDir } from '../helpers';

const NAMES = ['q8.kernel', 'q8.logits', 'q8.top1', 'q8.perplexity', 'q4.kernel', 'q4.logits', 'q4.top1', 'q4.perplexity'];

/** The quantized model with `f` applied to each initializer whose name ends with `suffix` (a broken quantizer, as the export would write it). */
function alterInitializers(suffix: string, f: (t: TensorDef) => Uint8Array): (m: ModelDef) => ModelDef {
  return (m) => ({ ...m, graph: { ...m.graph, initializers: m.graph.initializers.map((t) => (t.name.endsWith(suffix) ? { ...t, data: f(t) } : t)) } });
}

const scaled = (factor: number) =>
  alterInitializers('.scales', (t) => {
    const v = new Float32Array(t.data.slice().buffer);
    for (let i = 0; i < v.length; i++) v[i]! *= factor;
    return new Uint8Array(v.buffer);
  });

const byName = (checks: readonly CheckResult[]) => new Map(checks.map((c) => [c.name, c]));
const describeFailures = (checks: readonly CheckResult[]) => checks.map((c) => `${c.ok ? 'ok' : 'FAIL'} ${c.name} ${c.maxAbsErr} / ${c.tol}`).join('\n');

/** The q8/q4 fidelity checks of `tuneloop golden` (src/core/golden/quantized.ts) on the smallest fixture folder. */
describe('golden quantized exports (q8, q4)', function () {
  this.timeout(120_000);
  const cacheDir = tempDir();
  const dir = path.join(GOLDEN, 'qwen2');
  const run = (alter?: (m: ModelDef, dtype: QuantDtype) => ModelDef) =>
    runGolden(dir, { cacheDir, threads: 2, only: ['q8', 'q4'], ...(alter ? { alterQuantized: alter } : {}) });
  let exported: CheckResult[];

  it('the exports pass kernel, logits, top-1 and perplexity, each well inside its tolerance', async () => {
    const r = await run();
    exported = r.checks;
    assert.deepEqual(
      r.checks.map((c) => c.name),
      NAMES,
    );
    for (const c of r.checks) assert.ok(c.ok && c.maxAbsErr <= 0.7 * c.tol, `${c.name}: ${c.maxAbsErr} against ${c.tol} (${c.detail})`);
    const c = byName(r.checks);
    // 4-bit steps are 15–17 times the 8-bit ones (asymmetric over 15 levels against max|w| over 127).
    assert.ok(c.get('q4.logits')!.maxAbsErr > 4 * c.get('q8.logits')!.maxAbsErr);
    // Both kernels round the activations to the same int8 step: errors of the same size.
    assert.ok(c.get('q4.kernel')!.tol < 2 * c.get('q8.kernel')!.tol && c.get('q8.kernel')!.tol < 2 * c.get('q4.kernel')!.tol);
    assert.match(
      c.get('q8.top1')!.detail!,
      /^\d+\/\d+ decided positions agree \(gap > .*\), \d+ ties at this precision; all positions \d+\/137 \(twins [\d.]+\)$/,
    );
  });

  it('the quantized model built in memory (the test path) gives the exported files’ figures', async () => {
    const r = await run((m) => m);
    assert.deepEqual(
      r.checks.map((c) => [c.name, c.maxAbsErr, c.tol]),
      exported.map((c) => [c.name, c.maxAbsErr, c.tol]),
    );
  });

  it('scales × 1.5 fail every check of both dtypes', async () => {
    const r = await run(scaled(1.5));
    assert.deepEqual(
      r.checks.filter((c) => c.ok).map((c) => c.name),
      [],
      describeFailures(r.checks),
    );
    assert.ok(byName(r.checks).get('q8.logits')!.maxAbsErr > 10 * byName(r.checks).get('q8.logits')!.tol);
  });

  it('scales × 1.1: q8 fails its logits; q4 fails its kernel check (its own weight noise is 8%, the logits check cannot see 10%)', async () => {
    const c = byName((await run(scaled(1.1))).checks);
    for (const n of ['q8.kernel', 'q8.logits', 'q8.top1', 'q4.kernel']) assert.equal(c.get(n)!.ok, false, n);
    assert.equal(c.get('q4.logits')!.ok, true);
  });

  it('4-bit codes with their nibbles swapped fail every q4 check', async () => {
    const r = await run(alterInitializers('.q4', (t) => t.data.map((b) => ((b << 4) | (b >> 4)) & 255)));
    const c = byName(r.checks);
    for (const n of NAMES) assert.equal(c.get(n)!.ok, n.startsWith('q8.'), `${n}\n${describeFailures(r.checks)}`);
  });

  it('codes one step off (q8 codes + 1, q4 zero points + 1) fail every check', async () => {
    const r = await run((m, dtype) =>
      dtype === 'q8'
        ? alterInitializers('.q8', (t) => t.data.map((b) => Math.min(255, b + 1)))(m)
        : alterInitializers('.zero_points', (t) => t.data.map((b) => Math.min(15, (b & 15) + 1) | (Math.min(15, (b >> 4) + 1) << 4)))(m),
    );
    assert.deepEqual(
      r.checks.filter((c) => c.ok).map((c) => c.name),
      [],
      describeFailures(r.checks),
    );
  });
});

describe('golden quantized: the twins', () => {
  it('the activation twin moves each input of a weight product by at most half its int8 block step (K = 40: a padded block)', async () => {
    const K = 40;
    const M = 3;
    const g = new GraphBuilder('t');
    const x = g.input('x', 'float32', ['m', K]);
    const eye = new Float32Array(K * K);
    for (let i = 0; i < K; i++) eye[i * K + i] = 1;
    g.output(g.matmul(x, g.initializer('w', 'float32', [K, K], new Uint8Array(eye.buffer))), 'y', ['m', K]);
    const { model, sites } = withActivationNoise(g.model({ producerName: 't', producerVersion: '0' }), 1, M);
    assert.equal(sites, 1);
    const r = seededRandom(3);
    const xs = Float32Array.from({ length: M * K }, () => (r() - 0.5) * 4);
    const s = await openSessionFromModel(model, 1);
    const y = (await s.run({ x: new ort.Tensor('float32', xs, [M, K]) }))[s.outputNames[0]!]!.data as Float32Array;
    await s.release();
    let moved = 0;
    for (let m = 0; m < M; m++) {
      for (let b = 0; b < K; b += 32) {
        const end = Math.min(K, b + 32);
        const step = blockStep(xs, m * K + b, m * K + end, { bits: 8, blockSize: 32, symmetric: true });
        for (let k = b; k < end; k++) {
          const d = Math.abs(y[m * K + k]! - xs[m * K + k]!);
          assert.ok(d <= step / 2 + 1e-6, `row ${m} column ${k}: moved ${d}, half step ${step / 2}`);
          if (d > step / 10) moved++;
        }
      }
    }
    assert.ok(moved > M * K * 0.7, `${moved} of ${M * K} values moved by more than a tenth of a step`);
  });

  it('block steps follow the spec: max|w|/127 symmetric at 8 bits, (max − min)/15 with 0 included at 4 bits', () => {
    const w = Float32Array.of(0.5, -1.27, 0.3, 2);
    assert.ok(Math.abs(blockStep(w, 0, 3, { bits: 8, blockSize: 32, symmetric: true }) - 0.01) < 1e-9);
    assert.ok(Math.abs(blockStep(w, 0, 4, { bits: 4, blockSize: 32, symmetric: false }) - 3.27 / 15) < 1e-7);
    assert.ok(Math.abs(blockStep(w, 3, 4, { bits: 4, blockSize: 32, symmetric: false }) - 2 / 15) < 1e-7);
    assert.equal(blockStep(new Float32Array(4), 0, 4, { bits: 4, blockSize: 32, symmetric: false }), 0);
  });
});
