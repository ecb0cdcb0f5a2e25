import { z } from 'zod';
import { GenerationParamsSchema } from '../core/infer/parameters';
import { EXPORT_DTYPES } from '../core/dtypes';
import { ProbesReportSchema } from '../core/probes/schema';

/**
 * extension (or CLI, or test) ⇄ worker process. The worker is forked with an IPC channel; every
 * message is a JSON value checked against these schemas on receipt, on both sides.
 *
 * Each request type is a descriptor pairing its params with its result, so that `WorkerClient.request`
 * is typed end to end (as rust-analyzer's `lsp_ext` request descriptors are).
 */

const ErrorInfo = z.object({
  message: z.string(),
  file: z.string().optional(),
  key: z.string().optional(),
  /** True for errors about the user's input (TuneloopError); false for bugs. */
  user: z.boolean(),
});
export type ErrorInfo = z.infer<typeof ErrorInfo>;

export const CheckpointDescription = z.object({
  architecture: z.string(),
  modelType: z.string(),
  parameters: z.number().int().nonnegative(),
  lines: z.array(z.string()),
});
export type CheckpointDescription = z.infer<typeof CheckpointDescription>;

const ChatMessage = z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string() });
export const PromptSchema = z.union([
  z.object({ ids: z.array(z.number().int().nonnegative()).readonly() }),
  z.object({ text: z.string() }),
  z.object({ messages: z.array(ChatMessage).readonly() }),
]);
/** Generation parameters: the one schema of them, with the prompt file format's limits. */
export { GenerationParamsSchema };
const Alternative = z.object({ id: z.number().int(), text: z.string(), logprob: z.number() });
/** A generated token, with the most likely tokens at its step (core/infer/generate.ts TOP_ALTERNATIVES). */
const Token = z.object({ id: z.number().int(), text: z.string(), logprob: z.number(), top: z.array(Alternative).max(20).readonly().optional() });
const GenerationResultSchema = z.object({
  promptIds: z.array(z.number().int()).readonly(),
  tokens: z.array(Token).readonly(),
  text: z.string(),
  finish: z.enum(['eos', 'length', 'stop', 'cancelled']),
  timeToFirstTokenMs: z.number(),
  tokensPerSecond: z.number(),
  seconds: z.number(),
});

/** The weights' dtype a model runs in (core/export/dtypes.ts). */
const Dtype = z.enum(EXPORT_DTYPES);

/** One variant of a matrix run: the base model, the base with a PEFT adapter merged in, or other full weights. */
const MatrixVariant = z.object({ name: z.string().min(1), adapterDir: z.string().min(1).optional(), modelDir: z.string().min(1).optional() });
const Evaluation = z.object({ name: z.string(), passed: z.boolean().nullable(), detail: z.string() });
export const MatrixCell = z.object({
  text: z.string(),
  tokens: z.array(Token).readonly(),
  evaluations: z.array(Evaluation).readonly(),
  passed: z.boolean(),
  finish: z.enum(['eos', 'length', 'stop', 'cancelled']),
  timeToFirstTokenMs: z.number(),
  tokensPerSecond: z.number(),
});
export type MatrixCell = z.infer<typeof MatrixCell>;

/** One conversation through a tokenizer's chat template (renderPrompt), or why the template refused it. */
const RenderedCase = z.union([z.object({ text: z.string(), tokenCount: z.number().int().nonnegative() }), z.object({ error: z.string() })]);

/** One side of a distillation's held-out comparison (core/distill/held-out.ts SideFigures). */
const SideFiguresSchema = z.object({
  name: z.string(),
  passed: z.number().int(),
  cases: z.number().int(),
  passRate: z.number(),
  evaluators: z.record(z.string(), z.number()),
  meanPromptTokens: z.number(),
  meanSeconds: z.number(),
  agreement: z.object({ exact: z.number(), passedWhereTeacherPassed: z.number(), teacherPassed: z.number().int() }).optional(),
  outputs: z.array(z.string()).readonly(),
  casePassed: z.array(z.boolean()).readonly(),
});

