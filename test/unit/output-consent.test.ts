import * as assert from 'node:assert/strict';
import { ForeignOutputError, OutputRefusedError } from '../../src/core/fs/output';
import { startWithConsent } from '../../src/extension/output-consent';

/** The panel's question before a run replaces an output folder Tuneloop did not write (the CLI's --force). */
describe('fine-tune: consent to replace an output folder', () => {
  const starter = (refuse: unknown) => {
    const calls: boolean[] = [];
    return {
      calls,
      start: async (force: boolean) => {
        calls.push(force);
        if (!force && refuse) throw refuse;
        return 'run';
      },
    };
  };
  const foreign = new ForeignOutputError(
    'the output folder /w/a holds files that Tuneloop did not write',
    { file: '/w/r.adapter.yml' },
    'name an empty or new folder, or run with --force to replace it',
  );

  it('asks, and starts with force only when the user agrees', async () => {
    const asked: string[] = [];
    const yes = starter(foreign);
    assert.equal(await startWithConsent(yes.start, async (q) => (asked.push(q), true)), 'run');
    assert.deepEqual(yes.calls, [false, true]);
    assert.match(asked[0]!, /holds files that Tuneloop did not write\. Replace it with the adapter when the run finishes\?$/);
    const no = starter(foreign);
    assert.equal(await startWithConsent(no.start, async () => false), undefined);
    assert.deepEqual(no.calls, [false], 'declined: nothing started, never with force');
  });

  it('does not ask when the folder is free, and never overrides a refusal that --force cannot lift', async () => {
    const free = starter(undefined);
    assert.equal(await startWithConsent(free.start, async () => assert.fail('asked')), 'run');
    assert.deepEqual(free.calls, [false]);
    const refused = starter(new OutputRefusedError('the output folder /w holds /w/r.adapter.yml'));
    await assert.rejects(
      startWithConsent(refused.start, async () => assert.fail('asked')),
      OutputRefusedError,
    );
    assert.deepEqual(refused.calls, [false]);
  });
});
