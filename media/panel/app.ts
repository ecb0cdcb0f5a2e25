import { type FromPanel, RUN_MODES, type Tab, ToPanel } from '../../src/extension/panel/protocol';
import { describeInvalid } from '../../src/extension/webview/invalid';
import { button, el, icon, vscode } from '../dom';
import { CompareView } from './compare';
import { RunControls } from './controls';
import { gettingStarted } from './getting-started';
import { type Page, receive } from './handlers';
import { MatrixView } from './matrix';
import { Notices } from './notices';
import { restore, save } from './saved';
import { anyRunning, newState, type PanelState } from './state';
import { Tabs } from './tabs';
import { TrainView } from './train';
import { HistoryView } from './history';
import { ProbesView } from './probes';
import { DistillView } from './distill';

/**
 * The run / compare / fine-tune panel's page. It renders what the extension sends (each message
 * validated against the panel's protocol first; anything else is dropped), keeps the user's choices,
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

export function mountPanel(app: HTMLElement): void {
  document.body.classList.add('panel');
  const s = newState();
  restore(s);

  const post = (m: FromPanel) => vscode.postMessage(m);
  const ctx: Ctx = { s, post, render: () => renderAll(), save: () => save(s), onSelectionChange: () => controls.update() };
  const controls = new RunControls(ctx);
  const views = { compare: new CompareView(ctx), matrix: new MatrixView(ctx) };
  const train = new TrainView(ctx);
  const probes = new ProbesView(ctx);
  const history = new HistoryView(ctx);
  const distill = new DistillView(ctx);
  const notices = new Notices();
  const tabs = new Tabs((t) => selectTab(t, true));

  const banner = el('div', { class: 'banner', role: 'note', hidden: true });
  const fileSelect = el('select', { id: 'prompt-file', 'aria-label': 'Prompt file' });
  fileSelect.addEventListener('change', () => {
    s.file = fileSelect.value;
    ctx.save();
    post({ type: 'panel/selectPrompt', file: fileSelect.value });
  });
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
  const header = el('header', { class: 'topbar' }, el('h1', {}, icon('beaker'), ' Tuneloop'), tabs.list);
  for (const mode of RUN_MODES) tabs.panels.get(mode)!.append(controls.controls[mode], views[mode].root);
  tabs.panels.get('train')!.append(train.root);
  tabs.panels.get('probes')!.append(probes.root);
  tabs.panels.get('history')!.append(history.root);
  tabs.panels.get('distill')!.append(distill.root);
  const promptArea = el('div', { class: 'prompt-area' }, fileRow, controls.setup);
  app.replaceChildren(header, banner, notices.root, promptArea, ...tabs.panels.values());

  function selectTab(t: Tab, user = false): void {
    s.tab = t;
    tabs.show(t);
    promptArea.hidden = t === 'train' || t === 'distill' || s.prompts.length === 0;
    // The history needs only the file: no model, variants or settings.
    controls.setup.hidden = t === 'history';
    // The history is read when its tab is shown (runs may have been recorded since).
    if (t === 'history') history.load(user);
    if (user) ctx.save();
  }

  function renderBanner(): void {
    banner.hidden = s.trusted;
    banner.replaceChildren(
      icon('warning'),
      ' This workspace is not trusted: Tuneloop reads and checks its files, but runs no model and no training. Trust the workspace to run them. ',
      button('Manage Workspace Trust', { class: 'secondary small', id: 'manage-trust' }, () => post({ type: 'panel/manageTrust' })),
    );
  }

  function renderFileRow(): void {
    fileSelect.replaceChildren(...s.prompts.map((p) => el('option', { value: p.file, selected: p.file === s.file }, p.label)));
  }

  /** Without a folder or a prompt file, the compare tab shows how to start instead of its controls; true then. */
  function renderEmpty(): boolean {
    if (!s.initialised) return false;
    const p = tabs.panels.get('compare')!;
    if (!s.hasWorkspace || s.prompts.length === 0) {
      p.replaceChildren(gettingStarted(s.hasWorkspace));
      return true;
    }
    if (!p.contains(views.compare.root)) p.replaceChildren(controls.controls.compare, views.compare.root);
    return false;
  }

  function renderAll(): void {
    renderBanner();
    renderFileRow();
    if (!renderEmpty()) {
      controls.render();
      for (const mode of RUN_MODES) views[mode].render();
      probes.render();
      history.render();
    }
    train.renderLaunch();
    train.renderRuns();
    distill.render();
    selectTab(s.tab);
    controls.update();
  }

  const page: Page = {
    ...ctx,
    views,
    train,
    probes,
    history,
    distill,
    controls,
    selectTab,
    focusTab: (t) => tabs.panels.get(t)?.focus({ preventScroll: true }),
    notice: (level, message) => notices.add(level, message),
  };

  window.addEventListener('message', (event: MessageEvent<unknown>) => {
    const parsed = ToPanel.safeParse(event.data);
    if (!parsed.success) {
      console.warn(`tuneloop: ignored an invalid message: ${describeInvalid(parsed.error)}`);
      return;
    }
    receive(page, parsed.data);
  });

  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && (s.tab === 'compare' || s.tab === 'matrix')) {
      e.preventDefault();
      controls.start(s.tab);
    } else if (e.key === 'Escape' && anyRunning(s)) post({ type: 'run/stop' });
  });

  selectTab(s.tab);
  for (const mode of RUN_MODES) views[mode].render();
  train.renderLaunch();
  train.renderRuns();
  notices.root.append(el('p', { class: 'muted' }, 'Loading…'));
  setTimeout(() => notices.root.querySelector('p.muted')?.remove(), 0);
  // The extension answers with everything to show: the workspace's files, the prompt it has selected, runs.
  post({ type: 'panel/ready' });
}