/** A prompt's test cases × variants to run: runMatrix's parameters, and (less hashModel) runProbes'. */
const MatrixParams = z.object({
  /** The prompt file (for messages, relative paths and errors) and its text as the editor holds it. */
  promptFile: z.string().min(1),
  promptText: z.string(),
  /** The base model: a Hugging Face checkpoint folder (adapters merge into it) or a transformers.js folder, or a Hub id (models/resolve.ts). */
  model: z.string().min(1),
  /** The user consented to downloading a Hub model the Hugging Face cache does not hold. */
  allowDownload: z.boolean().optional(),
  variants: z.array(MatrixVariant).min(1),
  cases: z.array(z.object({ index: z.number().int().nonnegative(), vars: z.record(z.string(), z.unknown()) })).min(1),
  params: GenerationParamsSchema,
  /** The dtype every variant runs in (fp32 when absent): the prompt file's, else the setting's; adapters are merged, then quantized. */
  dtype: Dtype.optional(),
  threads: z.number().int().nonnegative().optional(),
  cacheDir: z.string().optional(),
  /** Also hash the base model (for a snapshot file). */
  hashModel: z.boolean().optional(),
});

export const REQUESTS = {
  ping: { params: z.object({}), result: z.object({ pid: z.number().int(), version: z.string() }) },
  describeCheckpoint: { params: z.object({ dir: z.string().min(1) }), result: CheckpointDescription },
  loadModel: {
    params: z.object({
      source: z.string().min(1),
      threads: z.number().int().nonnegative().optional(),
      cacheDir: z.string().optional(),
      contextTokens: z.number().int().positive().optional(),
      allowDownload: z.boolean().optional(),
      /** fp32 (default), q8 or q4. */
      dtype: Dtype.optional(),
    }),
    result: z.object({ handle: z.string(), dir: z.string(), modelType: z.string(), dtype: Dtype }),
  },
  generate: { params: z.object({ handle: z.string(), prompt: PromptSchema, params: GenerationParamsSchema }), result: GenerationResultSchema },
  unloadModel: { params: z.object({ handle: z.string() }), result: z.object({}) },
  /** The rendered-prompt preview: each conversation as the model sees it, with its token count (tokenizer only, no weights). */
  renderPrompt: {
    params: z.object({ model: z.string().min(1), conversations: z.array(z.array(ChatMessage).readonly()).readonly() }),
    result: z.object({ template: z.enum(['model', 'plain']), cases: z.array(RenderedCase).readonly() }),
  },
  /**
   * Test cases × variants of a prompt (the panel's compare view and matrix): each variant's model
   * loaded (and an adapter merged into the base: CPU-heavy, so here and not in the extension host),
   * each case generated with streamed tokens and evaluated. A variant that cannot load is reported
   * (event variantError) and the others still run. Cancelling stops at once; cells done so far stay.
   */
  runMatrix: {
    params: MatrixParams,
    result: z.object({ passRates: z.record(z.string(), z.number()), cancelled: z.boolean(), modelSha256: z.string().optional() }),
  },
  /**
   * The prompt's probes (core/probes): every test case under every swap on each variant, with the
   * expected answers scored; progress as `progress` events, the report as the result. The first
   * error stops it (a probe's figures with a missing run would mislead).
   */
  runProbes: {
    /** As runMatrix's, less hashModel (no snapshot comes of probes). */
    params: MatrixParams.omit({ hashModel: true }),
    result: z.object({ report: ProbesReportSchema, cancelled: z.boolean() }),
  },
  /**
   * A distillation recipe's data stage (core/distill/dataset.ts): inputs planned and checked, the
   * teacher's answers (cached, resumable) written to the recipe's dataset. Progress as `progress`
   * events; a refused contamination is an error; cancelling keeps the answers so far.
   */
  distillData: {
    params: z.object({
      recipe: z.string().min(1),
      root: z.string().optional(),
      trustedReads: z.array(z.string()).readonly().optional(),
      cacheDir: z.string().optional(),
      threads: z.number().int().nonnegative().optional(),
    }),
    result: z.object({
      cancelled: z.boolean(),
      datasetFile: z.string(),
      inputs: z.number().int(),
      rewordings: z.number().int(),
      dropped: z.number().int(),
      rows: z.number().int(),
      generated: z.number().int(),
      cached: z.number().int(),
      cut: z.number().int(),
      /** With contamination.action warn: what overlapped. */
      warning: z.string().optional(),
    }),
  },
  /**
   * The student (the short prompt with the recipe's trained adapter) against the teacher (the long
   * prompt) on the teacher prompt file's held-out cases (core/distill/held-out.ts).
   */
  distillReport: {
    params: z.object({
      recipe: z.string().min(1),
      root: z.string().optional(),
      trustedReads: z.array(z.string()).readonly().optional(),
      runsDirs: z.array(z.string()).readonly(),
      cacheDir: z.string().optional(),
      threads: z.number().int().nonnegative().optional(),
    }),
    result: z.object({
      adapter: z.string(),
      /** Each held-out case as the student's messages render it. */
      cases: z.array(z.string()).readonly(),
      teacher: SideFiguresSchema,
      student: SideFiguresSchema,
      inputTokenSaving: z.number(),
    }),
  },
} as const;

