import { type PromptInfo, RUN_MODES, type RunMode, type Tab, type ToPanel } from '../../src/extension/panel/protocol';
import type { Ctx } from './app';
import type { RunControls } from './controls';
import type { ResultsView } from './results';
import { anyRunning, cellKey, type RunView } from './state';
import type { TrainView } from './train';
import type { HistoryView } from './history';
import type { DistillView } from './distill';
import type { ProbesView } from './probes';

/**
 * What the page does with each message from the extension (validated first, in app.ts): one handler
 * per message type, each given its own message.
 */

/** What the handlers act on: the state and the views, and the page's frame around them. */
export interface Page extends Ctx {
  readonly views: Readonly<Record<RunMode, ResultsView>>;
  readonly train: TrainView;
  readonly probes: ProbesView;
  readonly history: HistoryView;
  readonly distill: DistillView;
  readonly controls: RunControls;
  selectTab(t: Tab, user?: boolean): void;
  /** Moves keyboard focus to a tab's panel (the extension showed it). */
  focusTab(t: Tab): void;
  notice(level: 'info' | 'warn' | 'error', message: string): void;
}

type Handler<M> = (m: M, page: Page) => void;
type Handlers = { [T in ToPanel['type']]: Handler<Extract<ToPanel, { type: T }>> };

/** The run a message names, and the view that shows it: none when a newer run of its mode replaced it. */
function runOf(page: Page, runId: string): { run: RunView; view: ResultsView } | undefined {
  for (const mode of RUN_MODES) {
    const run = page.s[mode];
    if (run?.header.runId === runId) return { run, view: page.views[mode] };
  }
  return undefined;
}

/** A handler for a message about a generation run; messages of a run no longer shown are dropped. */
function onRun<M extends { runId: string }>(handle: (m: M, run: RunView, view: ResultsView, page: Page) => void): Handler<M> {
  return (m, page) => {
    const r = runOf(page, m.runId);
    if (r) handle(m, r.run, r.view, page);
  };
}

function onPrompt(page: Page, info: PromptInfo, autorun: 'run' | 'compare' | undefined, caseIndex: number | undefined): void {
  const s = page.s;
  const changed = s.info?.file !== info.file;
  s.info = info;
  s.file = info.file;
  if (changed) {
    s.caseChoice = info.hasTestData ? 0 : 'typed';
    s.typed = {};
    s.overrides = {};
  } else if (typeof s.caseChoice === 'number' && !info.cases.some((c) => c.index === s.caseChoice)) s.caseChoice = 0;
  if (autorun) {
    const set = new Set(info.variants.filter((v) => v.available && (autorun === 'compare' ? v.listed : v.kind === 'base')).map((v) => v.id));
    s.variants.set(info.file, set);
    s.caseChoice = info.hasTestData ? 0 : 'typed';
    s.tab = 'compare';
  }
  // The case a CodeLens or the cursor asked for.
  if (caseIndex !== undefined && info.cases.some((c) => c.index === caseIndex)) s.caseChoice = caseIndex;
  page.save();
  page.render();
  if (autorun && page.controls.readyToRun() === undefined && !anyRunning(s)) page.controls.start('compare');
}

