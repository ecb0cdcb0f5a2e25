import { type FromPanel, type PromptInfo, type Tab, TABS, ToPanel } from '../../src/extension/panel/protocol';
import { describeInvalid } from '../../src/extension/webview/invalid';
import { button, el, icon, vscode } from '../dom';
import { CompareView, renderCaseChoice } from './compare';
import { MatrixView } from './matrix';
import { renderModel, renderParams, renderVariants } from './setup';
import { cellKey, isRunning, newState, type PanelState, type RunView, selectedVariants } from './state';
import { TrainView } from './train';

/**
 * The run / compare / fine-tune panel's page. It renders what the extension sends (each message
 * validated against the shared protocol first; anything else is dropped), keeps the user's choices,
 * and asks the extension for everything else. No innerHTML, no inline styles, no eval: the page runs
 * under a CSP that allows only its own nonce'd script.
 */
export interface Ctx {
  readonly s: PanelState;
  post(m: FromPanel): void;
  /** Everything again (a new prompt, a new init). */
  render(): void;
  /** Persist the user's choices (VS Code keeps them while the panel is hidden and across reloads). */
  save(): void;
  onSelectionChange(): void;
}

const TAB_LABELS: Record<Tab, string> = { compare: 'Run & compare', matrix: 'Matrix', train: 'Fine-tune' };

interface Saved {
  tab?: Tab | undefined;
  file?: string | undefined;
  shade?: boolean | undefined;
  diff?: boolean | undefined;
  onlyDiffering?: boolean | undefined;
  selectedRun?: string | undefined;
  recipe?: string | undefined;
}

