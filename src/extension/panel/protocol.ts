import { z } from 'zod';
import { GenerationParamsSchema } from '../../core/infer/parameters';
import { RunEvent } from '../../core/train/run-event';
import { EXPORT_DTYPES } from '../../core/dtypes';
import { ProbesReportSchema } from '../../core/probes/schema';
import { TASKS } from '../../core/prompts/types';

/**
 * extension ⇄ the run / compare / fine-tune panel. Both sides validate what they receive with these
 * schemas (the extension in PanelController, the page in media/panel/); nothing else crosses. The page
 * is bundled for the browser, so this file imports zod and schemas made of zod only (no node modules).
 * The Home view has its own protocol (src/extension/webview/home-protocol.ts).
 *
 * Files, models, variants and runs are named by the ids the extension sent; the extension looks every
 * id up in what it sent before acting on it, so a page can never name an arbitrary path or command.
 */

const Id = z.string().min(1).max(4096);
const Label = z.string().max(4096);
/** Output text can be long; a bound keeps a broken side from flooding the other. */
const Text = z.string().max(1_000_000);

/**
 * Generation settings as the panel overrides them (each optional: absent keeps the prompt file's),
 * with the prompt file format's limits: the one schema of core/infer/parameters.ts.
 */
export const GenerationOverrides = GenerationParamsSchema.partial().strict();
export type GenerationOverrides = z.infer<typeof GenerationOverrides>;
/** The number parameters' limits, for the panel's inputs. */
export { numberLimits } from '../../core/infer/parameters';

export const TABS = ['compare', 'matrix', 'probes', 'history', 'train', 'distill'] as const;
export const Tab = z.enum(TABS);
export type Tab = z.infer<typeof Tab>;

/** A prompt file or recipe the panel offers; `distill`: a recipe with teacher: (the Distill tab's). */
export const FileEntry = z.object({ file: Id, label: Label, distill: z.boolean().optional() });
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
  /** Its probes (what the Probes tab runs): each name, what it swaps, and its columns. */
  probes: z.array(z.object({ name: Label, swaps: Label, labels: z.array(Label) })),
});
export type PromptInfo = z.infer<typeof PromptInfo>;

/**
 * A token as the page shows it: its text and log-probability, and the most likely tokens at its
 * step (where base and tuned part ways, the page shows both models' alternatives). `id` tells
 * where two outputs' tokens first differ.
 */
export const TokenInfo = z.object({
  text: Text,
  logprob: z.number(),
  id: z.number().int().optional(),
  top: z
    .array(z.object({ id: z.number().int().optional(), text: Label, logprob: z.number() }))
    .max(20)
    .optional(),
});
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

/** The weights' dtype a run's models ran in (core/export/dtypes.ts), and where it was chosen. */
export const Dtype = z.enum(EXPORT_DTYPES);
/** Where a dtype was chosen (core/compare/variants.ts chooseDtype); the panel has no command line, so never `option`. */
export const DTYPE_SOURCES = ['option', 'prompt', 'setting', 'default'] as const;

