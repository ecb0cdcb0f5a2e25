import type { DistillState } from './distill';
import {
  type CellInfo,
  type FileEntry,
  type GenerationOverrides,
  type PromptInfo,
  RUN_MODES,
  type RunHeader,
  type RunRow,
  type Tab,
  type TokenInfo,
  type TrainEvent,
  type ToPanel,
} from '../../src/extension/panel/protocol';

/** The Probes tab's run: what the extension said at its start, its progress, and its end with the report. */
export interface ProbesRunView {
  readonly start: Extract<ToPanel, { type: 'probes/start' }>;
  progress?: string;
  end?: Extract<ToPanel, { type: 'probes/end' }>;
}

/** What the page knows: sent by the extension (validated), plus the user's choices. */
export interface CellView {
  tokens: TokenInfo[];
  cell?: CellInfo;
  running: boolean;
}

export interface RunView {
  readonly header: RunHeader;
  readonly cells: Map<string, CellView>;
  readonly variantErrors: Map<string, string>;
  progress?: string;
  end?: { status: 'done' | 'cancelled' | 'failed'; message?: string; passRates: Record<string, number> };
  snapshotWritten?: string;
}

export interface PanelState {
  version: string;
  trusted: boolean;
  hasWorkspace: boolean;
  prompts: FileEntry[];
  recipes: FileEntry[];
  initialised: boolean;
  tab: Tab;
  file: string | undefined;
  info: PromptInfo | undefined;
  /** The test case: an index, or the values typed in. */
  caseChoice: number | 'typed';
  typed: Record<string, string>;
  /** Selected variant ids, per prompt file. */
  variants: Map<string, Set<string>>;
  overrides: GenerationOverrides;
  shade: boolean;
  diff: boolean;
  onlyDiffering: boolean;
  /** The matrix shows only rows where an adapter regresses a case the base passed. */
  onlyRegressions: boolean;
  /** The matrix's rows by this variant's confidence, least sure first; undefined: file order. */
  sortByConfidence: string | undefined;
  compare: RunView | undefined;
  matrix: RunView | undefined;
  runs: RunRow[];
  runsFolder: string | undefined;
  selectedRun: string | undefined;
  trainEvents: TrainEvent[];
  recipe: string | undefined;
  probes: ProbesRunView | undefined;
  /** The selected prompt file's recorded history (History tab). */
  history: Extract<ToPanel, { type: 'history/data' }> | undefined;
  /** The Distill tab: its recipe, and its last job's messages. */
  distillRecipe: string | undefined;
  distill: DistillState;
}

export function newState(): PanelState {
  return {
    version: '',
    trusted: true,
    hasWorkspace: true,
    prompts: [],
    recipes: [],
    initialised: false,
    tab: 'compare',
    file: undefined,
    info: undefined,
    caseChoice: 0,
    typed: {},
    variants: new Map(),
    overrides: {},
    shade: false,
    diff: true,
    onlyDiffering: false,
    onlyRegressions: false,
    sortByConfidence: undefined,
    compare: undefined,
    matrix: undefined,
    runs: [],
    runsFolder: undefined,
    selectedRun: undefined,
    trainEvents: [],
    recipe: undefined,
    probes: undefined,
    history: undefined,
    distillRecipe: undefined,
    distill: {},
  };
}

export const cellKey = (variant: string, caseIndex: number) => `${variant}\n${caseIndex}`;

/** A cell with a result: one that did not fail. */
export type ResultCell = CellInfo & { readonly finish: Exclude<CellInfo['finish'], 'error'> };

/** A run's cells that have a result, by variant id and case index: what the scores and the matrix's figures read. */
export function resultCells(run: RunView): Record<string, Record<number, ResultCell>> {
  const results: Record<string, Record<number, ResultCell>> = {};
  for (const v of run.header.variants) {
    const cells: Record<number, ResultCell> = {};
    for (const c of run.header.cases) {
      const cell = run.cells.get(cellKey(v.id, c.index))?.cell;
      if (cell && cell.finish !== 'error') cells[c.index] = cell as ResultCell;
    }
    results[v.id] = cells;
  }
  return results;
}

/** The text of a cell so far: the final text once done (stop strings cut), else the tokens streamed. */
export function cellText(c: CellView | undefined): string {
  if (!c) return '';
  return c.cell ? c.cell.text : c.tokens.map((t) => t.text).join('');
}

export function isRunning(run: RunView | undefined): boolean {
  return run !== undefined && run.end === undefined;
}

/** Whether a run of either mode is going (one at a time: the extension refuses a second). */
export function anyRunning(s: PanelState): boolean {
  return RUN_MODES.some((mode) => isRunning(s[mode])) || (s.probes !== undefined && s.probes.end === undefined) || s.distill.running !== undefined;
}

/** The selected variants of the current prompt file (base and the file's adapters unless the user chose). */
export function selectedVariants(s: PanelState): Set<string> {
  const info = s.info;
  if (!info) return new Set();
  let set = s.variants.get(info.file);
  if (!set) {
    set = new Set(info.variants.filter((v) => v.available && v.listed).map((v) => v.id));
    s.variants.set(info.file, set);
  }
  for (const id of [...set]) if (!info.variants.some((v) => v.id === id && v.available)) set.delete(id);
  return set;
}
