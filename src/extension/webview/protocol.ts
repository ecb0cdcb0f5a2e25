import { z } from 'zod';
import { GenerationParamsSchema } from '../../core/prompts/model-parameters';

/**
 * extension ⇄ webview: the Home view and the run / compare / fine-tune panel. Both sides validate
 * what they receive with these schemas (the extension in HomeViewProvider and PanelController, the
 * page in media/); nothing else crosses. The page is bundled for the browser, so this file imports
 * zod and, of core, only the zod-only schema of the generation parameters (no node modules).
 *
 * Files, models, variants and runs are named by the ids the extension sent; the extension looks every
 * id up in what it sent before acting on it, so a page can never name an arbitrary path or command.
 */

/** Commands a webview may ask the extension to run: an allow-list, never an arbitrary id. */
export const WEBVIEW_COMMANDS = ['tuneloop.openPanel', 'tuneloop.describeModel', 'tuneloop.showLog'] as const;

const Id = z.string().min(1).max(4096);
const Label = z.string().max(4096);
/** Output text can be long; a bound keeps a broken side from flooding the other. */
const Text = z.string().max(1_000_000);

/**
 * Generation settings as the panel overrides them (each optional: absent keeps the prompt file's),
 * with the prompt file format's limits: the one schema of core/prompts/model-parameters.ts.
 */
export const GenerationOverrides = GenerationParamsSchema.partial().strict();
export type GenerationOverrides = z.infer<typeof GenerationOverrides>;
/** The number parameters' limits, for the panel's inputs. */
export { numberLimits } from '../../core/prompts/model-parameters';

export const TABS = ['compare', 'matrix', 'train'] as const;
export const Tab = z.enum(TABS);
export type Tab = z.infer<typeof Tab>;

export const FileEntry = z.object({ file: Id, label: Label });
export type FileEntry = z.infer<typeof FileEntry>;

export const VARIANT_KINDS = ['base', 'adapter', 'recipe', 'run', 'checkpoint'] as const;
export const VariantInfo = z.object({
  id: Id,
  /** The column's name: base, an adapter's or recipe's name, a run's name, or run@step-N. */
  name: Label,
  kind: z.enum(VARIANT_KINDS),
  /** Where it comes from, for a tooltip: the adapter folder, the recipe, the run folder. */
  detail: Label,
  available: z.boolean(),
  /** Why it cannot run now (not trained yet, trained on another base model...). */
  reason: Label.optional(),
  /** Listed by the prompt file (base and its adapters): what Compare selects. */
  listed: z.boolean(),
});
export type VariantInfo = z.infer<typeof VariantInfo>;

export const ModelOption = z.object({ id: Id, label: Label, from: z.enum(['prompt', 'setting', 'picked', 'run']) });
export type ModelOption = z.infer<typeof ModelOption>;

export const CaseInfo = z.object({
  index: z.number().int().nonnegative(),
  label: Label,
  /** Each variable's value as text (what the inputs show when the user edits them). */
  values: z.record(z.string(), Text),
});
export type CaseInfo = z.infer<typeof CaseInfo>;

export const PromptInfo = z.object({
  file: Id,
  label: Label,
  name: Label.optional(),
  description: Label.optional(),
  /** Errors that keep the prompt from running (from the same checks as the editor's diagnostics). */
  problems: z.array(Label),
  variables: z.array(Label),
  hasTestData: z.boolean(),
  cases: z.array(CaseInfo),
  /** The prompt file's generation settings (with Tuneloop's defaults filled in). */
  params: GenerationOverrides,
  models: z.array(ModelOption),
  /** The selected model (an id of `models`); absent when none is available. */
  model: Id.optional(),
  /** What to do when no model is available. */
  modelNote: Label.optional(),
  variants: z.array(VariantInfo),
  evaluators: z.array(z.object({ name: Label, kind: Label, local: z.boolean() })),
  /** The prompt file's snapshot file, when it names one. */
  snapshot: z.object({ label: Label, exists: z.boolean() }).optional(),
});
export type PromptInfo = z.infer<typeof PromptInfo>;

