import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { TuneloopError } from '../errors';
import { casePassed, evaluate, type PromptFile, type Variables } from '../prompts';
import { realPathLoose } from '../fs/root';
import { compareSnapshot, parseSnapshot, type Snapshot, type SnapshotChange } from './snapshot';

/**
 * `tuneloop eval --since REF`: this run against the snapshot as it was committed at a git ref, for a
 * team that retunes adapters as data changes and asks "what changed since the last release?".
 * The snapshot at REF holds outputs only; its verdicts are those of *today's* evaluators run on
 * those outputs (evaluators are pure functions of an output and its case's values), so that a
 * pass that turned into a fail is the model's change and not a changed check. A case is matched by
 * its index in today's testData; one that is gone is reported as such.
 */

export interface SinceVariant {
  readonly name: string;
  /** Passed ÷ cases, of the outputs at REF (today's evaluators) and of this run; null with none. */
  readonly passRateThen: number | null;
  readonly passRateNow: number | null;
  /** Case indices that passed at REF and fail now, and the other way. */
  readonly newlyFailing: readonly number[];
  readonly newlyPassing: readonly number[];
}

export interface SinceReport {
  readonly ref: string;
  /** The commit REF names. */
  readonly commit: string;
  /** The snapshot's path in the repository. */
  readonly snapshot: string;
  readonly modelThen: Snapshot['model'];
  /** Outputs that differ, appeared or went (as a snapshot comparison lists them). */
  readonly changes: readonly SnapshotChange[];
  readonly variants: readonly SinceVariant[];
}

function git(dir: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('git', ['-C', dir, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw new TuneloopError(`--since needs git, which could not be run: ${r.error.message}`, {}, 'install git, or leave out --since');
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The snapshot file as committed at `ref`, with the commit it resolved to. */
export function snapshotAtRef(snapshotFile: string, ref: string): { commit: string; path: string; snapshot: Snapshot } {
  const dir = path.dirname(snapshotFile);
  const top = git(dir, 'rev-parse', '--show-toplevel');
  if (top.status !== 0)
    throw new TuneloopError('--since reads the snapshot from git, and this folder is not in a git repository', { file: snapshotFile }, 'run it in a clone');
  const commit = git(dir, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`);
  if (commit.status !== 0)
    throw new TuneloopError(
      `--since ${ref}: no such commit, branch or tag`,
      { file: snapshotFile },
      'name a ref that git log shows (a tag, a branch, HEAD~3, a commit)',
    );
  const rel = path.relative(realPathLoose(top.stdout.trim()), realPathLoose(snapshotFile)).split(path.sep).join('/');
  const sha = commit.stdout.trim();
  const shown = git(dir, 'show', `${sha}:${rel}`);
  if (shown.status !== 0)
    throw new TuneloopError(
      `--since ${ref}: the snapshot ${rel} is not in that commit (${sha.slice(0, 12)})`,
      { file: snapshotFile },
      'name a later ref, one where the snapshot had been committed',
    );
  return { commit: sha, path: rel, snapshot: parseSnapshot(shown.stdout, `${ref}:${rel}`, 'that commit holds no Tuneloop snapshot at this path') };
}

/** Whether an output passes today's evaluators on a case's values. */
function passesToday(prompt: PromptFile, text: string, vars: Variables): boolean {
  return casePassed(evaluate(prompt, text, vars));
}

/** This run (its outputs and verdicts) against the snapshot at a ref. */
export function compareSince(
  at: { readonly ref: string; readonly commit: string; readonly path: string; readonly snapshot: Snapshot },
  run: {
    readonly prompt: PromptFile;
    readonly cases: readonly { readonly index: number; readonly vars: Variables }[];
    readonly variants: readonly string[];
    readonly outputs: Snapshot['outputs'];
    /** Whether this run's cell passed, by variant and case. */
    readonly passed: (variant: string, caseIndex: number) => boolean | undefined;
  },
): SinceReport {
  const vars = new Map(run.cases.map((c) => [c.index, c.vars]));
  const rate = (xs: readonly boolean[]) => (xs.length ? xs.filter(Boolean).length / xs.length : null);
  const variants = run.variants.map((name): SinceVariant => {
    const then = at.snapshot.outputs[name] ?? {};
    const thenVerdicts: boolean[] = [];
    const nowVerdicts: boolean[] = [];
    const newlyFailing: number[] = [];
    const newlyPassing: number[] = [];
    for (const c of run.cases) {
      const now = run.passed(name, c.index);
      if (now !== undefined) nowVerdicts.push(now);
      const text = then[String(c.index)];
      if (text === undefined) continue;
      const was = passesToday(run.prompt, text, vars.get(c.index) ?? {});
      thenVerdicts.push(was);
      if (now === undefined) continue;
      if (was && !now) newlyFailing.push(c.index);
      if (!was && now) newlyPassing.push(c.index);
    }
    return { name, passRateThen: rate(thenVerdicts), passRateNow: rate(nowVerdicts), newlyFailing, newlyPassing };
  });
  return {
    ref: at.ref,
    commit: at.commit,
    snapshot: at.path,
    modelThen: at.snapshot.model,
    changes: compareSnapshot(at.snapshot, run.outputs),
    variants,
  };
}
