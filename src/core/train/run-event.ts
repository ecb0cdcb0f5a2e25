import { z } from 'zod';

/**
 * A run's events.jsonl: one JSON event per line, appended and flushed as it happens. It is the source
 * of truth that the trainer writes and that the panel, the CLI and a reloaded window read; this
 * schema is checked on every line read.
 */
export const RunEvent = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('started'),
    time: z.string(),
    pid: z.number().int(),
    totalSteps: z.number().int(),
    resumedFrom: z.number().int().optional(),
    trainExamples: z.number().int(),
    validationExamples: z.number().int(),
    /** The trainer's estimate of the run's peak memory, and what the system had available when it started. */
    memory: z.object({ estimateBytes: z.number(), availableBytes: z.number() }).optional(),
  }),
  z.object({
    type: z.literal('step'),
    time: z.string(),
    step: z.number().int(),
    loss: z.number(),
    lr: z.number(),
    gradNorm: z.number(),
    tokensPerSecond: z.number(),
    etaSeconds: z.number(),
  }),
  z.object({ type: z.literal('eval'), time: z.string(), step: z.number().int(), loss: z.number() }),
  z.object({ type: z.literal('checkpoint'), time: z.string(), step: z.number().int(), path: z.string() }),
  // `prompt` is the tokens as the model saw them (chat template included); `messages`, when the row had
  // them, the same prompt as a person reads it; `line` is the validation row's line in its file.
  z.object({
    type: z.literal('sample'),
    time: z.string(),
    step: z.number().int(),
    prompt: z.string(),
    output: z.string(),
    messages: z.array(z.object({ role: z.string(), content: z.string() })).optional(),
    line: z.number().int().optional(),
  }),
  z.object({ type: z.literal('log'), time: z.string(), level: z.enum(['info', 'warn']), message: z.string() }),
  // The result folder: `adapter/` (a PEFT adapter) after LoRA, `model/` (a checkpoint) after full fine-tuning.
  z.object({
    type: z.literal('done'),
    time: z.string(),
    step: z.number().int(),
    result: z.string(),
    kind: z.enum(['adapter', 'model']),
    /** The trainer process's peak resident memory over the run (the kernel's figure, at the end). */
    peakRssBytes: z.number().optional(),
  }),
  z.object({ type: z.literal('cancelled'), time: z.string(), step: z.number().int(), checkpoint: z.string() }),
  z.object({
    type: z.literal('failed'),
    time: z.string(),
    message: z.string(),
    stderr: z.string().optional(),
    /** Why, where it is known: `diverged` (a non-finite loss or gradient norm at `step`). */
    reason: z.enum(['diverged']).optional(),
    step: z.number().int().optional(),
  }),
]);
export type RunEvent = z.infer<typeof RunEvent>;
type Payload<E> = E extends unknown ? Omit<E, 'time'> : never;
export type RunEventPayload = Payload<RunEvent>;
