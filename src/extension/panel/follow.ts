import type { PanelEnv } from './env';
import type { ToPanel } from './protocol';
import { EventCursor, RunsScanner } from './runs';

const RUNS_POLL_MS = 1000;

/**
 * Fine-tuning runs as the panel follows them: the runs folder scanned every second (the list sent to
 * the page when it changes), the events of the run the page shows streamed to it, and runs that
 * finish reported (their adapters become variants to compare). The runs go on in the detached
 * trainer whatever the panel does; this only reads their folders.
 */
export class RunsFollower {
  private readonly scanner: RunsScanner;
  /** The list last sent, as JSON: sent again only when it changes. */
  private listed = '';
  private dirs = new Set<string>();
  /** The runs known to be done at the last scan (undefined before the first): to notice runs that finish. */
  private doneRuns: Set<string> | undefined;
  private followed: EventCursor | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly env: PanelEnv,
    private readonly post: (m: ToPanel) => void,
    private readonly hooks: {
      /** Whether the page is there to be told (ready, and not closed). */
      live(): boolean;
      /** A run finished since the last scan. */
      finished(): void;
    },
  ) {
    this.scanner = new RunsScanner((p) => env.label(p));
    this.timer = setInterval(() => this.poll(), RUNS_POLL_MS);
  }

  /** Refuses a run folder that the page was not sent. */
  known(dir: string): void {
    if (!this.dirs.has(dir)) throw new Error(`unknown run: ${dir}`);
  }

  /** Streams a run's events to the page: all of them now, then those appended at each poll. */
  follow(dir: string): void {
    this.followed = new EventCursor(dir);
    this.post({ type: 'runs/events', dir, reset: true, events: this.followed.poll() });
  }

  /** A rebuilt page: the followed run's events again, from the start. */
  refollow(): void {
    if (!this.followed) return;
    const dir = this.followed.dir;
    this.followed = undefined;
    this.follow(dir);
  }

  /** Scans the runs folder: the list to the page when it changed (always with `force`), and the followed run's new events. */
  poll(force = false): void {
    if (!this.hooks.live()) return;
    try {
      const rows = this.scanner.scan(this.env.runsFolder());
      // Runs finished since the last scan. A short run can be created and finish between two scans
      // (its events.jsonl, which makes it a run, is written by the trainer process), so this compares
      // with the runs known to be done, not with the states last listed.
      const done = new Set(rows.filter((r) => r.state === 'done').map((r) => r.dir));
      const finished = this.doneRuns !== undefined && [...done].some((d) => !this.doneRuns!.has(d));
      this.doneRuns = done;
      const json = JSON.stringify(rows);
      this.dirs = new Set(rows.map((r) => r.dir));
      if (force || json !== this.listed) {
        this.listed = json;
        const folder = this.env.runsFolder();
        this.post({ type: 'runs/list', runs: rows, ...(folder ? { runsFolder: this.env.label(folder) } : {}) });
        if (finished) this.hooks.finished();
      }
      if (this.followed) {
        const events = this.followed.poll();
        if (events.length) this.post({ type: 'runs/events', dir: this.followed.dir, reset: false, events });
      }
    } catch (e) {
      this.env.log.warn(`panel: reading the runs folder: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  dispose(): void {
    clearInterval(this.timer);
  }
}
