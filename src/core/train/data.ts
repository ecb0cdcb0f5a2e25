import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { TuneloopError } from '../errors';
import type { DatasetFormat } from '../recipes/vocabulary';
import { readTextFile } from '../fs/text';
import type { ChatMessage } from '../infer/generate';

/**
 * Training data: JSONL rows in the formats users bring, turned into token ids and a loss mask.
 * `mask[t]` is 1 where token t is a target (its prediction counts in the loss), so completion-only
 * loss, chat assistant turns and padding are all the same mechanism.
 */
export type { DatasetFormat } from '../recipes/vocabulary';

export interface Example {
  /** 1-based line in the source file. */
  readonly line: number;
  readonly ids: readonly number[];
  readonly mask: readonly number[];
  /**
   * The prompt as a person reads it (training samples show it): a chat row's messages before its first
   * assistant turn, an alpaca row's instruction and input, a prompt-completion row's prompt, as user
   * messages. Absent for plain text rows, whose prompt is the first half of the text.
   */
  readonly shown?: readonly ChatMessage[];
  /**
   * Token-level distillation: the teacher's top-k [id, log-probability] at each of its answer's
   * tokens, from position `start` of `ids` on (the first token the loss learns), for as many tokens
   * as the student's tokenization of the answer agrees with the teacher's.
   */
  readonly soft?: { readonly start: number; readonly top: readonly (readonly (readonly [number, number])[])[] };
}

/** A distillation row's teacher: its answer's token ids and each token's top-k [id, log-probability]. */
export interface TeacherTokens {
  readonly ids: readonly number[];
  readonly top: readonly (readonly (readonly [number, number])[])[];
}

/** Token-level distillation's settings for the batches: top-k per position, temperature τ, weight α of the soft loss. */
export interface SoftTargets {
  readonly k: number;
  readonly temperature: number;
  readonly alpha: number;
}

export interface TokenizeReport {
  readonly examples: Example[];
  /** Examples longer than max_seq_len, cut to it. */
  readonly truncated: number;
  readonly tokensCut: number;
}

type Row = Record<string, unknown>;

/** Which keys identify each format; one entry per format. */
const FORMATS: Readonly<Record<DatasetFormat, { readonly keys: readonly string[]; readonly optional?: readonly string[] }>> = {
  text: { keys: ['text'] },
  'prompt-completion': { keys: ['prompt', 'completion'] },
  messages: { keys: ['messages'] },
  alpaca: { keys: ['instruction', 'output'], optional: ['input'] },
};

export function detectFormat(row: Row): DatasetFormat | undefined {
  const keys = new Set(Object.keys(row));
  return (Object.keys(FORMATS) as DatasetFormat[]).find((f) => FORMATS[f].keys.every((k) => keys.has(k)));
}

/** Read JSONL rows; a malformed line is an error naming the file and line (empty lines are allowed). */
export function readJsonl(file: string): { line: number; row: Row }[] {
  const text = readTextFile(file, 'dataset');
  const rows: { line: number; row: Row }[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let row: unknown;
    try {
      row = JSON.parse(raw);
    } catch (e) {
      // V8's message quotes the line; only this excerpt of a row may reach logs and events.jsonl.
      const reason = (e as Error).message.replace(/, ".*" is not valid JSON$|, ".*"\.\.\. is not valid JSON$/, '');
      throw new TuneloopError(
        `not valid JSON (${reason}); the line begins ${JSON.stringify(excerpt(raw))}`,
        { file, line },
        'each line of a .jsonl file is one JSON object',
      );
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new TuneloopError('must be a JSON object', { file, line });
    rows.push({ line, row: row as Row });
  });
  if (rows.length === 0) throw new TuneloopError('the dataset has no rows', { file });
  return rows;
}

/** At most 80 characters of a row, for messages: no more of a user's data goes into logs. */
export function excerpt(raw: string, max = 80): string {
  return raw.length > max ? `${raw.slice(0, max)}…` : raw;
}

