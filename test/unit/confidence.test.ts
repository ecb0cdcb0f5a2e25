import * as assert from 'node:assert/strict';
import { answerConfidence, matrixConfidence, reliability } from '../../src/core/compare/confidence';

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

describe('confidence from token log-probabilities', () => {
  it("an answer's mean and lowest token probability", () => {
    const a = answerConfidence([{ logprob: Math.log(0.5) }, { logprob: Math.log(0.25) }, { logprob: Math.log(0.75) }])!;
    close(a.mean, 0.5);
    close(a.min, 0.25);
    assert.equal(answerConfidence([]), undefined);
  });

  it('a reliability table over bins of confidence, and the expected calibration error, by hand', () => {
    // Bin [0.9, 1]: 0.95 pass, 0.95 fail → pass rate 0.5, confidence 0.95, gap 0.45, weight 2/4.
    // Bin [0.2, 0.3): 0.25 fail, 0.25 fail → pass rate 0, confidence 0.25, gap 0.25, weight 2/4.
    const r = reliability([
      { confidence: 0.95, passed: true },
      { confidence: 0.95, passed: false },
      { confidence: 0.25, passed: false },
      { confidence: 0.25, passed: false },
    ])!;
    assert.deepEqual(
      r.bins.map((b) => [b.lo, b.count, b.passRate]),
      [
        [0.2, 2, 0],
        [0.9, 2, 0.5],
      ],
    );
    close(r.ece, 0.5 * 0.45 + 0.5 * 0.25);
    // Confidence 1 falls in the last bin; a perfectly calibrated set has ECE 0.
    const perfect = reliability([
      { confidence: 1, passed: true },
      { confidence: 0.05, passed: false },
    ])!;
    assert.equal(perfect.bins.at(-1)!.hi, 1);
    close(perfect.ece, 0.5 * 0.05);
    assert.equal(reliability([]), undefined);
  });

  it('per variant, skipping cancelled cells and answers without tokens', () => {
    const t = (p: number) => [{ logprob: Math.log(p) }];
    const c = matrixConfidence([{ index: 0 }, { index: 1 }, { index: 2 }], ['base'], {
      base: {
        0: { tokens: [...t(0.9), ...t(0.5)], passed: true, finish: 'eos' },
        1: { tokens: t(0.3), passed: true, finish: 'cancelled' },
        2: { tokens: [], passed: false, finish: 'eos' },
      },
    }).base!;
    assert.deepEqual(Object.keys(c.answers), ['0']);
    assert.equal(c.reliability!.answers, 1);
    // The bins read the mean token probability (0.7), not the lowest (0.5).
    close(c.reliability!.ece, 0.3);
  });
});