const HANDLERS: Handlers = {
  'panel/init': (m, page) => {
    const s = page.s;
    s.version = m.version;
    s.trusted = m.trusted;
    s.hasWorkspace = m.hasWorkspace;
    s.prompts = m.prompts;
    s.recipes = m.recipes;
    s.initialised = true;
    if (s.file && !s.prompts.some((p) => p.file === s.file)) s.file = undefined;
    if (!s.file && s.prompts[0]) s.file = s.prompts[0].file;
    page.render();
  },
  'panel/prompt': (m, page) => onPrompt(page, m.info, m.autorun, m.caseIndex),
  'panel/show': (m, page) => {
    if (m.run) page.s.selectedRun = m.run;
    page.selectTab(m.tab, true);
    page.focusTab(m.tab);
  },
  'panel/notice': (m, page) => page.notice(m.level, m.message),
  'run/start': (m, page) => {
    page.s[m.header.mode] = { header: m.header, cells: new Map(), variantErrors: new Map() };
    page.views[m.header.mode].render();
    page.controls.update();
  },
  'run/cellStart': onRun((m, run, view) => {
    run.cells.set(cellKey(m.variant, m.caseIndex), { tokens: [], running: true });
    const name = run.header.variants.find((v) => v.id === m.variant)?.name ?? m.variant;
    run.progress = run.header.mode === 'matrix' ? `Generating ${name}, case ${m.caseIndex + 1}…` : `Generating ${name}…`;
    view.progress();
    view.paint(m.variant, m.caseIndex);
  }),
  'run/tokens': onRun((m, run, view) => {
    const k = cellKey(m.variant, m.caseIndex);
    const c = run.cells.get(k) ?? { tokens: [], running: true };
    c.tokens.push(...m.tokens);
    run.cells.set(k, c);
    view.paint(m.variant, m.caseIndex);
  }),
  'run/cell': onRun((m, run, view) => {
    run.cells.set(cellKey(m.variant, m.caseIndex), { tokens: m.cell.tokens, cell: m.cell, running: false });
    view.paint(m.variant, m.caseIndex);
    view.summary?.();
  }),
  'run/variantError': onRun((m, run, view) => {
    run.variantErrors.set(m.variant, m.message);
    for (const c of run.header.cases) view.paint(m.variant, c.index);
  }),
  'run/progress': onRun((m, run, view) => {
    run.progress = m.message;
    view.progress();
  }),
  'run/end': onRun((m, run, view, page) => {
    run.end = { status: m.status, passRates: m.passRates, ...(m.message ? { message: m.message } : {}) };
    for (const c of run.cells.values()) c.running = false;
    view.render();
    if (m.status === 'failed' && m.message) page.notice('error', m.message);
    page.controls.update();
  }),
  // Noticed even when the run is no longer shown: the file was written.
  'snapshot/written': (m, page) => {
    const r = runOf(page, m.runId);
    if (r) {
      r.run.snapshotWritten = m.label;
      r.view.summary?.();
    }
    page.notice('info', `Snapshot written to ${m.label}.`);
  },
  'runs/list': (m, page) => {
    page.s.runs = m.runs;
    page.s.runsFolder = m.runsFolder;
    page.train.renderRuns();
  },
  'runs/events': (m, page) => page.train.events(m.dir, m.reset, m.events),
  'probes/start': (m, page) => {
    page.s.probes = { start: m };
    page.probes.render();
    page.controls.update();
  },
  'probes/progress': (m, page) => {
    const run = page.s.probes;
    if (!run || run.end) return;
    run.progress = m.message;
    const status = page.probes.root.querySelector('#probes-status');
    if (status) status.textContent = m.message;
  },
  'probes/end': (m, page) => {
    const run = page.s.probes;
    if (!run) return;
    run.end = m;
    page.probes.render();
    if (m.status === 'failed' && m.message) page.notice('error', m.message);
    page.controls.update();
  },
  'distill/progress': (m, page) => {
    const d = page.s.distill;
    d.progress = m.message;
    // The first progress of a job: the buttons change (Stop on, the others off); later ones only the line.
    if (d.running === undefined) {
      d.running = 'run';
      d.error = undefined;
      page.distill.render();
      page.controls.update();
    } else page.distill.progress();
  },
  'distill/data': (m, page) => {
    page.s.distill.data = m;
    page.distill.render();
  },
  'distill/report': (m, page) => {
    page.s.distill.report = m;
    page.distill.render();
  },
  'distill/select': (m, page) => {
    page.s.distillRecipe = m.recipe;
    page.save();
    page.selectTab('distill', true);
    page.distill.render();
  },
  'distill/end': (m, page) => {
    const d = page.s.distill;
    d.running = undefined;
    d.progress = undefined;
    d.error = m.status === 'failed' ? m.message : m.status === 'cancelled' ? 'Stopped.' : undefined;
    page.distill.render();
    if (m.status === 'failed' && m.message) page.notice('error', m.message);
    page.controls.update();
  },
  'history/data': (m, page) => {
    page.s.history = m;
    page.history.render();
  },
};

export function receive(page: Page, m: ToPanel): void {
  // The table gives each type its own message; TypeScript cannot tie HANDLERS[m.type] to m's type by itself.
  (HANDLERS[m.type] as Handler<ToPanel>)(m, page);
}