export const RUN_MODES = ['compare', 'matrix'] as const;
export type RunMode = (typeof RUN_MODES)[number];
export const RunHeader = z.object({
  runId: Id,
  mode: z.enum(RUN_MODES),
  file: Id,
  fileLabel: Label,
  modelLabel: Label,
  /** Each variant with the dtype its model runs in (the page tags the column and the matrix header with it). */
  variants: z.array(z.object({ id: Id, name: Label, kind: z.enum(VARIANT_KINDS), minPassRate: z.number().min(0).max(1), dtype: Dtype })),
  /** Where the dtype was chosen: the prompt file's `dtype`, the tuneloop.dtype setting, or the default (fp32). */
  dtypeFrom: z.enum(DTYPE_SOURCES),
  /** The cases run; `expected` is the case's value of that name, shown beside each output. */
  cases: z.array(z.object({ index: z.number().int().nonnegative(), label: Label, expected: Text.optional() })),
  hasSnapshot: z.boolean(),
  /** The prompt's `task` (classification turns label metrics on; they also turn on when `expected` looks like labels). */
  task: z.enum(TASKS).optional(),
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

/** One of the trainer's event schemas, by its type. */
type TrainerEvent<T extends RunEvent['type']> = Extract<(typeof RunEvent.options)[number], { shape: { type: z.ZodLiteral<T> } }>;
const trainer = <T extends RunEvent['type']>(type: T) => RunEvent.options.find((o) => o.shape.type.value === type) as TrainerEvent<T>;

/**
 * A run's events.jsonl as the page draws it: the trainer's schema (core/train/run-event.ts), less what
 * the page does not use (no paths, no pid, no stack traces), with its texts bounded.
 */
export const TrainEvent = z.discriminatedUnion('type', [
  trainer('started').omit({ pid: true }),
  trainer('step').omit({ gradNorm: true }),
  trainer('eval'),
  trainer('checkpoint').omit({ path: true }),
  trainer('sample').extend({
    prompt: Text,
    output: Text,
    messages: z
      .array(z.object({ role: Text, content: Text }))
      .max(64)
      .optional(),
  }),
  trainer('log').extend({ message: Text }),
  trainer('done').omit({ result: true }),
  trainer('cancelled').omit({ checkpoint: true }),
  trainer('failed').omit({ stderr: true, reason: true, step: true }).extend({ message: Text }),
]);
export type TrainEvent = z.infer<typeof TrainEvent>;

/** One recorded run of a prompt file, as the History tab plots it. */
export const HistoryPoint = z.object({
  /** eval: pass rates (tuneloop eval --record); probe: probe flips (tuneloop probe --record). */
  kind: z.enum(['eval', 'probe']),
  date: Label,
  commit: Label.nullable(),
  dirty: z.boolean().nullable(),
  variants: z.array(
    z.object({
      name: Label,
      passRate: z.number().min(0).max(1).nullable(),
      regressionCount: z.number().int().nonnegative().nullable(),
      accuracy: z.number().min(0).max(1).nullable(),
      ece: z.number().min(0).max(1).nullable(),
      probeFlips: z.number().int().nonnegative().nullable(),
    }),
  ),
  failures: z.number().int().nonnegative(),
});
export type HistoryPoint = z.infer<typeof HistoryPoint>;

const DistillSide = z.object({
  name: Label,
  passRate: z.number().min(0).max(1),
  passed: z.number().int().nonnegative(),
  cases: z.number().int().nonnegative(),
  meanPromptTokens: z.number().nonnegative(),
  meanSeconds: z.number().nonnegative(),
  agreement: z.object({ exact: z.number(), passedWhereTeacherPassed: z.number(), teacherPassed: z.number().int() }).optional(),
  outputs: z.array(Text).max(10_000),
  casePassed: z.array(z.boolean()).max(10_000),
});

export const ToPanel = z.discriminatedUnion('type', [
  // What the workspace holds.
  z.object({
    type: z.literal('panel/init'),
    version: z.string(),
    trusted: z.boolean(),
    hasWorkspace: z.boolean(),
    prompts: z.array(FileEntry),
    recipes: z.array(FileEntry),
  }),
  /** The selected prompt file. `autorun`: the CodeLens asked to run (base only) or compare (base and its adapters). */
  z.object({
    type: z.literal('panel/prompt'),
    info: PromptInfo,
    autorun: z.enum(['run', 'compare']).optional(),
    /** Select this test case (a CodeLens on it, or the cursor in it). */
    caseIndex: z.number().int().nonnegative().optional(),
  }),
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
  // Probes: one run at a time, its progress, then its report (core/probes/report.ts).
  z.object({ type: z.literal('probes/start'), file: Id, fileLabel: Label, modelLabel: Label, variants: z.array(z.object({ id: Id, name: Label })) }),
  z.object({ type: z.literal('probes/progress'), message: Text }),
  z.object({
    type: z.literal('probes/end'),
    status: z.enum(['done', 'cancelled', 'failed']),
    message: Text.optional(),
    report: ProbesReportSchema.optional(),
    /** Each variant's limit (maxProbeFlips), by name; absent: no limit. */
    limits: z.record(z.string(), z.number().int().nonnegative()).optional(),
  }),
  /** The prompt file's history (tuneloop eval --record): one point per recorded run, oldest first. */
  z.object({
    type: z.literal('history/data'),
    file: Id,
    historyLabel: Label,
    points: z.array(HistoryPoint).max(100_000),
    /** Lines that could not be read (each named in the log). */
    unreadable: z.number().int().nonnegative(),
  }),
  // Distillation (the Distill tab): the data stage's progress and rows, then the held-out comparison.
  z.object({ type: z.literal('distill/progress'), message: Text }),
  z.object({
    type: z.literal('distill/data'),
    recipe: Id,
    dataset: Id,
    datasetLabel: Label,
    /** The first rows: the student's input (its messages' text) and the teacher's answer. */
    rows: z.array(z.object({ input: Text, answer: Text })).max(50),
    total: z.number().int().nonnegative(),
    generated: z.number().int().nonnegative(),
    cached: z.number().int().nonnegative(),
    warning: Text.optional(),
  }),
  z.object({ type: z.literal('distill/end'), status: z.enum(['done', 'cancelled', 'failed']), message: Text.optional() }),
  /** Select this recipe on the Distill tab (one just made from a prompt file). */
  z.object({ type: z.literal('distill/select'), recipe: Id }),
  z.object({
    type: z.literal('distill/report'),
    recipe: Id,
    adapterLabel: Label,
    cases: z.array(Text).max(10_000),
    teacher: DistillSide,
    student: DistillSide,
    inputTokenSaving: z.number(),
  }),
  // Fine-tuning runs, read from their folders.
  z.object({ type: z.literal('runs/list'), runs: z.array(RunRow), runsFolder: Label.optional() }),
  /** Events of the run the page shows: all of them (`reset`) or those appended since the last message. */
  z.object({ type: z.literal('runs/events'), dir: Id, reset: z.boolean(), events: z.array(TrainEvent) }),
]);
export type ToPanel = z.infer<typeof ToPanel>;

/** One side of the held-out comparison: pass rate, input tokens and time per case, each output and whether it passed. */
export type DistillSide = z.infer<typeof DistillSide>;

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

export const FromPanel = z.discriminatedUnion('type', [
  z.object({ type: z.literal('panel/ready') }),
  z.object({ type: z.literal('panel/selectPrompt'), file: Id }),
  z.object({ type: z.literal('panel/selectModel'), file: Id, model: Id }),
  /** Ask for a folder dialog to add a model. */
  z.object({ type: z.literal('panel/pickModel'), file: Id }),
  z.object({ type: z.literal('panel/openFile'), file: Id }),
  /** The banner's button in an untrusted workspace: VS Code's trust editor. */
  z.object({ type: z.literal('panel/manageTrust') }),
  RunRequest,
  z.object({ type: z.literal('run/stop') }),
  z.object({
    type: z.literal('run/openDiff'),
    runId: Id,
    left: z.object({ variant: Id, caseIndex: z.number().int().nonnegative() }),
    right: z.object({ variant: Id, caseIndex: z.number().int().nonnegative() }),
  }),
  z.object({ type: z.literal('snapshot/accept'), runId: Id }),
  z.object({ type: z.literal('probes/run'), file: Id, model: Id, variants: z.array(Id).min(1).max(64) }),
  z.object({ type: z.literal('probes/stop') }),
  z.object({ type: z.literal('history/load'), file: Id }),
  z.object({ type: z.literal('train/start'), recipe: Id }),
  z.object({ type: z.literal('distill/run'), recipe: Id }),
  z.object({ type: z.literal('distill/compare'), recipe: Id }),
  z.object({ type: z.literal('distill/stop') }),
  /** "New distillation recipe" from a prompt file: its starter files (core/distill/starter.ts). */
  z.object({ type: z.literal('distill/new'), file: Id }),
  z.object({ type: z.literal('train/select'), dir: Id }),
  z.object({ type: z.literal('train/cancel'), dir: Id }),
  z.object({ type: z.literal('train/resume'), dir: Id }),
  z.object({ type: z.literal('train/reveal'), dir: Id }),
]);
export type FromPanel = z.infer<typeof FromPanel>;