export const TokenInfo = z.object({ text: Text, logprob: z.number() });
export type TokenInfo = z.infer<typeof TokenInfo>;

export const CellInfo = z.object({
  text: Text,
  tokens: z.array(TokenInfo),
  evaluations: z.array(z.object({ name: Label, passed: z.boolean().nullable(), detail: Text })),
  passed: z.boolean(),
  timeToFirstTokenMs: z.number().nonnegative(),
  tokensPerSecond: z.number().nonnegative(),
  finish: z.enum(['eos', 'length', 'stop', 'cancelled', 'error']),
  error: Text.optional(),
  /** Compared with the prompt file's snapshot: same, changed, or new (absent when there is no snapshot). */
  snapshot: z.enum(['same', 'changed', 'new']).optional(),
});
export type CellInfo = z.infer<typeof CellInfo>;

export const RUN_MODES = ['compare', 'matrix'] as const;
export const RunHeader = z.object({
  runId: Id,
  mode: z.enum(RUN_MODES),
  file: Id,
  fileLabel: Label,
  modelLabel: Label,
  variants: z.array(z.object({ id: Id, name: Label, kind: z.enum(VARIANT_KINDS), minPassRate: z.number().min(0).max(1) })),
  cases: z.array(z.object({ index: z.number().int().nonnegative(), label: Label })),
  hasSnapshot: z.boolean(),
});
export type RunHeader = z.infer<typeof RunHeader>;

const CellRef = { runId: Id, variant: Id, caseIndex: z.number().int().nonnegative() };

export const RUN_STATES = ['starting', 'running', 'done', 'cancelled', 'failed'] as const;
export const RunRow = z.object({
  dir: Id,
  name: Label,
  recipe: Label.optional(),
  state: z.enum(RUN_STATES),
  lastStep: z.number().int().nonnegative(),
  totalSteps: z.number().int().nonnegative().optional(),
  lastLoss: z.number().optional(),
  /** A checkpoint to resume from exists. */
  resumable: z.boolean(),
});
export type RunRow = z.infer<typeof RunRow>;

/** A run's events.jsonl as the page draws it (the trainer's schema, less what the page does not use). */
export const TrainEvent = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('started'),
    time: z.string(),
    totalSteps: z.number().int(),
    resumedFrom: z.number().int().optional(),
    trainExamples: z.number().int(),
    validationExamples: z.number().int(),
  }),
  z.object({
    type: z.literal('step'),
    time: z.string(),
    step: z.number().int(),
    loss: z.number(),
    lr: z.number(),
    tokensPerSecond: z.number(),
    etaSeconds: z.number(),
  }),
  z.object({ type: z.literal('eval'), time: z.string(), step: z.number().int(), loss: z.number() }),
  z.object({ type: z.literal('checkpoint'), time: z.string(), step: z.number().int() }),
  z.object({ type: z.literal('sample'), time: z.string(), step: z.number().int(), prompt: Text, output: Text }),
  z.object({ type: z.literal('log'), time: z.string(), level: z.enum(['info', 'warn']), message: Text }),
  z.object({ type: z.literal('done'), time: z.string(), step: z.number().int() }),
  z.object({ type: z.literal('cancelled'), time: z.string(), step: z.number().int() }),
  z.object({ type: z.literal('failed'), time: z.string(), message: Text }),
]);
export type TrainEvent = z.infer<typeof TrainEvent>;

