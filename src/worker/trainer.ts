import { describeError, TuneloopError } from '../core/errors';
import { cancellationFor, runTraining } from '../core/train/trainer';

/**
 * Entry of the detached trainer process: `node dist/trainer.js RUN_DIR [--resume CHECKPOINT]`. It owns
 * the run folder (owner.lock) until the run ends; events.jsonl says how it went. SIGTERM, SIGINT or
 * the run's cancel file make it checkpoint and exit cleanly.
 */
async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const runDir = args[0];
  if (!runDir) {
    process.stderr.write('usage: trainer RUN_DIR [--resume CHECKPOINT]\n');
    return 2;
  }
  const i = args.indexOf('--resume');
  const resume = i >= 0 ? args[i + 1] : undefined;
  const cancel = cancellationFor(runDir);
  try {
    const outcome = await runTraining(runDir, { signal: cancel.signal, ...(resume ? { resume } : {}) });
    return outcome === 'failed' ? 1 : 0;
  } finally {
    cancel.dispose();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    // Before the run's events could be written (the lock is held by another trainer, the folder
    // cannot be written): stderr.log is all there is, so say it plainly there.
    if (e instanceof TuneloopError) {
      process.stderr.write(`tuneloop trainer: error: ${e.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`tuneloop trainer: ${describeError(e)}\n${(e as Error).stack ?? ''}\n`);
    process.exit(70);
  },
);