function str(row: Row, key: string, file: string, line: number): string {
  const v = row[key];
  if (typeof v !== 'string')
    throw new TuneloopError(`"${key}" must be a string, found ${v === undefined ? 'nothing' : JSON.stringify(v).slice(0, 40)}`, { file, line });
  return v;
}

function messagesOf(row: Row, file: string, line: number): ChatMessage[] {
  const m = row.messages;
  if (!Array.isArray(m) || m.length === 0) throw new TuneloopError('"messages" must be a non-empty list', { file, line });
  return m.map((x, i) => {
    const o = x as Row;
    if (typeof o !== 'object' || o === null || !['system', 'user', 'assistant'].includes(o.role as string) || typeof o.content !== 'string') {
      throw new TuneloopError(`messages[${i}] must be {role: system|user|assistant, content: string}`, { file, line });
    }
    return { role: o.role as ChatMessage['role'], content: o.content };
  });
}

function chatIds(tok: PreTrainedTokenizer, messages: readonly ChatMessage[], addGenerationPrompt: boolean): number[] {
  const ids = tok.apply_chat_template(messages as ChatMessage[], {
    add_generation_prompt: addGenerationPrompt,
    tokenize: true,
    return_dict: false,
    return_tensor: false,
  }) as unknown;
  return (ids as (number | bigint)[]).map(Number);
}

/**
 * Ids and mask for chat messages: the template renders the conversation, and the loss covers each
 * assistant turn with its end token: the tokens between the conversation so far with the generation
 * prompt and the conversation including that turn.
 */
function tokenizeMessages(tok: PreTrainedTokenizer, messages: readonly ChatMessage[], file: string, line: number): { ids: number[]; mask: number[] } {
  if (!tok.chat_template)
    throw new TuneloopError(
      'the tokenizer has no chat template, so "messages" rows cannot be rendered',
      { file, line },
      'use a model whose tokenizer_config.json has chat_template, or the prompt/completion format',
    );
  const ids = chatIds(tok, messages, false);
  const mask = new Array<number>(ids.length).fill(0);
  messages.forEach((m, k) => {
    if (m.role !== 'assistant') return;
    const before = chatIds(tok, messages.slice(0, k), true);
    const through = chatIds(tok, messages.slice(0, k + 1), false);
    const prefix = (a: number[], b: number[]) => a.length <= b.length && a.every((x, i) => x === b[i]);
    if (!prefix(before, through) || !prefix(through, ids)) {
      throw new TuneloopError(
        `the chat template does not render message ${k} as a continuation of the ones before`,
        { file, line },
        'this template cannot mark assistant turns; use the prompt/completion format',
      );
    }
    for (let t = before.length; t < through.length; t++) mask[t] = 1;
  });
  return { ids, mask };
}

const ALPACA = (instruction: string, input: string) =>
  input
    ? `Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\n${instruction}\n\n### Input:\n${input}\n\n### Response:\n`
    : `Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\n${instruction}\n\n### Response:\n`;

export interface TokenizeOptions {
  readonly format?: DatasetFormat;
  readonly maxSeqLen: number;
  /** Loss on the prompt too (default: completion only, where the format has a prompt). */
  readonly trainOnPrompt?: boolean;
  readonly eosTokenId: number;
}