export function mountPanel(app: HTMLElement): void {
  document.body.classList.add('panel');
  const s = newState();
  const saved = (vscode.getState() ?? {}) as Saved;
  if (saved.tab && (TABS as readonly string[]).includes(saved.tab)) s.tab = saved.tab;
  s.file = saved.file;
  s.shade = saved.shade ?? s.shade;
  s.diff = saved.diff ?? s.diff;
  s.onlyDiffering = saved.onlyDiffering ?? false;
  s.selectedRun = saved.selectedRun;
  s.recipe = saved.recipe;

  const post = (m: FromPanel) => vscode.postMessage(m);
  const ctx: Ctx = {
    s,
    post,
    render: () => renderAll(),
    save: () =>
      vscode.setState({
        tab: s.tab,
        file: s.file,
        shade: s.shade,
        diff: s.diff,
        onlyDiffering: s.onlyDiffering,
        selectedRun: s.selectedRun,
        recipe: s.recipe,
      } satisfies Saved),
    onSelectionChange: () => updateButtons(),
  };

  const compare = new CompareView(ctx);
  const matrix = new MatrixView(ctx);
  const train = new TrainView(ctx);

  const notices = el('div', { class: 'notices', role: 'status', 'aria-live': 'polite' });
  const banner = el('div', { class: 'banner', role: 'note', hidden: true });
  const fileSelect = el('select', { id: 'prompt-file', 'aria-label': 'Prompt file' });
  fileSelect.addEventListener('change', () => {
    s.file = fileSelect.value;
    ctx.save();
    post({ type: 'panel/selectPrompt', file: fileSelect.value });
  });
  const tabButtons = new Map<Tab, HTMLButtonElement>();
  const tablist = el('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Panel sections' });
  for (const t of TABS) {
    const b = el('button', { type: 'button', role: 'tab', id: `tab-${t}`, 'aria-controls': `tabpanel-${t}` }, TAB_LABELS[t]);
    b.addEventListener('click', () => selectTab(t, true));
    b.addEventListener('keydown', (e) => {
      const i = TABS.indexOf(t);
      const next =
        e.key === 'ArrowRight'
          ? TABS[(i + 1) % TABS.length]
          : e.key === 'ArrowLeft'
            ? TABS[(i + TABS.length - 1) % TABS.length]
            : e.key === 'Home'
              ? TABS[0]
              : e.key === 'End'
                ? TABS[TABS.length - 1]
                : undefined;
      if (next) {
        e.preventDefault();
        selectTab(next, true);
        tabButtons.get(next)?.focus();
      }
    });
    tabButtons.set(t, b);
    tablist.append(b);
  }
  const fileRow = el(
    'div',
    { class: 'file-row' },
    el('label', { for: 'prompt-file' }, 'Prompt file'),
    fileSelect,
    button(
      [icon('file'), ' Open'],
      { class: 'secondary', title: 'Open the prompt file in the editor' },
      () => s.file && post({ type: 'panel/openFile', file: s.file }),
    ),
  );
  const header = el('header', { class: 'topbar' }, el('h1', {}, icon('beaker'), ' Tuneloop'), tablist);

  const panels = new Map<Tab, HTMLElement>(
    TABS.map((t) => [t, el('section', { role: 'tabpanel', id: `tabpanel-${t}`, 'aria-labelledby': `tab-${t}`, tabindex: '-1' })]),
  );
  const setupArea = el('div', { class: 'setup' });
  const compareControls = el('div', { class: 'controls' });
  const matrixControls = el('div', { class: 'controls' });
  const runButton = button([icon('play'), ' Run'], { class: 'primary', id: 'run', title: 'Run the selected variants (Ctrl+Enter)' }, () => startRun('compare'));
  const matrixButton = button(
    [icon('play'), ' Run matrix'],
    { class: 'primary', id: 'run-matrix', title: 'Every test case on the selected variants (Ctrl+Enter)' },
    () => startRun('matrix'),
  );
  const stopButtons = [0, 1].map(() =>
    button([icon('stop'), ' Stop'], { class: 'secondary stop', title: 'Stop every running column (Escape)' }, () => post({ type: 'run/stop' })),
  );
  const runHint = el('span', { class: 'muted small run-hint' });
  const matrixHint = el('span', { class: 'muted small run-hint' });

  panels.get('compare')!.append(compareControls, compare.root);
  panels.get('matrix')!.append(matrixControls, matrix.root);
  panels.get('train')!.append(train.root);
  const promptArea = el('div', { class: 'prompt-area' }, fileRow, setupArea);
  app.replaceChildren(header, banner, notices, promptArea, ...panels.values());

  function selectTab(t: Tab, user = false): void {
    s.tab = t;
    for (const [k, b] of tabButtons) {
      b.setAttribute('aria-selected', String(k === t));
      b.tabIndex = k === t ? 0 : -1;
    }
    for (const [k, p] of panels) p.hidden = k !== t;
    promptArea.hidden = t === 'train' || s.prompts.length === 0;
    if (user) ctx.save();
  }

  function notice(level: 'info' | 'warn' | 'error', message: string): void {
    const n = el('div', { class: `notice ${level}` }, level === 'error' ? icon('warning') : '', ' ', message, ' ');
    n.append(button(icon('close'), { class: 'icon-button', 'aria-label': 'Dismiss' }, () => n.remove()));
    notices.append(n);
    while (notices.children.length > 3) notices.firstElementChild?.remove();
    if (level === 'info') setTimeout(() => n.remove(), 6000);
  }

  function readyToRun(): string | undefined {
    const info = s.info;
    if (!s.trusted) return 'Trust the workspace to run models.';
    if (!info) return 'Pick a prompt file.';
    if (info.problems.length) return `Fix the prompt file first: ${info.problems[0]}`;
    if (!info.model) return 'Pick a model first.';
    if (selectedVariants(s).size === 0) return 'Select at least one variant.';
    return undefined;
  }

  function updateButtons(): void {
    const why = readyToRun();
    const running = isRunning(s.compare) || isRunning(s.matrix);
    for (const b of [runButton, matrixButton]) {
      b.disabled = why !== undefined || running;
      b.title =
        why ??
        (running ? 'A run is going' : b === runButton ? 'Run the selected variants (Ctrl+Enter)' : 'Every test case on the selected variants (Ctrl+Enter)');
    }
    for (const b of stopButtons) b.disabled = !running;
    runHint.textContent = why ?? '';
    matrixHint.textContent = why ?? '';
  }

  function startRun(mode: 'compare' | 'matrix'): void {
    const info = s.info;
    if (readyToRun() !== undefined || !info || !info.model) return updateButtons();
    const order = info.variants.map((v) => v.id).filter((id) => selectedVariants(s).has(id));
    const base =
      mode === 'compare' && s.caseChoice === 'typed'
        ? { values: { ...s.typed } }
        : mode === 'compare'
          ? { cases: [typeof s.caseChoice === 'number' ? s.caseChoice : 0] }
          : {};
    post({
      type: 'run/start',
      mode,
      file: info.file,
      model: info.model,
      variants: order,
      params: s.overrides,
      ...(info.hasTestData || mode === 'compare' ? base : {}),
    });
  }

  function renderBanner(): void {
    banner.hidden = s.trusted;
    banner.replaceChildren(
      icon('warning'),
      ' This workspace is not trusted: Tuneloop reads and checks its files, but runs no model and no training. Trust the workspace to run them.',
    );
  }

  function renderFileRow(): void {
    fileSelect.replaceChildren(...s.prompts.map((p) => el('option', { value: p.file, selected: p.file === s.file }, p.label)));
  }

  function renderSetup(): void {
    const info = s.info;
    if (!info) {
      setupArea.replaceChildren();
      compareControls.replaceChildren();
      matrixControls.replaceChildren();
      return;
    }
    const problems = info.problems.length
      ? el(
          'div',
          { class: 'notice error' },
          icon('warning'),
          ` ${info.label} has problems: `,
          el('ul', {}, ...info.problems.slice(0, 5).map((p) => el('li', {}, p))),
        )
      : null;
    setupArea.replaceChildren(
      ...([problems, info.description ? el('p', { class: 'muted' }, info.description) : null] as (HTMLElement | null)[]).filter(
        (x): x is HTMLElement => x !== null,
      ),
      el('div', { class: 'setup-grid' }, renderModel(ctx), renderVariants(ctx)),
      renderParams(ctx),
    );
    compareControls.replaceChildren(
      el('div', { class: 'controls-row' }, renderCaseChoice(ctx), el('div', { class: 'buttons' }, runButton, stopButtons[0]!, runHint)),
    );
    const snapshotNote = info.snapshot
      ? `Snapshot: ${info.snapshot.label}${info.snapshot.exists ? '' : ' (not written yet)'}`
      : 'No snapshot file named in the prompt file.';
    matrixControls.replaceChildren(
      el(
        'div',
        { class: 'controls-row' },
        el(
          'p',
          { class: 'muted' },
          `${Math.max(1, info.cases.length)} test case(s) × the selected variants · ${info.evaluators.length} evaluator(s) · ${snapshotNote}`,
        ),
        el('div', { class: 'buttons' }, matrixButton, stopButtons[1]!, matrixHint),
      ),
    );
    updateButtons();
  }

  function renderEmpty(): boolean {
    if (!s.initialised) return false;
    if (!s.hasWorkspace || s.prompts.length === 0) {
      const p = panels.get('compare')!;
      const steps = el(
        'div',
        { class: 'empty getting-started' },
        el('h2', {}, s.hasWorkspace ? 'No prompt file in this workspace yet' : 'Open a folder to start'),
        el(
          'p',
          {},
          'Tuneloop runs prompt files on a local model, compares base and fine-tuned adapters side by side, and fine-tunes LoRA adapters in a background process.',
        ),
        el(
          'ol',
          {},
          el('li', {}, 'Create ', el('code', {}, 'NAME.prompt.yml'), ' with messages, ', el('code', {}, '{{variables}}'), ' and test data:'),
          el(
            'pre',
            { class: 'snippet' },
            'name: Summarize\nmodel: ./models/my-model\nmessages:\n  - role: user\n    content: "Summarize: {{text}}"\ntestData:\n  - text: The quick brown fox…\nevaluators:\n  - name: short\n    maxLength: 200',
          ),
          el('li', {}, 'Click ', el('strong', {}, 'Run'), ' or ', el('strong', {}, 'Compare'), ' above its first line (the CodeLens), or come back here.'),
          el('li', {}, 'Write ', el('code', {}, 'NAME.adapter.yml'), ' to fine-tune an adapter, then compare it with the base model.'),
        ),
      );
      p.replaceChildren(steps);
      return true;
    }
    const p = panels.get('compare')!;
    if (!p.contains(compare.root)) p.replaceChildren(compareControls, compare.root);
    return false;
  }

  function renderAll(): void {
    renderBanner();
    renderFileRow();
    if (!renderEmpty()) {
      renderSetup();
      compare.render();
      matrix.render();
    }
    train.renderLaunch();
    train.renderRuns();
    selectTab(s.tab);
    updateButtons();
  }

  function onPrompt(info: PromptInfo, autorun: 'run' | 'compare' | undefined): void {
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
    ctx.save();
    renderAll();
    if (autorun && readyToRun() === undefined && !isRunning(s.compare) && !isRunning(s.matrix)) startRun('compare');
  }

  function runOf(runId: string): { run: RunView; view: CompareView | MatrixView } | undefined {
    if (s.compare?.header.runId === runId) return { run: s.compare, view: compare };
    if (s.matrix?.header.runId === runId) return { run: s.matrix, view: matrix };
    return undefined;
  }

  function paint(view: CompareView | MatrixView, variant: string, caseIndex: number): void {
    if (view instanceof CompareView) view.update(variant);
    else view.paint(variant, caseIndex);
  }

  function receive(m: ToPanel): void {
    switch (m.type) {
      case 'panel/init':
        s.version = m.version;
        s.trusted = m.trusted;
        s.hasWorkspace = m.hasWorkspace;
        s.prompts = m.prompts;
        s.recipes = m.recipes;
        s.initialised = true;
        if (s.file && !s.prompts.some((p) => p.file === s.file)) s.file = undefined;
        if (!s.file && s.prompts[0]) s.file = s.prompts[0].file;
        renderAll();
        return;
      case 'panel/prompt':
        return onPrompt(m.info, m.autorun);
      case 'panel/show':
        if (m.run) s.selectedRun = m.run;
        selectTab(m.tab, true);
        panels.get(m.tab)?.focus({ preventScroll: true });
        return;
      case 'panel/notice':
        return notice(m.level, m.message);
      case 'run/start': {
        const run: RunView = { header: m.header, cells: new Map(), variantErrors: new Map() };
        if (m.header.mode === 'compare') s.compare = run;
        else s.matrix = run;
        (m.header.mode === 'compare' ? compare : matrix).render();
        updateButtons();
        return;
      }
      case 'run/cellStart': {
        const r = runOf(m.runId);
        if (!r) return;
        r.run.cells.set(cellKey(m.variant, m.caseIndex), { tokens: [], running: true });
        const name = r.run.header.variants.find((v) => v.id === m.variant)?.name ?? m.variant;
        r.run.progress = r.run.header.mode === 'matrix' ? `Generating ${name}, case ${m.caseIndex + 1}…` : `Generating ${name}…`;
        if (r.view instanceof CompareView) r.view.progress();
        else r.view.summary();
        return paint(r.view, m.variant, m.caseIndex);
      }
      case 'run/tokens': {
        const r = runOf(m.runId);
        if (!r) return;
        const k = cellKey(m.variant, m.caseIndex);
        const c = r.run.cells.get(k) ?? { tokens: [], running: true };
        c.tokens.push(...m.tokens);
        r.run.cells.set(k, c);
        return paint(r.view, m.variant, m.caseIndex);
      }
      case 'run/cell': {
        const r = runOf(m.runId);
        if (!r) return;
        r.run.cells.set(cellKey(m.variant, m.caseIndex), { tokens: m.cell.tokens, cell: m.cell, running: false });
        paint(r.view, m.variant, m.caseIndex);
        if (r.view instanceof MatrixView) r.view.summary();
        return;
      }
      case 'run/variantError': {
        const r = runOf(m.runId);
        if (!r) return;
        r.run.variantErrors.set(m.variant, m.message);
        for (const c of r.run.header.cases) paint(r.view, m.variant, c.index);
        return;
      }
      case 'run/progress': {
        const r = runOf(m.runId);
        if (!r) return;
        r.run.progress = m.message;
        if (r.view instanceof CompareView) r.view.progress();
        else r.view.summary();
        return;
      }
      case 'run/end': {
        const r = runOf(m.runId);
        if (!r) return;
        r.run.end = { status: m.status, passRates: m.passRates, ...(m.message ? { message: m.message } : {}) };
        for (const c of r.run.cells.values()) c.running = false;
        r.view.render();
        if (m.status === 'failed' && m.message) notice('error', m.message);
        updateButtons();
        return;
      }
      case 'snapshot/written': {
        const r = runOf(m.runId);
        if (r) {
          r.run.snapshotWritten = m.label;
          if (r.view instanceof MatrixView) r.view.summary();
        }
        notice('info', `Snapshot written to ${m.label}.`);
        return;
      }
      case 'runs/list':
        s.runs = m.runs;
        s.runsFolder = m.runsFolder;
        train.renderRuns();
        return;
      case 'runs/events':
        train.events(m.dir, m.reset, m.events);
        return;
    }
  }

  window.addEventListener('message', (event: MessageEvent<unknown>) => {
    const parsed = ToPanel.safeParse(event.data);
    if (!parsed.success) {
      console.warn(`tuneloop: ignored an invalid message: ${describeInvalid(parsed.error)}`);
      return;
    }
    receive(parsed.data);
  });

  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && (s.tab === 'compare' || s.tab === 'matrix')) {
      e.preventDefault();
      startRun(s.tab);
    } else if (e.key === 'Escape' && (isRunning(s.compare) || isRunning(s.matrix))) post({ type: 'run/stop' });
  });

  selectTab(s.tab);
  compare.render();
  matrix.render();
  train.renderLaunch();
  train.renderRuns();
  notices.append(el('p', { class: 'muted' }, 'Loading…'));
  setTimeout(() => notices.querySelector('p.muted')?.remove(), 0);
  // The extension answers with everything to show: the workspace's files, the prompt it has selected, runs.
  post({ type: 'panel/ready' });
}
