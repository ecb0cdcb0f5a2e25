import * as crypto from 'node:crypto';
import { BaseStreamer, type LogitsProcessor, random, StoppingCriteria, Tensor } from '@huggingface/transformers';
import { TuneloopError } from '../errors';
import { type GenerationParams, GenerationParamsSchema, PARAMETER_SCHEMAS, type ParameterSchema } from './parameters';
import type { LoadedModel } from './load';
import { logSumExp, RecordLogProbs, RepetitionPenalty, Temperature, TopK, TopP } from './processors';

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

/** Token ids as they are, plain text (tokenized with the model's special tokens), or chat messages (its chat template, with the generation prompt). */
export type Prompt = { readonly ids: readonly number[] } | { readonly text: string } | { readonly messages: readonly ChatMessage[] };

/**
 * The generation parameters and their limits are the schema in infer/parameters.ts. Here:
 * temperature 0 or absent is greedy; topK 0 or absent is no top-k; topP 1 or absent is no top-p;
 * repetitionPenalty 1 or absent is none; seed absent is a fresh random seed; generation stops when
 * the text contains a stop string, and the text returned ends before it.
 */
export type { GenerationParams } from './parameters';

export interface GeneratedToken {
  readonly id: number;
  /** Text this token added to the output (may be empty while a multi-byte character is incomplete). */
  readonly text: string;
  /** log p(token) under the model's own distribution at that step (before penalties and sampling warps). */
  readonly logprob: number;
  /**
   * The TOP_ALTERNATIVES most likely tokens at that step under the same distribution, most likely
   * first (the chosen token among them when it was likely enough): what the model weighed there.
   */
  readonly top?: readonly { readonly id: number; readonly text: string; readonly logprob: number }[] | undefined;
}

/** How many of the most likely tokens each generated token records. */
export const TOP_ALTERNATIVES = 5;

export type FinishReason = 'eos' | 'length' | 'stop' | 'cancelled';

export interface GenerationResult {
  readonly promptIds: readonly number[];
  readonly tokens: readonly GeneratedToken[];
  readonly text: string;
  readonly finish: FinishReason;
  readonly timeToFirstTokenMs: number;
  readonly tokensPerSecond: number;
  readonly seconds: number;
}

export interface GenerationCallbacks {
  readonly onToken?: (token: GeneratedToken) => void;
  readonly signal?: AbortSignal;
}

/** Checks the parameters against their schema; the error names the first bad one and its limits (`topP: must be in (0, 1], found 1.5`). */
export function validateParams(p: GenerationParams): void {
  const checked = GenerationParamsSchema.safeParse(p);
  if (checked.success) return;
  const issue = checked.error.issues[0]!;
  const key = issue.path[0];
  if (typeof key !== 'string' || !Object.hasOwn(PARAMETER_SCHEMAS, key)) throw new TuneloopError(issue.message);
  const value: unknown = (p as Readonly<Record<string, unknown>>)[key];
  const found = typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? 'nothing');
  throw new TuneloopError(`must be ${limitsText(PARAMETER_SCHEMAS[key as keyof typeof PARAMETER_SCHEMAS])}, found ${found}`, { key });
}

/** A parameter's limits in interval notation: `an integer ≥ 1`, `in [0, 2]`, `in (0, 1]`, `> 0`. */
function limitsText(s: ParameterSchema): string {
  if (s['type'] === 'array') return 'a list of non-empty texts';
  const integer = s['type'] === 'integer';
  const open = typeof s['exclusiveMinimum'] === 'number';
  const lo = open ? s['exclusiveMinimum'] : s['minimum'];
  const hi = s['maximum'] === Number.MAX_SAFE_INTEGER ? undefined : s['maximum'];
  const range = typeof hi === 'number' ? `in ${open ? '(' : '['}${lo}, ${hi}]` : typeof lo === 'number' ? `${open ? '>' : '≥'} ${lo}` : '';
  return integer ? `an integer${range ? ` ${range}` : ''}` : range || 'a number';
}

export function promptIds(lm: LoadedModel, prompt: Prompt): number[] {
  if ('ids' in prompt) return [...prompt.ids];
  if ('text' in prompt) return lm.tokenizer.encode(prompt.text);
  const ids = lm.tokenizer.apply_chat_template(prompt.messages as ChatMessage[], {
    add_generation_prompt: true,
    tokenize: true,
    return_dict: false,
    return_tensor: false,
  }) as unknown;
  if (!Array.isArray(ids)) throw new Error('apply_chat_template returned no ids');
  return (ids as (number | bigint)[]).map(Number);
}

/** transformers.js samples with one global generator: generations in a process run one at a time. */
let queue: Promise<unknown> = Promise.resolve();

/** Runs `f` after the generations (and scorings) queued before it. */
function queued<T>(f: () => Promise<T>): Promise<T> {
  const run = queue.then(f);
  queue = run.catch(() => undefined);
  return run;
}

/**
 * log p(continuation | prompt) under the model, teacher-forced: one forward pass over the prompt's
 * ids and the continuation's (tokenized without special tokens), summing each continuation token's
 * log-softmax at the position before it. What a probe compares for the expected answer.
 */
