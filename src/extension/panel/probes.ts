import * as path from 'node:path';
import { historyFileOf, readHistory } from '../../core/compare/history';
import { chooseDtype } from '../../core/compare/variants';
import type { GenerationParams } from '../../core/infer/generate';
import type { PanelEnv, WorkerLike } from './env';
import type { HistoryPoint, ToPanel } from './protocol';
import { ReplayedJob } from './replayed-job';
import { fileParams, matrixRequest, type PromptSource } from './sources';

/**
 * The panel's Probes tab and History tab, extension side. Probes: one run at a time in the worker
 * (request runProbes: the same core/probes/run.ts as `tuneloop probe`), its progress and report
 * posted to the page, the last report kept for a rebuilt page. History: the prompt file's
 * NAME.history.jsonl (tuneloop eval --record) read and sent as points.
 */
export class ProbeRuns extends ReplayedJob {
  constructor(env: PanelEnv, worker: WorkerLike, post: (m: ToPanel) => void) {
    super(env, worker, post, 'probes/progress');
  }

  protected override send(m: ToPanel): void {
    if (m.type === 'probes/start') this.last = [];
    super.send(m);
  }

  async run(source: PromptSource, model: string, variantIds: readonly string[]): Promise<void> {
    const prompt = source.prompt;
    if (!prompt || source.info.problems.length) throw new Error(`the prompt file has problems: ${source.info.problems[0] ?? 'cannot read it'}`);
    if (prompt.probes.length === 0) throw new Error('the prompt file has no probes: add a "probes:" list (names, pronouns) to run them');
    if (!source.models.has(model)) throw new Error(`unknown model: ${model}`);
    if (this.abort) throw new Error('probes are already running: stop them first');
    const variants = variantIds.map((id) => {
      const v = source.variants.get(id);
      if (!v) throw new Error(`the variant ${id} is not available`);
      return v;
    });
    const cases = (prompt.testData ?? [{ values: {} }]).map((t, index) => ({ index, vars: t.values as Record<string, unknown> }));
    const s = this.env.settings();
    const dtype = chooseDtype(prompt, { setting: s.dtype });
    // Each variant's limit: an adapter entry's own, else the file's.
    const file = source.info.file;
    const limits: Record<string, number> = {};
    for (const v of variants) {
      const entry = prompt.adapters.find((a) => v.adapterDir && path.resolve(path.dirname(file), a.path) === v.adapterDir);
      const limit = entry?.maxProbeFlips ?? prompt.maxProbeFlips;
      if (limit !== undefined) limits[v.name] = limit;
    }
    this.abort = new AbortController();
    this.send({
      type: 'probes/start',
      file,
      fileLabel: source.info.label,
      modelLabel: this.env.label(model),
      variants: variants.map((v) => ({ id: v.id, name: v.name })),
    });
    const started = Date.now();
    try {
      const result = await this.worker.request(
        'runProbes',
        matrixRequest(source, model, variants, cases, {
          params: fileParams(prompt) as GenerationParams,
          dtype: dtype.dtype,
          cacheDir: s.cacheDir,
          threads: s.threads,
        }),
        this.abort.signal,
        (e) => {
          if (e.type === 'progress') this.post({ type: 'probes/progress', message: e.message });
        },
      );
      this.env.log.info(
        `panel: probes of ${source.info.label}: ${variants.length} variant(s) × ${cases.length} case(s) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      this.send(
        result.cancelled
          ? { type: 'probes/end', status: 'cancelled', message: 'stopped' }
          : { type: 'probes/end', status: 'done', report: result.report, limits },
      );
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.env.log.error(`panel: probes of ${source.info.label}: ${message}`);
      this.send({ type: 'probes/end', status: this.abort.signal.aborted ? 'cancelled' : 'failed', message: message.split('\n')[0]! });
    } finally {
      this.abort = undefined;
    }
  }
}

/** The prompt file's recorded history as the page plots it; unreadable lines are logged, and counted for the page. */
export function historyMessage(source: PromptSource, env: Pick<PanelEnv, 'label' | 'log'>): Extract<ToPanel, { type: 'history/data' }> {
  const file = historyFileOf(source.info.file, source.prompt?.snapshot);
  const read = readHistory(file);
  for (const u of read.unreadable) env.log.warn(`${file}:${u.line}: history line not read: ${u.reason}`);
  const points: HistoryPoint[] = read.lines.map((l) => ({
    kind: l.kind ?? 'eval',
    date: l.date,
    commit: l.commit,
    dirty: l.dirty,
    variants: l.variants.map((v) => ({
      name: v.name,
      passRate: v.passRate,
      regressionCount: v.regressionCount ?? null,
      accuracy: v.labelMetrics?.accuracy ?? null,
      ece: v.ece ?? null,
      probeFlips: v.probeFlips?.total ?? null,
    })),
    failures: Array.isArray(l.failures) ? l.failures.length : 0,
  }));
  return { type: 'history/data', file: source.info.file, historyLabel: env.label(file), points, unreadable: read.unreadable.length };
}
