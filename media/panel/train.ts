import type { RunRow, TrainEvent } from '../../src/extension/panel/protocol';
import { button, el, formatNumber, icon } from '../dom';
import type { Ctx } from './app';
import { LossChart } from './chart';

/**
 * Fine-tuning: launch a run from a recipe (in the detached trainer, through the extension), the runs
 * read from the runs folder with their state, and the selected run's live loss curve, sample
 * generations, and cancel / resume. Rows are updated in place so that keyboard focus survives polling.
 */
const STATE_TEXT: Record<RunRow['state'], string> = { starting: 'starting', running: 'running', done: 'done', cancelled: 'cancelled', failed: 'failed' };

export class TrainView {
  readonly root = el('div', { class: 'train' });
  private readonly launch = el('div', { class: 'launch' });
  private readonly list = el('tbody');
  private readonly listWrap: HTMLElement;
  private readonly detail = el('section', { class: 'run-detail', 'aria-label': 'Selected run' });
  private readonly chart = new LossChart();
  private readonly samples = el('ol', { class: 'samples', reversed: true });
  private readonly head = el('div', { class: 'run-head' });
  private readonly body: HTMLElement;
  private readonly rows = new Map<string, HTMLTableRowElement>();
  private chartFor: string | undefined;
  private requested: string | undefined;

