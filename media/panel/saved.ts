import { z } from 'zod';
import { TABS } from '../../src/extension/panel/protocol';
import { vscode } from '../dom';
import type { PanelState } from './state';

/**
 * The user's choices that outlive the page: VS Code keeps this state while the panel is hidden and
 * across window reloads (the extension reads `tab` and `file` from it to reopen the panel where it was).
 */
const Saved = z.object({
  tab: z.enum(TABS).optional(),
  file: z.string().optional(),
  shade: z.boolean().optional(),
  diff: z.boolean().optional(),
  onlyDiffering: z.boolean().optional(),
  onlyRegressions: z.boolean().optional(),
  selectedRun: z.string().optional(),
  recipe: z.string().optional(),
});
type Saved = z.infer<typeof Saved>;

export function restore(s: PanelState): void {
  // Written by an older page, or by hand in VS Code's storage: what does not check is not restored.
  const r = Saved.safeParse(vscode.getState() ?? {});
  const saved: Saved = r.success ? r.data : {};
  if (saved.tab) s.tab = saved.tab;
  s.file = saved.file;
  s.shade = saved.shade ?? s.shade;
  s.diff = saved.diff ?? s.diff;
  s.onlyDiffering = saved.onlyDiffering ?? false;
  s.onlyRegressions = saved.onlyRegressions ?? false;
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
    onlyRegressions: s.onlyRegressions,
    selectedRun: s.selectedRun,
    recipe: s.recipe,
  } satisfies Saved);
}
