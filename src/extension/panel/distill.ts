import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PanelEnv, WorkerLike } from './env';
import type { ToPanel } from './protocol';
import { ReplayedJob } from './replayed-job';

/** Rows of the generated dataset the page previews. */
const PREVIEW_ROWS = 12;

/**
 * The panel's Distill tab, extension side. "Distill and train": the worker runs the data stage
 * (request distillData: the teacher answers the recipe's inputs, cached and resumable), the page
 * gets the first rows to read (and the dataset to open and edit), then the recipe trains as
 * Fine-tune does (the page moves to its curve). "Compare with the teacher": the worker runs the
 * student (the short prompt and the trained adapter) and the teacher (the long prompt) on the held-
 * out cases (request distillReport), for the page's side-by-side table. One job at a time; Stop
 * cancels it (the teacher's answers so far stay cached). The last messages are kept for a rebuilt page.
 */
export class DistillRuns extends ReplayedJob {
  constructor(env: PanelEnv, worker: WorkerLike, post: (m: ToPanel) => void) {
    super(env, worker, post, 'distill/progress');
  }

  private request(recipe: string) {
    const s = this.env.settings();
    return { recipe, ...this.env.paths(recipe), cacheDir: s.cacheDir, ...(s.threads ? { threads: s.threads } : {}) };
  }

  private async job(what: string, work: (signal: AbortSignal) => Promise<void>): Promise<void> {
    if (this.abort) throw new Error('a distillation is already going: stop it first');
    const abort = new AbortController();
    this.abort = abort;
    this.last = [];
    const started = Date.now();
    try {
      await work(abort.signal);
      this.send({ type: 'distill/end', status: abort.signal.aborted ? 'cancelled' : 'done' });
      this.env.log.info(`panel: distill ${what} ${abort.signal.aborted ? 'stopped' : 'done'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.send({ type: 'distill/end', status: abort.signal.aborted ? 'cancelled' : 'failed', message });
      this.env.log.warn(`panel: distill ${what}: ${message}`);
    } finally {
      this.abort = undefined;
    }
  }

  /** The teacher's answers as the dataset, then training (`start` launches the run and shows its curve). */
  run(recipe: string, start: (recipe: string) => Promise<void>): Promise<void> {
    return this.job('data', async (signal) => {
      const r = await this.worker.request('distillData', this.request(recipe), signal, (e) => {
        if (e.type === 'progress') this.post({ type: 'distill/progress', message: e.message });
      });
      if (r.cancelled) return;
      const rows = fs
        .readFileSync(r.datasetFile, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .slice(0, PREVIEW_ROWS)
        .map((l) => {
          const messages = (JSON.parse(l) as { messages: { role: string; content: string }[] }).messages;
          return {
            input: messages
              .slice(0, -1)
              .map((m) => m.content)
              .join('\n'),
            answer: messages.at(-1)?.content ?? '',
          };
        });
      this.send({
        type: 'distill/data',
        recipe,
        dataset: r.datasetFile,
        datasetLabel: this.env.label(r.datasetFile),
        rows,
        total: r.rows,
        generated: r.generated,
        cached: r.cached,
        ...(r.warning ? { warning: r.warning } : {}),
      });
      await start(recipe);
    });
  }

  compare(recipe: string): Promise<void> {
    return this.job('comparison', async (signal) => {
      const runs = this.env.runsFolder();
      const r = await this.worker.request(
        'distillReport',
        { ...this.request(recipe), runsDirs: [...(runs ? [runs] : []), path.join(path.dirname(recipe), '.tuneloop', 'runs')] },
        signal,
        (e) => {
          if (e.type === 'progress') this.post({ type: 'distill/progress', message: e.message });
        },
      );
      this.send({
        type: 'distill/report',
        recipe,
        adapterLabel: this.env.label(r.adapter),
        cases: [...r.cases],
        teacher: { ...r.teacher, outputs: [...r.teacher.outputs], casePassed: [...r.teacher.casePassed] },
        student: { ...r.student, outputs: [...r.student.outputs], casePassed: [...r.student.casePassed] },
        inputTokenSaving: r.inputTokenSaving,
      });
    });
  }
}