export const ToWebview = z.discriminatedUnion('type', [
  // The Home view.
  z.object({
    type: z.literal('state'),
    version: z.string(),
    trusted: z.boolean(),
    hasWorkspace: z.boolean(),
    promptFiles: z.number().int().nonnegative(),
    adapterRecipes: z.number().int().nonnegative(),
  }),
  // The panel: what the workspace holds.
  z.object({
    type: z.literal('panel/init'),
    version: z.string(),
    trusted: z.boolean(),
    hasWorkspace: z.boolean(),
    prompts: z.array(FileEntry),
    recipes: z.array(FileEntry),
  }),
  /** The selected prompt file. `autorun`: the CodeLens asked to run (base only) or compare (base and its adapters). */
  z.object({ type: z.literal('panel/prompt'), info: PromptInfo, autorun: z.enum(['run', 'compare']).optional() }),
  /** Show a tab (and select a prompt file or a run there). */
  z.object({ type: z.literal('panel/show'), tab: Tab, file: Id.optional(), run: Id.optional() }),
  z.object({ type: z.literal('panel/notice'), level: z.enum(['info', 'warn', 'error']), message: Text }),
  // Generation: one run of the compare view or of the matrix, streamed cell by cell.
  z.object({ type: z.literal('run/start'), header: RunHeader }),
  z.object({ type: z.literal('run/cellStart'), ...CellRef }),
  z.object({ type: z.literal('run/tokens'), ...CellRef, tokens: z.array(TokenInfo) }),
  z.object({ type: z.literal('run/cell'), ...CellRef, cell: CellInfo }),
  z.object({ type: z.literal('run/variantError'), runId: Id, variant: Id, message: Text }),
  z.object({ type: z.literal('run/progress'), runId: Id, message: Text }),
  z.object({
    type: z.literal('run/end'),
    runId: Id,
    status: z.enum(['done', 'cancelled', 'failed']),
    message: Text.optional(),
    passRates: z.record(z.string(), z.number().min(0).max(1)),
  }),
  z.object({ type: z.literal('snapshot/written'), runId: Id, label: Label }),
  // Fine-tuning runs, read from their folders.
  z.object({ type: z.literal('runs/list'), runs: z.array(RunRow), runsFolder: Label.optional() }),
  /** Events of the run the page shows: all of them (`reset`) or those appended since the last message. */
  z.object({ type: z.literal('runs/events'), dir: Id, reset: z.boolean(), events: z.array(TrainEvent) }),
]);
export type ToWebview = z.infer<typeof ToWebview>;

export const RunRequest = z.object({
  type: z.literal('run/start'),
  mode: z.enum(RUN_MODES),
  file: Id,
  model: Id,
  variants: z.array(Id).min(1).max(64),
  /** Test cases by index; absent with `values`. */
  cases: z.array(z.number().int().nonnegative()).max(10_000).optional(),
  /** Typed variable values: one case made of these (compare only). */
  values: z.record(z.string().max(200), Text).optional(),
  params: GenerationOverrides,
});
export type RunRequest = z.infer<typeof RunRequest>;

export const FromWebview = z.discriminatedUnion('type', [
  // The Home view.
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('runCommand'), command: z.enum(WEBVIEW_COMMANDS) }),
  // The panel.
  z.object({ type: z.literal('panel/ready') }),
  z.object({ type: z.literal('panel/selectPrompt'), file: Id }),
  z.object({ type: z.literal('panel/selectModel'), file: Id, model: Id }),
  /** Ask for a folder dialog to add a model. */
  z.object({ type: z.literal('panel/pickModel'), file: Id }),
  z.object({ type: z.literal('panel/openFile'), file: Id }),
  RunRequest,
  z.object({ type: z.literal('run/stop') }),
  z.object({
    type: z.literal('run/openDiff'),
    runId: Id,
    left: z.object({ variant: Id, caseIndex: z.number().int().nonnegative() }),
    right: z.object({ variant: Id, caseIndex: z.number().int().nonnegative() }),
  }),
  z.object({ type: z.literal('snapshot/accept'), runId: Id }),
  z.object({ type: z.literal('train/start'), recipe: Id }),
  z.object({ type: z.literal('train/select'), dir: Id }),
  z.object({ type: z.literal('train/cancel'), dir: Id }),
  z.object({ type: z.literal('train/resume'), dir: Id }),
  z.object({ type: z.literal('train/reveal'), dir: Id }),
]);
export type FromWebview = z.infer<typeof FromWebview>;

/** A readable line for a message that failed validation (logs and console). */
export function describeInvalid(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`)
    .join('; ');
}