export function continuationLogProb(lm: LoadedModel, prompt: Prompt, continuation: string): Promise<{ readonly logprob: number; readonly tokens: number }> {
  return queued(async () => {
    const head = promptIds(lm, prompt);
    const tail = (lm.tokenizer.encode(continuation, { add_special_tokens: false }) as (number | bigint)[]).map(Number);
    if (head.length === 0 || tail.length === 0) return { logprob: 0, tokens: 0 };
    const ids = [...head, ...tail];
    const input = new Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]);
    const mask = new Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
    const out = (await (lm.model as unknown as (x: Record<string, Tensor>) => Promise<{ logits: Tensor }>)({ input_ids: input, attention_mask: mask })).logits;
    const vocab = out.dims[2]!;
    const data = out.data as Float32Array;
    let logprob = 0;
    for (let j = 0; j < tail.length; j++) {
      // The logits at position p predict the token at p + 1.
      const row = data.subarray((head.length - 1 + j) * vocab, (head.length + j) * vocab);
      logprob += row[tail[j]!]! - logSumExp(row);
    }
    out.dispose();
    return { logprob, tokens: tail.length };
  });
}

/**
 * Generate from a loaded model, streaming each token as it is chosen. Cancellation is checked after
 * every token, so it stops within one.
 */
export function generate(lm: LoadedModel, prompt: Prompt, params: GenerationParams, callbacks: GenerationCallbacks = {}): Promise<GenerationResult> {
  try {
    validateParams(params);
  } catch (e) {
    return Promise.reject(e);
  }
  return queued(() => generateNow(lm, prompt, params, callbacks));
}

async function generateNow(lm: LoadedModel, prompt: Prompt, params: GenerationParams, callbacks: GenerationCallbacks): Promise<GenerationResult> {
  const ids = promptIds(lm, prompt);
  if (ids.length === 0) throw new TuneloopError('the prompt is empty');
  const sampling = (params.temperature ?? 0) > 0;
  const record = new RecordLogProbs();
  const processors: LogitsProcessor[] = [record];
  if (params.repetitionPenalty !== undefined && params.repetitionPenalty !== 1) processors.push(new RepetitionPenalty(params.repetitionPenalty));
  if (sampling) {
    if (params.temperature !== 1) processors.push(new Temperature(params.temperature!));
    if (params.topK) processors.push(new TopK(params.topK));
    if (params.topP !== undefined && params.topP < 1) processors.push(new TopP(params.topP));
    random.seed(params.seed ?? crypto.randomInt(2 ** 31));
  }

  const started = performance.now();
  let firstTokenAt = 0;
  const tokens: GeneratedToken[] = [];
  const generated: number[] = [];
  let text = '';
  let stopHit: { index: number } | undefined;
  const stops = (params.stop ?? []).filter((s) => s.length > 0);
  const eos = new Set(lm.eosTokenIds);
  const tokenizer = lm.tokenizer;

  class Streamer extends BaseStreamer {
    private sawPrompt = false;
    override put(value: bigint[][]): void {
      if (!this.sawPrompt) {
        this.sawPrompt = true;
        return;
      }
      const id = Number(value[0]![0]!);
      if (tokens.length === 0) firstTokenAt = performance.now();
      generated.push(id);
      // Decode the whole output each time and hold back an unfinished multi-byte character.
      let full = tokenizer.decode(generated, { skip_special_tokens: true });
      if (full.endsWith('\uFFFD')) full = full.slice(0, full.lastIndexOf('\uFFFD'));
      const delta = full.startsWith(text) ? full.slice(text.length) : '';
      if (full.length >= text.length) text = full;
      for (const s of stops) {
        const at = text.indexOf(s);
        if (at >= 0 && (stopHit === undefined || at < stopHit.index)) stopHit = { index: at };
      }
      const top = record.top(0, TOP_ALTERNATIVES).map((t) => ({ ...t, text: tokenizer.decode([t.id], { skip_special_tokens: false }) }));
      const token = { id, text: delta, logprob: record.logprob(0, id), top };
      tokens.push(token);
      callbacks.onToken?.(token);
    }
    override end(): void {}
  }

  class Stop extends StoppingCriteria {
    override _call(inputIds: number[][]): boolean[] {
      return inputIds.map(() => callbacks.signal?.aborted === true || stopHit !== undefined);
    }
  }

  await lm.model.generate({
    inputs: new Tensor(
      'int64',
      BigInt64Array.from(ids, (i) => BigInt(i)),
      [1, ids.length],
    ),
    attention_mask: new Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
    max_new_tokens: params.maxTokens,
    do_sample: sampling,
    top_k: 0,
    temperature: 1,
    repetition_penalty: 1,
    eos_token_id: [...eos],
    logits_processor: processors,
    stopping_criteria: [new Stop()],
    streamer: new Streamer(),
  } as unknown as Parameters<typeof lm.model.generate>[0]);

  const finished = performance.now();
  // The text is what was streamed: a multi-byte character left incomplete at the end is dropped.
  let finish: FinishReason = 'length';
  let outText = text;
  if (callbacks.signal?.aborted) finish = 'cancelled';
  else if (stopHit !== undefined) {
    finish = 'stop';
    outText = text.slice(0, stopHit.index);
  } else if (generated.length > 0 && eos.has(generated.at(-1)!)) finish = 'eos';
  const decodeSeconds = (finished - firstTokenAt) / 1000;
  return {
    promptIds: ids,
    tokens,
    text: outText,
    finish,
    timeToFirstTokenMs: tokens.length ? firstTokenAt - started : 0,
    tokensPerSecond: tokens.length > 1 && decodeSeconds > 0 ? (tokens.length - 1) / decodeSeconds : 0,
    seconds: (finished - started) / 1000,
  };
}
