import type { PanelEnv, WorkerLike } from './env';
import type { ToPanel } from './protocol';

/**
 * One worker job at a time whose messages a rebuilt page gets again: what the Probes and the Distill
 * tabs share. `busy` while a job runs, `stop` cancels it (through the AbortSignal the tab hands to
 * the worker request), `replay` posts the last job's messages again, progress messages excepted.
 */
export abstract class ReplayedJob {
  protected abort: AbortController | undefined;
  protected last: ToPanel[] = [];

  constructor(
    protected readonly env: PanelEnv,
    protected readonly worker: WorkerLike,
    protected readonly post: (m: ToPanel) => void,
    /** The tab's progress message, posted but not replayed. */
    private readonly progressType: ToPanel['type'],
  ) {}

  get busy(): boolean {
    return this.abort !== undefined;
  }

  stop(): void {
    this.abort?.abort();
  }

  /** The last job's messages again (the page was rebuilt). */
  replay(): void {
    for (const m of this.last) this.post(m);
  }

  /** Posts `m`, and keeps it for `replay` unless it is progress. */
  protected send(m: ToPanel): void {
    if (m.type !== this.progressType) this.last.push(m);
    this.post(m);
  }
}
