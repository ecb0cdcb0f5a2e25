import * as fs from 'node:fs';
import * as path from 'node:path';
import { type RunEvent, readEvents, TERMINAL } from '../../core/train/events';
import { EVENTS, inspectRun, ownerAlive } from '../../core/train/run';
import { readSpec } from '../../core/train/spec';
import { latestCheckpoint } from '../../core/train/start';
import { type RunRow, TrainEvent } from './protocol';

/** Fine-tuning runs as the panel shows them: read from their folders, so a reloaded window finds them all. */

/**
 * Follows one run's events.jsonl from a byte offset: each `poll` returns the events appended since
 * (complete lines only). Reading a file's new bytes is cheap; the extension host never waits on the trainer.
 */
export class EventCursor {
  private offset = 0;

  constructor(readonly dir: string) {}

  poll(): TrainEvent[] {
    const file = path.join(this.dir, EVENTS);
    if (!fs.existsSync(file)) return [];
    const r = readEvents(file, this.offset);
    this.offset = r.offset;
    // The page's schema keeps only the fields it draws (zod drops the others: paths, pid, stderr).
    return r.events.map((e) => TrainEvent.parse(e));
  }
}

interface Tracked {
  offset: number;
  last: RunEvent['type'] | undefined;
  lastStep: number;
  totalSteps: number | undefined;
  lastLoss: number | undefined;
  recipe: string | undefined;
}

/**
 * The runs folder's runs as rows, read incrementally: each scan reads only what each events.jsonl
 * gained since the last, so a panel can poll every second however long the runs are. A run whose
 * trainer died without a final event is marked failed (by inspectRun, which records it).
 */
export class RunsScanner {
  private readonly tracked = new Map<string, Tracked>();

  constructor(private readonly label: (p: string) => string) {}

  scan(runsDir: string | undefined): RunRow[] {
    if (!runsDir || !fs.existsSync(runsDir)) return [];
    const names = fs
      .readdirSync(runsDir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && fs.existsSync(path.join(runsDir, e.name, EVENTS)))
      .map((e) => e.name)
      .sort((a, b) => b.localeCompare(a));
    return names.map((name) => this.row(path.join(runsDir, name)));
  }

  private row(dir: string): RunRow {
    let t = this.tracked.get(dir);
    if (!t) {
      let recipe: string | undefined;
      try {
        recipe = this.label(readSpec(dir).recipeFile);
      } catch {
        recipe = undefined;
      }
      t = { offset: 0, last: undefined, lastStep: 0, totalSteps: undefined, lastLoss: undefined, recipe };
      this.tracked.set(dir, t);
    }
    this.read(dir, t);
    if (t.last !== undefined && !TERMINAL.has(t.last) && !ownerAlive(dir)) {
      inspectRun(dir); // records the failure
      this.read(dir, t);
    }
    const state: RunRow['state'] = t.last === undefined ? 'starting' : TERMINAL.has(t.last) ? (t.last as 'done' | 'cancelled' | 'failed') : 'running';
    return {
      dir,
      name: path.basename(dir),
      ...(t.recipe ? { recipe: t.recipe } : {}),
      state,
      lastStep: t.lastStep,
      ...(t.totalSteps !== undefined ? { totalSteps: t.totalSteps } : {}),
      ...(t.lastLoss !== undefined ? { lastLoss: t.lastLoss } : {}),
      resumable: (state === 'cancelled' || state === 'failed') && latestCheckpoint(dir) !== undefined,
    };
  }

  private read(dir: string, t: Tracked): void {
    const r = readEvents(path.join(dir, EVENTS), t.offset);
    t.offset = r.offset;
    for (const e of r.events) {
      t.last = e.type === 'log' || e.type === 'checkpoint' || e.type === 'sample' || e.type === 'eval' ? (t.last ?? 'started') : e.type;
      if (e.type === 'started') t.totalSteps = e.totalSteps;
      if (e.type === 'step') {
        t.lastStep = e.step;
        t.lastLoss = e.loss;
      }
    }
  }
}