/** Tokenize rows into examples; truncation to max_seq_len is counted, never silent. */
export function tokenizeRows(tok: PreTrainedTokenizer, rows: readonly { line: number; row: Row }[], file: string, options: TokenizeOptions): TokenizeReport {
  const format = options.format ?? detectFormat(rows[0]!.row);
  if (!format)
    throw new TuneloopError(
      `cannot tell the format from keys ${excerpt(JSON.stringify(Object.keys(rows[0]!.row)))}`,
      { file, line: rows[0]!.line },
      `rows must have ${Object.values(FORMATS)
        .map((f) => f.keys.join('+'))
        .join(', or ')}`,
    );
  const examples: Example[] = [];
  let truncated = 0;
  let tokensCut = 0;
  for (const { line, row } of rows) {
    const missing = FORMATS[format].keys.filter((k) => !(k in row));
    if (missing.length) throw new TuneloopError(`missing "${missing[0]}" for the ${format} format`, { file, line });
    let ids: number[];
    let mask: number[];
    let shown: ChatMessage[] | undefined;
    const promptThenCompletion = (prompt: string, completion: string) => {
      const p = tok.encode(prompt);
      const c = [...tok.encode(completion, { add_special_tokens: false }), options.eosTokenId];
      ids = [...p, ...c];
      mask = [...p.map(() => (options.trainOnPrompt ? 1 : 0)), ...c.map(() => 1)];
    };
    switch (format) {
      case 'text': {
        ids = [...tok.encode(str(row, 'text', file, line)), options.eosTokenId];
        mask = ids.map(() => 1);
        break;
      }
      case 'prompt-completion':
        promptThenCompletion(str(row, 'prompt', file, line), str(row, 'completion', file, line));
        shown = [{ role: 'user', content: str(row, 'prompt', file, line) }];
        break;
      case 'alpaca': {
        const input = row.input === undefined ? '' : str(row, 'input', file, line);
        const instruction = str(row, 'instruction', file, line);
        const output = str(row, 'output', file, line);
        shown = [{ role: 'user', content: input ? `${instruction}\n\n${input}` : instruction }];
        if (tok.chat_template) {
          ({ ids, mask } = tokenizeMessages(
            tok,
            [
              { role: 'user', content: input ? `${instruction}\n\n${input}` : instruction },
              { role: 'assistant', content: output },
            ],
            file,
            line,
          ));
        } else promptThenCompletion(ALPACA(instruction, input), output);
        break;
      }
      case 'messages': {
        const messages = messagesOf(row, file, line);
        const firstReply = messages.findIndex((m) => m.role === 'assistant');
        shown = messages.slice(0, firstReply < 0 ? messages.length : firstReply);
        if (options.trainOnPrompt && tok.chat_template) {
          // Every token counts, so no turn needs marking: one rendering, not one per assistant turn
          // (a conversation of n turns would otherwise be rendered 2n + 1 times).
          ids = chatIds(tok, messages, false);
          mask = ids.map(() => 1);
        } else ({ ids, mask } = tokenizeMessages(tok, messages, file, line));
        break;
      }
    }
    if (ids!.length > options.maxSeqLen) {
      truncated++;
      tokensCut += ids!.length - options.maxSeqLen;
      ids = ids!.slice(0, options.maxSeqLen);
      mask = mask!.slice(0, options.maxSeqLen);
    }
    if (!mask!.some((x, t) => x === 1 && t > 0)) {
      throw new TuneloopError(
        'has no tokens to learn from (after truncation to max_seq_len, nothing of the completion is left)',
        { file, line },
        'raise max_seq_len or shorten the prompt',
      );
    }
    const soft = format === 'messages' && row.teacher !== undefined ? alignTeacher(row.teacher, ids!, mask!, file, line) : undefined;
    examples.push({ line, ids: ids!, mask: mask!, ...(shown?.length ? { shown } : {}), ...(soft ? { soft } : {}) });
  }
  return { examples, truncated, tokensCut };
}

import { seededRandom } from '../random';

