import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { TuneloopError } from '../core/errors';
import { followEvents, type RunEvent } from '../core/train/events';
import { EVENTS, inspectRun, launchedOwnerAlive, requestCancel } from '../core/train/run';
import { describeMemoryPlan } from '../core/train/memory';
import { resumeRun, type StartOptions, startRun } from '../core/train/start';
import { SPEC_FILE } from '../core/train/spec';
import { DOWNLOAD_HINT, existingFolder, parseRoot, parseThreads, trustedReads, UsageError } from './options';

/**
 * `tuneloop train`: start a run in the detached trainer and follow it with a progress line; Ctrl-C asks
 * the trainer to checkpoint and stop. `--resume RUN` continues a run; `--follow RUN` watches one.
 */
export const TRAIN_USAGE = `tuneloop train RECIPE.adapter.yml [--runs DIR] [--threads N] [--detach] [--force] [--root DIR]
       tuneloop train --resume RUN_DIR
       tuneloop train --follow RUN_DIR

Trains the adapter a recipe describes, in a background process that keeps going if this
command stops (--detach returns at once). Progress: step, loss, learning rate, tokens/s and
ETA. Ctrl-C checkpoints and stops the run; --resume continues it from its last checkpoint.

  --runs DIR     where run folders go (default: .tuneloop/runs under the current folder)
  --threads N    onnxruntime threads (default: its own choice)
  --download     allow downloading a Hub base model the Hugging Face cache does not hold
  --force        replace the recipe's output folder even if it holds files Tuneloop did not write
  --root DIR     the workspace root the recipe's paths must stay inside (default: the nearest
                 folder above the recipe holding .git, else the current folder)
Exit status: 0 when the run finishes, 1 when it fails, 130 when it is cancelled.`;

function progressLine(e: Extract<RunEvent, { type: 'step' }>, total: number | undefined): string {
  const eta =
    e.etaSeconds >= 60 ? `${Math.floor(e.etaSeconds / 60)}m${String(Math.round(e.etaSeconds % 60)).padStart(2, '0')}s` : `${Math.round(e.etaSeconds)}s`;
  const width = 24;
  const done = total ? Math.round((e.step / total) * width) : 0;
  const bar = total ? `[${'#'.repeat(done)}${'.'.repeat(width - done)}] ` : '';
  return `${bar}step ${e.step}${total ? `/${total}` : ''}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  ${e.tokensPerSecond.toFixed(0)} tok/s  ETA ${eta}`;
}

export async function follow(runDir: string, out: NodeJS.WriteStream, offset = 0, cancelOnInterrupt = true, pid?: number): Promise<number> {
  let total: number | undefined;
  let lastWasProgress = false;
  const tty = out.isTTY === true;
  const print = (line: string, progress = false) => {
    if (tty && lastWasProgress) out.write('\r\x1b[2K');
    else if (lastWasProgress) out.write('\n');
    out.write(progress && tty ? line : `${line}\n`);
    lastWasProgress = progress && tty;
  };
  let interrupted = false;
  const onInt = () => {
    if (!cancelOnInterrupt) process.exit(0);
    if (interrupted) return;
    interrupted = true;
    print('cancelling: the trainer writes a checkpoint and stops…');
    requestCancel(runDir);
  };
  process.on('SIGINT', onInt);
  try {
    const last = await followEvents(
      path.join(runDir, EVENTS),
      (e) => {
        switch (e.type) {
          case 'started':
            total = e.totalSteps;
            print(
              `${e.resumedFrom !== undefined ? `resumed at step ${e.resumedFrom}` : 'started'}: ${e.trainExamples} training rows, ${e.validationExamples} for validation, ${e.totalSteps} steps (pid ${e.pid})`,
            );
            break;
          case 'step':
            if (tty || e.step === 1 || e.step % 10 === 0 || e.step === total) print(progressLine(e, total), true);
            break;
          case 'eval':
            print(`step ${e.step}: validation loss ${e.loss.toFixed(4)}`);
            break;
          case 'sample':
            print(`step ${e.step}: sample ${JSON.stringify((e.messages?.at(-1)?.content ?? e.prompt).slice(-60))} → ${JSON.stringify(e.output.slice(0, 80))}`);
            break;
          case 'checkpoint':
            print(`step ${e.step}: checkpoint ${e.path}`);
            break;
          case 'log':
            print(`${e.level}: ${e.message}`);
            break;
          case 'done':
            print(`done after ${e.step} steps: the ${e.kind} is in ${e.result}`);
            break;
          case 'cancelled':
            print(`cancelled at step ${e.step}; resume with: tuneloop train --resume ${runDir}`);
            break;
          case 'failed':
            print(`failed: ${e.message}${e.stderr ? `\n${e.stderr.trim()}` : ''}`);
            break;
        }
      },
      { offset, isOwnerAlive: launchedOwnerAlive(runDir, 30_000, pid) },
    );
    if (last?.type === 'failed') inspectRun(runDir); // records a dead owner's failure with its stderr tail
    return last?.type === 'done' ? 0 : last?.type === 'cancelled' ? 130 : 1;
  } finally {
    process.off('SIGINT', onInt);
  }
}
/** A run folder named on the command line: it must exist and be a run (it has events or a spec). */
function runFolder(value: string): string {
  const dir = existingFolder(value, 'run folder');
  if (!fs.existsSync(path.join(dir, EVENTS)) && !fs.existsSync(path.join(dir, SPEC_FILE))) {
    throw new TuneloopError(
      'not a run folder (no events.jsonl or spec.json)',
      { file: dir },
      'name a folder under the runs folder, e.g. .tuneloop/runs/<time>-<name>',
    );
  }
  return dir;
}