  constructor(private readonly ctx: Ctx) {
    this.listWrap = el(
      'section',
      { class: 'runs', 'aria-label': 'Runs' },
      el('h3', {}, 'Runs'),
      el(
        'div',
        { class: 'table-wrap' },
        el(
          'table',
          { class: 'runs-table' },
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              el('th', { scope: 'col' }, 'Run'),
              el('th', { scope: 'col' }, 'State'),
              el('th', { scope: 'col' }, 'Step'),
              el('th', { scope: 'col' }, 'Loss'),
              el('th', { scope: 'col' }, el('span', { class: 'visually-hidden' }, 'Actions')),
            ),
          ),
          this.list,
        ),
      ),
    );
    this.body = el('div', { class: 'run-body' }, this.chart.root, el('h4', {}, 'Sample generations'), this.samples);
    this.detail.append(this.head, this.body);
    this.root.append(this.launch, el('div', { class: 'train-grid' }, this.listWrap, this.detail));
  }

  renderLaunch(): void {
    const s = this.ctx.s;
    if (s.recipes.length === 0) {
      this.launch.replaceChildren(
        el(
          'div',
          { class: 'empty' },
          el('p', {}, 'No adapter recipe in this workspace yet.'),
          el(
            'p',
            { class: 'muted' },
            'Write NAME.adapter.yml: base_model (a checkpoint folder), dataset (a JSONL file), lora and training settings. Its CodeLens, or the button here, launches the run in a background process.',
          ),
        ),
      );
      return;
    }
    if (!s.recipe || !s.recipes.some((r) => r.file === s.recipe)) s.recipe = s.recipes[0]!.file;
    const select = el('select', { id: 'recipe' });
    for (const r of s.recipes) select.append(el('option', { value: r.file, selected: r.file === s.recipe }, r.label));
    select.addEventListener('change', () => {
      s.recipe = select.value;
      this.ctx.save();
    });
    const start = button(
      [icon('rocket'), ' Fine-tune'],
      {
        class: 'primary',
        id: 'start-training',
        disabled: !s.trusted,
        title: s.trusted ? 'Launch the run in the background trainer' : 'Trust the workspace to train',
      },
      () => this.ctx.post({ type: 'train/start', recipe: select.value }),
    );
    this.launch.replaceChildren(
      el(
        'div',
        { class: 'field' },
        el('label', { for: 'recipe' }, 'Adapter recipe'),
        el(
          'div',
          { class: 'row' },
          select,
          start,
          button([icon('file'), ' Open'], { class: 'secondary', title: 'Open the recipe in the editor' }, () =>
            this.ctx.post({ type: 'panel/openFile', file: select.value }),
          ),
        ),
      ),
    );
  }

  renderRuns(): void {
    const s = this.ctx.s;
    if (s.runs.length === 0) {
      this.rows.clear();
      this.list.replaceChildren(
        el('tr', {}, el('td', { colspan: '5', class: 'muted' }, `No runs yet${s.runsFolder ? ` in ${s.runsFolder}` : ''}. Pick a recipe and Fine-tune.`)),
      );
      this.renderDetail();
      return;
    }
    const keep = new Set(s.runs.map((r) => r.dir));
    for (const [dir, tr] of this.rows) if (!keep.has(dir)) tr.remove(), this.rows.delete(dir);
    if (this.list.querySelector('td[colspan]')) this.list.replaceChildren();
    s.runs.forEach((r, i) => {
      let tr = this.rows.get(r.dir);
      if (!tr) {
        tr = el('tr', { 'data-run': r.dir });
        const name = button(runNameParts(r.name), { class: 'link run-name', title: r.recipe ? `${r.dir}\nrecipe ${r.recipe}` : r.dir }, () =>
          this.select(r.dir),
        );
        tr.append(
          el('td', {}, name, r.recipe ? el('div', { class: 'muted small' }, r.recipe) : ''),
          el('td', { class: 'state' }),
          el('td', { class: 'step' }),
          el('td', { class: 'loss' }),
          el('td', { class: 'run-actions' }),
        );
        this.rows.set(r.dir, tr);
      }
      if (this.list.children[i] !== tr) this.list.insertBefore(tr, this.list.children[i] ?? null);
      this.fillRow(tr, r);
    });
    if (!s.selectedRun || !s.runs.some((r) => r.dir === s.selectedRun)) {
      const live = s.runs.find((r) => r.state === 'running' || r.state === 'starting') ?? s.runs[0];
      if (live) this.select(live.dir);
    } else if (this.requested !== s.selectedRun) {
      // A rebuilt page (the panel hidden and shown, or the window reloaded) remembers its run: ask for its events.
      this.select(s.selectedRun);
    } else this.renderDetail();
  }

  private fillRow(tr: HTMLTableRowElement, r: RunRow): void {
    tr.classList.toggle('selected', r.dir === this.ctx.s.selectedRun);
    tr.setAttribute('aria-selected', String(r.dir === this.ctx.s.selectedRun));
    const [, state, step, loss, actions] = tr.children as unknown as HTMLElement[];
    const stateText = STATE_TEXT[r.state];
    if (state!.textContent !== stateText) state!.replaceChildren(el('span', { class: `badge ${r.state}` }, stateText));
    step!.textContent = `${r.lastStep}${r.totalSteps ? ` / ${r.totalSteps}` : ''}`;
    loss!.textContent = r.lastLoss !== undefined ? formatNumber(r.lastLoss, 4) : '—';
    const want = r.state === 'running' || r.state === 'starting' ? 'cancel' : r.resumable ? 'resume' : '';
    if (actions!.dataset.kind !== want) {
      actions!.dataset.kind = want;
      actions!.replaceChildren(
        want === 'cancel'
          ? button([icon('stop'), ' Cancel'], { class: 'secondary small', 'aria-label': `Cancel ${r.name}` }, () =>
              this.ctx.post({ type: 'train/cancel', dir: r.dir }),
            )
          : '',
        want === 'resume'
          ? button([icon('debugContinue'), ' Resume'], { class: 'secondary small', 'aria-label': `Resume ${r.name}`, disabled: !this.ctx.s.trusted }, () =>
              this.ctx.post({ type: 'train/resume', dir: r.dir }),
            )
          : '',
      );
    }
  }

  select(dir: string): void {
    const s = this.ctx.s;
    if (s.selectedRun !== dir) {
      s.selectedRun = dir;
      s.trainEvents = [];
      this.ctx.save();
    }
    this.requested = dir;
    this.ctx.post({ type: 'train/select', dir });
    for (const [d, tr] of this.rows) {
      tr.classList.toggle('selected', d === dir);
      tr.setAttribute('aria-selected', String(d === dir));
    }
    this.renderDetail();
  }

  /** Events of the selected run arrived: all of them (reset) or the new ones. */
  events(dir: string, reset: boolean, events: readonly TrainEvent[]): void {
    const s = this.ctx.s;
    this.requested = dir;
    if (dir !== s.selectedRun) {
      s.selectedRun = dir;
      for (const [d, tr] of this.rows) tr.classList.toggle('selected', d === dir);
    }
    if (reset || this.chartFor !== dir) {
      s.trainEvents = [];
      this.chart.reset();
      this.samples.replaceChildren();
      this.chartFor = dir;
    }
    s.trainEvents.push(...events);
    this.chart.add(events);
    for (const e of events)
      if (e.type === 'sample')
        this.samples.prepend(
          el(
            'li',
            {},
            el('div', { class: 'muted small' }, `step ${e.step}`, e.line !== undefined ? ` · validation row at line ${e.line}` : ''),
            // The row's messages as a person reads them; the raw tokens (chat template and all) only for
            // rows without messages, and as the tooltip.
            e.messages
              ? el(
                  'div',
                  { class: 'sample-prompt', title: e.prompt },
                  ...e.messages.map((m) => el('div', { class: 'sample-message' }, el('span', { class: 'sample-role' }, m.role), ' ', m.content)),
                )
              : el('code', {}, e.prompt),
            el('pre', { class: 'sample' }, e.output || '(empty)'),
          ),
        );
    this.renderDetail();
  }

  private renderDetail(): void {
    const s = this.ctx.s;
    const row = s.runs.find((r) => r.dir === s.selectedRun);
    this.body.hidden = !row;
    if (!row) {
      this.head.replaceChildren(
        el(
          'p',
          { class: 'muted' },
          s.runs.length ? 'Select a run to see its loss curve.' : 'A run’s live loss curve (training and validation) and its sample generations appear here.',
        ),
      );
      return;
    }
    const evs = s.trainEvents;
    const lastStep = evs.findLast((e) => e.type === 'step');
    const started = evs.findLast((e) => e.type === 'started');
    const failed = evs.findLast((e) => e.type === 'failed');
    const live = row.state === 'running' || row.state === 'starting';
    const eta =
      lastStep && lastStep.type === 'step' && live
        ? ` · ETA ${lastStep.etaSeconds > 90 ? `${Math.round(lastStep.etaSeconds / 60)} min` : `${Math.round(lastStep.etaSeconds)} s`} · ${formatNumber(lastStep.tokensPerSecond, 0)} tokens/s`
        : '';
    const examples = started && started.type === 'started' ? ` · ${started.trainExamples} training / ${started.validationExamples} validation examples` : '';
    const memory =
      started && started.type === 'started' && started.memory
        ? ` · memory: about ${formatGiB(started.memory.estimateBytes)} of ${formatGiB(started.memory.availableBytes)} available`
        : '';
    this.head.replaceChildren(
      el('h3', {}, row.name),
      el(
        'p',
        { class: 'run-status', role: 'status' },
        el('span', { class: `badge ${row.state}` }, STATE_TEXT[row.state]),
        ` step ${row.lastStep}${row.totalSteps ? ` of ${row.totalSteps}` : ''}${eta}${examples}${memory}`,
      ),
      failed && failed.type === 'failed' && row.state === 'failed' ? el('p', { class: 'error' }, failed.message) : '',
      el(
        'div',
        { class: 'row' },
        live
          ? button([icon('stop'), ' Cancel run'], { class: 'secondary', id: 'cancel-run' }, () => this.ctx.post({ type: 'train/cancel', dir: row.dir }))
          : '',
        row.resumable
          ? button([icon('debugContinue'), ' Resume'], { class: 'secondary', id: 'resume-run', disabled: !s.trusted }, () =>
              this.ctx.post({ type: 'train/resume', dir: row.dir }),
            )
          : '',
        button([icon('folder'), ' Reveal folder'], { class: 'secondary' }, () => this.ctx.post({ type: 'train/reveal', dir: row.dir })),
        row.state === 'done' ? el('span', { class: 'muted small' }, 'Its adapter is listed among the variants to compare.') : '',
      ),
    );
    if (this.samples.children.length === 0) this.samples.replaceChildren(el('li', { class: 'muted' }, 'Samples appear at each evaluation.'));
    else this.samples.querySelector('li.muted')?.remove();
  }
}

/**
 * A run's name as the runs table draws it: the timestamp and the recipe's name each kept whole, with
 * a line break allowed only between them ("20250102T000000Z-" / "tone").
 */
function runNameParts(name: string): (HTMLElement | string)[] {
  const m = /^(\d{8}T\d{6}Z-)(.+)$/.exec(name);
  if (!m) return [el('span', { class: 'nowrap' }, name)];
  return [el('span', { class: 'nowrap' }, m[1]!), el('wbr'), el('span', { class: 'nowrap' }, m[2]!)];
}

/** Bytes as GiB with one decimal (memory estimates). */
function formatGiB(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}