export function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const r = seededRandom(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Shuffle with `seed`, then hold out a fraction (0 ≤ f < 1) or a count for validation. */
export function splitTrainValidation<T>(items: readonly T[], validation: number, seed: number): { train: T[]; validation: T[] } {
  const shuffled = shuffle(items, seed);
  const n = validation >= 1 ? Math.floor(validation) : Math.round(items.length * validation);
  if (n >= items.length)
    throw new TuneloopError(`a validation split of ${validation} leaves no training rows out of ${items.length}`, { key: 'validation_split' });
  return { train: shuffled.slice(n), validation: shuffled.slice(0, n) };
}

/** A padded batch: right padding with pad_id; `targets[t]` is ids[t+1] and `weights[t]` says whether it counts. */
export interface Batch {
  readonly size: number;
  readonly length: number;
  /** [B·S] */
  readonly inputIds: BigInt64Array;
  readonly attentionMask: BigInt64Array;
  readonly targets: BigInt64Array;
  readonly weights: Float32Array;
  /** Counted targets in this batch. */
  readonly counted: number;
  /** Token-level distillation: [B·S·k] the teacher's top-k ids and their weighted probabilities (α·τ²·p; 0 where none). */
  readonly softIds?: BigInt64Array;
  readonly softQ?: Float32Array;
  readonly k?: number;
}

/**
 * The teacher's tokens against the student's: from the first learned position, as long as the ids
 * agree (the student re-tokenizes the answer text, which a byte-level BPE almost always does the
 * same way; where it does not, the rest of the row has hard targets only).
 */
function alignTeacher(raw: unknown, ids: readonly number[], mask: readonly number[], file: string, line: number): Example['soft'] {
  const t = raw as Partial<TeacherTokens> | null;
  const okTop = (x: unknown) => Array.isArray(x) && x.every((p) => Array.isArray(p) && p.length === 2 && Number.isInteger(p[0]) && typeof p[1] === 'number');
  if (typeof t !== 'object' || t === null || !Array.isArray(t.ids) || !Array.isArray(t.top) || t.top.length !== t.ids.length || !t.top.every(okTop))
    throw new TuneloopError(
      '"teacher" must be {ids: [...], top: [[[id, logprob], ...], ...]} with one top list per id',
      { file, line },
      'run tuneloop distill again to write it',
    );
  const start = mask.findIndex((m, k) => m === 1 && k > 0);
  if (start < 0) return undefined;
  let n = 0;
  while (n < t.ids.length && start + n < ids.length && ids[start + n] === t.ids[n]) n++;
  return n > 0 ? { start, top: t.top.slice(0, n) } : undefined;
}

export function makeBatch(examples: readonly Example[], padId: number, length = Math.max(...examples.map((e) => e.ids.length)), soft?: SoftTargets): Batch {
  const B = examples.length;
  const S = length;
  const inputIds = new BigInt64Array(B * S).fill(BigInt(padId));
  const attentionMask = new BigInt64Array(B * S);
  const targets = new BigInt64Array(B * S);
  const weights = new Float32Array(B * S);
  let counted = 0;
  examples.forEach((e, b) => {
    for (let t = 0; t < e.ids.length; t++) {
      inputIds[b * S + t] = BigInt(e.ids[t]!);
      attentionMask[b * S + t] = 1n;
    }
    for (let t = 0; t + 1 < e.ids.length; t++) {
      targets[b * S + t] = BigInt(e.ids[t + 1]!);
      if (e.mask[t + 1] === 1) {
        weights[b * S + t] = 1;
        counted++;
      }
    }
  });
  if (!soft) return { size: B, length: S, inputIds, attentionMask, targets, weights, counted };
  // Soft targets: at position t the logits predict token t + 1, whose teacher distribution is top[t + 1 − start].
  // q = α·τ²·softmax(logprob / τ) over the top k; the hard weight there becomes 1 − α.
  const K = soft.k;
  const softIds = new BigInt64Array(B * S * K);
  const softQ = new Float32Array(B * S * K);
  const scale = soft.alpha * soft.temperature ** 2;
  examples.forEach((e, b) => {
    if (!e.soft) return;
    e.soft.top.forEach((top, j) => {
      const t = e.soft!.start + j - 1;
      if (t < 0 || t + 1 >= e.ids.length || weights[b * S + t] !== 1) return;
      const k = Math.min(K, top.length);
      const m = Math.max(...top.slice(0, k).map(([, lp]) => lp / soft.temperature));
      const ex = top.slice(0, k).map(([, lp]) => Math.exp(lp / soft.temperature - m));
      const z = ex.reduce((a, x) => a + x, 0);
      for (let i = 0; i < k; i++) {
        softIds[(b * S + t) * K + i] = BigInt(top[i]![0]);
        softQ[(b * S + t) * K + i] = (scale * ex[i]!) / z;
      }
      weights[b * S + t] = 1 - soft.alpha;
    });
  });
  return { size: B, length: S, inputIds, attentionMask, targets, weights, counted, softIds, softQ, k: K };
}