/** The options `tuneloop train` and `tuneloop distill` start runs with, from their shared flags. */
export function startOptionsFrom(
  values: { runs?: string | undefined; threads?: string | undefined; root?: string | undefined; download?: boolean | undefined; force?: boolean | undefined },
  trainerEntry: string,
): StartOptions {
  const threads = parseThreads(values.threads);
  const root = parseRoot(values.root);
  return {
    runsDir: path.resolve(values.runs ?? path.join('.tuneloop', 'runs')),
    trainerEntry,
    trustedReads: trustedReads(),
    ...(root ? { root } : {}),
    ...(threads ? { threads } : {}),
    ...(values.download ? { allowDownload: true } : {}),
    downloadHint: DOWNLOAD_HINT,
    ...(values.force ? { force: true } : {}),
  };
}

/** Starts a run and says so: its warnings, the memory plan and the run folder. */
export async function startAndReport(recipe: string, options: StartOptions): Promise<{ runDir: string; pid: number }> {
  const { runDir, pid, warnings, memory } = await startRun(recipe, options);
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  process.stdout.write(`${describeMemoryPlan(memory)}\n`);
  process.stdout.write(`run ${runDir} (trainer pid ${pid})\n`);
  return { runDir, pid };
}

export async function trainCommand(args: string[], trainerEntry: string): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      runs: { type: 'string' },
      threads: { type: 'string' },
      resume: { type: 'string' },
      follow: { type: 'string' },
      detach: { type: 'boolean' },
      download: { type: 'boolean' },
      force: { type: 'boolean' },
      root: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`usage: ${TRAIN_USAGE}\n`);
    return 0;
  }
  if (values.follow) return follow(runFolder(values.follow), process.stdout, 0, false);
  if (values.resume) {
    const runDir = runFolder(values.resume);
    const { checkpoint, pid, offset } = resumeRun(runDir, { trainerEntry }); // follow only what the resumed part writes
    process.stdout.write(`resuming ${runDir} from ${path.basename(checkpoint)}\n`);
    return follow(runDir, process.stdout, offset, true, pid);
  }
  if (positionals.length !== 1) throw new UsageError('train takes one recipe file (or --resume RUN / --follow RUN)');
  const { runDir, pid } = await startAndReport(path.resolve(positionals[0]!), startOptionsFrom(values, trainerEntry));
  if (values.detach) {
    process.stdout.write(`follow it with: tuneloop train --follow ${runDir}\n`);
    return 0;
  }
  return follow(runDir, process.stdout, 0, true, pid);
}