/** Events a request streams before its result. */
export const RequestEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('token'), token: Token }),
  z.object({ type: z.literal('progress'), message: z.string() }),
  // runMatrix: a cell starts, streams its tokens, ends; or a whole variant fails to load.
  z.object({ type: z.literal('cellStart'), variant: z.string(), caseIndex: z.number().int() }),
  z.object({ type: z.literal('cellToken'), variant: z.string(), caseIndex: z.number().int(), token: Token }),
  z.object({ type: z.literal('cell'), variant: z.string(), caseIndex: z.number().int(), cell: MatrixCell }),
  z.object({ type: z.literal('cellError'), variant: z.string(), caseIndex: z.number().int(), message: z.string() }),
  z.object({ type: z.literal('variantError'), variant: z.string(), message: z.string() }),
  /** A variant's model is loaded, in this dtype (what its cells run). */
  z.object({ type: z.literal('variantLoaded'), variant: z.string(), dtype: Dtype }),
]);
export type RequestEvent = z.infer<typeof RequestEvent>;

export type RequestMethod = keyof typeof REQUESTS;
export type RequestParams<M extends RequestMethod> = z.infer<(typeof REQUESTS)[M]['params']>;
export type RequestResult<M extends RequestMethod> = z.infer<(typeof REQUESTS)[M]['result']>;

const methodNames = Object.keys(REQUESTS) as [RequestMethod, ...RequestMethod[]];

/** Host → worker. */
export const ToWorker = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('request'), id: z.number().int(), method: z.enum(methodNames), params: z.unknown() }),
  z.object({ kind: z.literal('cancel'), id: z.number().int() }),
]);
export type ToWorker = z.infer<typeof ToWorker>;

/** Worker → host. */
export const FromWorker = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('ready'), pid: z.number().int() }),
  z.object({ kind: z.literal('result'), id: z.number().int(), result: z.unknown() }),
  z.object({ kind: z.literal('event'), id: z.number().int(), event: RequestEvent }),
  z.object({ kind: z.literal('error'), id: z.number().int(), error: ErrorInfo }),
  z.object({ kind: z.literal('log'), level: z.enum(['error', 'warn', 'info', 'debug']), message: z.string() }),
]);
export type FromWorker = z.infer<typeof FromWorker>;

/** A readable description of what failed validation, for logs. */
export { describeIssues } from '../core/zod-issues';
