import * as assert from 'node:assert/strict';
import { type CaseVerdict, type Cells, caseVerdicts, meetsMaxRegressions, type ScoredCell, scoreMatrix, worstCase } from '../../src/core/compare/scores';

/** A completed cell whose evaluators gave these verdicts (null: a judge not run here). */
function cell(text: string, ...verdicts: (boolean | null)[]): ScoredCell {
  return { text, finish: 'eos', evaluations: verdicts.map((passed) => ({ passed })) };
}

const EVALUATORS = [{ name: 'A' }, { name: 'B' }, { name: 'judge' }];

describe('compare scores: each evaluator on its own, and regressions against the base', () => {
  it('base passes A and fails B, the adapter the other way round: one regression, on A; B is a gain, not a regression', () => {
    const results: Cells = { base: { 0: cell('base says', true, false, null) }, lora: { 0: cell('lora says', false, true, null) } };
    const [base, lora] = scoreMatrix({ evaluators: EVALUATORS, variants: ['base', 'lora'], results });
    assert.deepEqual(base, {
      variant: 'base',
      completed: 1,
      evaluators: [
        { name: 'A', passed: 1, ran: 1, rate: 1 },
        { name: 'B', passed: 0, ran: 1, rate: 0 },
        { name: 'judge', passed: 0, ran: 0 },
      ],
    });
    assert.deepEqual(
      lora!.evaluators.map((e) => [e.name, e.rate]),
      [
        ['A', 0],
        ['B', 1],
        ['judge', undefined],
      ],
    );
    assert.deepEqual(lora!.regressions, [{ caseIndex: 0, evaluator: 'A', base: 'base says', output: 'lora says' }]);
    assert.deepEqual(caseVerdicts(results, 'lora'), [{ caseIndex: 0, regressed: 1, failed: 1, gained: 1 }]);
  });

  it('a judge not run counts neither way, in rates and in regressions', () => {
    const results: Cells = {
      base: { 0: cell('b0', true, true, true), 1: cell('b1', true, true, null) },
      lora: { 0: cell('l0', true, true, null), 1: cell('l1', true, true, false) },
    };
    const [, lora] = scoreMatrix({ evaluators: EVALUATORS, variants: ['base', 'lora'], results });
    assert.deepEqual(lora!.regressions, [], 'base judged 0 and the adapter did not; the adapter judged 1 and the base did not');
    assert.deepEqual(lora!.evaluators[2], { name: 'judge', passed: 0, ran: 1, rate: 0 });
  });

  it('a cancelled cell is not completed (and a cell that failed is absent): neither rates nor regressions count it', () => {
    const results: Cells = {
      base: { 0: cell('b0', true, true), 1: cell('b1', true, true), 2: cell('b2', true, true) },
      // Case 1 was cancelled part-way; case 2 failed (the matrix reports the error and keeps no cell).
      lora: { 0: cell('l0', true, false), 1: { ...cell('l1', false, false), finish: 'cancelled' } },
    };
    const [base, lora] = scoreMatrix({ evaluators: EVALUATORS.slice(0, 2), variants: ['base', 'lora'], results });
    assert.equal(base!.completed, 3);
    assert.equal(lora!.completed, 1);
    assert.deepEqual(lora!.evaluators, [
      { name: 'A', passed: 1, ran: 1, rate: 1 },
      { name: 'B', passed: 0, ran: 1, rate: 0 },
    ]);
    assert.deepEqual(lora!.regressions, [{ caseIndex: 0, evaluator: 'B', base: 'b0', output: 'l0' }]);
    // And a cancelled base cell: nothing to regress against.
    const noBase: Cells = { base: { 0: { ...cell('b0', true), finish: 'cancelled' } }, lora: { 0: cell('l0', false) } };
    assert.deepEqual(scoreMatrix({ evaluators: EVALUATORS.slice(0, 1), variants: ['base', 'lora'], results: noBase })[1]!.regressions, []);
    assert.deepEqual(scoreMatrix({ evaluators: EVALUATORS.slice(0, 1), variants: ['base', 'lora'], results: noBase })[0]!.evaluators, [
      { name: 'A', passed: 0, ran: 0 },
    ]);
  });

  it('counts every evaluator a case regressed on; no base run: no regressions to count', () => {
    const results: Cells = {
      base: { 0: cell('b', true, true), 1: cell('b1', false, true) },
      lora: { 0: cell('l', false, false), 1: cell('l1', false, false) },
    };
    const [, lora] = scoreMatrix({ evaluators: EVALUATORS.slice(0, 2), variants: ['base', 'lora'], results });
    assert.deepEqual(
      lora!.regressions!.map((r) => [r.caseIndex, r.evaluator]),
      [
        [0, 'A'],
        [0, 'B'],
        [1, 'B'],
      ],
    );
    assert.equal(scoreMatrix({ evaluators: EVALUATORS.slice(0, 2), variants: ['lora'], results: { lora: results.lora! } })[0]!.regressions, undefined);
  });

  it('maxRegressions: none is no gate; at the limit passes; over it, or uncounted, fails', () => {
    assert.equal(meetsMaxRegressions(5, undefined), true);
    assert.equal(meetsMaxRegressions(2, 2), true);
    assert.equal(meetsMaxRegressions(3, 2), false);
    assert.equal(meetsMaxRegressions(undefined, 2), false);
    assert.equal(meetsMaxRegressions(0, 0), true);
  });

  it('the worst case: most evaluators regressed, then most failed, then the first', () => {
    const v = (caseIndex: number, regressed: number, failed: number): CaseVerdict => ({ caseIndex, regressed, failed, gained: 0 });
    assert.equal(worstCase([v(0, 0, 2), v(1, 1, 1), v(2, 1, 2), v(3, 1, 2)])!.caseIndex, 2);
    assert.equal(worstCase([v(0, 0, 0), v(1, 0, 1)])!.caseIndex, 1);
    assert.equal(worstCase([v(0, 0, 0), v(1, 0, 0)])!.caseIndex, 0);
    assert.equal(worstCase([]), undefined);
  });
});
