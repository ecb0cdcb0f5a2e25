import * as assert from 'node:assert/strict';
import { labelMetrics, labelMode, labelOf, matrixLabelMetrics, OTHER_LABEL } from '../../src/core/compare/labels';

describe('label metrics (classification prompts)', () => {
  it('gives the hand-computed accuracy, per-label precision, recall and F1, macro-F1 and confusion matrix', () => {
    // expected: a a a b b c c; read as: a a b b c c "maybe" (an output that is no label).
    const pairs = [
      ['a', 'a'],
      ['a', 'A.'],
      ['a', 'b'],
      ['b', 'b'],
      ['b', 'c'],
      ['c', 'c'],
      ['c', 'maybe'],
    ].map(([expected, output]) => ({ expected: expected!, output: output! }));
    const m = labelMetrics(pairs)!;
    // correct: cases 1, 2, 4, 6 → 4 of 7.
    assert.equal(m.accuracy, 4 / 7);
    // a: predicted a twice (both right), 3 expected → P 1, R 2/3, F1 0.8.
    // b: predicted b twice (one right), 2 expected → P 1/2, R 1/2, F1 1/2.
    // c: predicted c twice (one right), 2 expected → P 1/2, R 1/2, F1 1/2.
    assert.deepEqual(m.perLabel, {
      a: { precision: 1, recall: 2 / 3, f1: 0.8, support: 3 },
      b: { precision: 0.5, recall: 0.5, f1: 0.5, support: 2 },
      c: { precision: 0.5, recall: 0.5, f1: 0.5, support: 2 },
    });
    assert.ok(Math.abs(m.macroF1 - (0.8 + 0.5 + 0.5) / 3) < 1e-12);
    assert.deepEqual(m.confusion, {
      labels: ['a', 'b', 'c'],
      columns: ['a', 'b', 'c', OTHER_LABEL],
      matrix: [
        [2, 1, 0, 0],
        [0, 1, 1, 0],
        [0, 0, 1, 1],
      ],
    });
  });

  it('a label never predicted has precision 0, and no "(other)" column when every output is a label', () => {
    const m = labelMetrics([
      { expected: 'yes', output: 'no' },
      { expected: 'no', output: 'no' },
    ])!;
    assert.deepEqual(m.perLabel.yes, { precision: 0, recall: 0, f1: 0, support: 1 });
    assert.deepEqual(m.confusion.columns, ['no', 'yes']);
    assert.equal(labelMetrics([]), undefined);
  });

  it('reads an output as a label ignoring case, surrounding space and a final full stop, and nothing looser', () => {
    assert.equal(labelOf('  Positive. \n', ['negative', 'positive']), 'positive');
    assert.equal(labelOf('positive sentiment', ['negative', 'positive']), 'positive sentiment');
  });

  it('turns on with task: classification, or when expected has at most 20 distinct values each seen twice', () => {
    assert.equal(labelMode('classification', ['x', 'y']), 'task');
    assert.equal(labelMode(undefined, ['x', 'y', 'x', 'y']), 'expected');
    assert.equal(labelMode(undefined, ['x', 'y', 'x']), undefined, 'y only once');
    const many = Array.from({ length: 21 }, (_, i) => `l${i}`);
    assert.equal(labelMode(undefined, [...many, ...many]), undefined, '21 distinct values');
    assert.equal(labelMode(undefined, [...many.slice(0, 20), ...many.slice(0, 20)]), 'expected');
    assert.equal(labelMode(undefined, ['x', 'x', undefined]), undefined, 'a case without expected');
    assert.equal(labelMode(undefined, []), undefined);
  });

  it('per variant, over completed cells only', () => {
    const cases = [0, 1, 2, 3].map((index) => ({ index, vars: { expected: index % 2 ? 'odd' : 'even' } }));
    const r = matrixLabelMetrics(undefined, cases, ['base'], {
      base: {
        0: { text: 'even', finish: 'eos' },
        1: { text: 'even', finish: 'eos' },
        2: { text: 'odd', finish: 'cancelled' },
        3: { text: 'odd', finish: 'length' },
      },
    })!;
    assert.equal(r.mode, 'expected');
    assert.equal(r.byVariant.base!.accuracy, 2 / 3);
  });
});
