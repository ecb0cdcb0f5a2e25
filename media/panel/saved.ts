import { type Tab, TABS } from '../../src/extension/panel/protocol';
import { vscode } from '../dom';
import type { PanelState } from './state';

/**
 * The user's choices that outlive the page: VS Code keeps this state while the panel is hidden and
 * across window reloads (the extension reads `tab` and `file` from it to reopen the panel where it was).
 */
interface Saved {
  tab?: Tab | undefined;
  file?: string | undefined;
  shade?: boolean | undefined;
  diff?: boolean | undefined;
  onlyDiffering?: boolean | undefined;
  selectedRun?: string | undefined;
  recipe?: string | undefined;
}

export function restore(s: PanelState): void {
  const saved = (vscode.getState() ?? {}) as Saved;
  if (saved.tab && (TABS as readonly string[]).includes(saved.tab)) s.tab = saved.tab;
  s.file = saved.file;
  s.shade = saved.shade ?? s.shade;
  s.diff = saved.diff ?? s.diff;
  s.onlyDiffering = saved.onlyDiffering ?? false;
  s.selectedRun = saved.selectedRun;
  s.recipe = saved.recipe;
}

export function save(s: PanelState): void {
  vscode.setState({
    tab: s.tab,
    file: s.file,
    shade: s.shade,
    diff: s.diff,
    onlyDiffering: s.onlyDiffering,
    selectedRun: s.selectedRun,
    recipe: s.recipe,
  } satisfies Saved);
}
