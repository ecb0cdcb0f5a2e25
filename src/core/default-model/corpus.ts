import * as crypto from 'node:crypto';
import { pick, pickWeighted, seededRandom } from '../random';
import {
  BEHAVIOURS,
  type Behaviour,
  EXAMPLE_HEADERS,
  EXAMPLE_STYLES,
  exampleBlock,
  FOLLOW_PROMPTS,
  INSTRUCTED,
  NEUTRAL_PROMPTS,
  respond,
  trainSystemPrompts,
} from './behaviours';
import { allFacts, DOMAINS, type DomainName, type Fact } from './facts';
import { decorate, heldOutTemplates, render, trainTemplates } from './templates';

/**
 * The text the embedded default model learns from, generated here (nothing is downloaded): chat
 * conversations about the facts of facts.ts, asked in the training templates of templates.ts and
 * answered in one of the behaviours of behaviours.ts, which a system prompt or examples choose.
 *
 * A row of the base corpus is a whole conversation of several turns, up to about 380 tokens: with no
 * system prompt every answer is the plain sentence; with a system prompt asking for a behaviour,
 * examples of it in the system prompt or in the first user message, or a system prompt asking to
 * follow the examples and earlier turns in the behaviour, every answer follows that behaviour. So the
 * model learns to answer a question alone, after a system prompt, and after few-shot examples, at
 * every position up to its longest prompts.
 *
 * A second generator, separate from the first, makes the example adapter's data: single questions
 * answered as `Answer: <sentence>`, a format that occurs nowhere in the base corpus. Its training
 * rows ask in training templates; its test cases ask in held-out templates.
 *
 * Everything is a function of the seed: the same seed gives the same rows, byte for byte.
 */

export interface ChatTurn {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

/** One `messages` row of a dataset (the project's JSONL format). */
export interface MessagesRow {
  readonly messages: readonly ChatTurn[];
}

export const DEFAULT_CORPUS_SEED = 20240611;
/** Conversations in the base corpus (the trainer goes over them for as many epochs as its steps need). */
export const DEFAULT_CORPUS_ROWS = 12000;
/** A conversation grows turn by turn until it would pass a budget drawn from these (estimated tokens). */
export const ROW_TOKENS: readonly [number, number] = [300, 370];

/** The facts grouped by domain, in allFacts order. */
export function factsByDomain(): Map<DomainName, Fact[]> {
  const by = new Map<DomainName, Fact[]>(DOMAINS.map((d) => [d, []]));
  for (const f of allFacts()) by.get(f.domain)!.push(f);
  return by;
}

/** The facts by domain, and how often each domain is asked: the generators draw training questions from it. */
interface FactPool {
  readonly by: Map<DomainName, Fact[]>;
  /** In proportion to the domain's facts to the power 0.75 (sums most, sounds least), summing to 1. */
  readonly weights: readonly (readonly [DomainName, number])[];
}

function factPool(): FactPool {
  const by = factsByDomain();
  const w = DOMAINS.map((d) => [d, by.get(d)!.length ** 0.75] as const);
  const total = w.reduce((a, [, x]) => a + x, 0);
  return { by, weights: w.map(([d, x]) => [d, x / total] as const) };
}

/** A training question: a random domain (by weight), fact and training template, decorated. */
function trainQuestion(pool: FactPool, r: () => number, avoid?: ReadonlySet<string>): { fact: Fact; question: string } {
  for (;;) {
    const fact = pick(pool.by.get(pickWeighted(pool.weights, r, pool.weights.at(-1)![0]))!, r);
    if (avoid?.has(fact.id)) continue;
    return { fact, question: decorate(render(pick(trainTemplates(fact.domain), r), fact), r) };
  }
}

/** Examples of a behaviour: distinct facts, plain training questions, answers in the behaviour. */
function examples(pool: FactPool, n: number, b: Behaviour, r: () => number, used: Set<string>): [string, string][] {
  const out: [string, string][] = [];
  while (out.length < n) {
    const { fact } = trainQuestion(pool, r, used);
    used.add(fact.id);
    out.push([render(pick(trainTemplates(fact.domain), r), fact), respond(fact, b)]);
  }
  return out;
}

type RowKind = 'plain' | 'system' | 'system-examples' | 'turn-examples' | 'user-examples';
const ROW_KINDS: readonly (readonly [RowKind, number])[] = [
  ['plain', 0.45],
  ['system', 0.25],
  ['system-examples', 0.12],
  ['turn-examples', 0.08],
  ['user-examples', 0.1],
];

/**
 * Tokens of a conversation, estimated (no tokenizer here): the project's byte-level BPE spends about
 * 0.48 tokens on a lower-case letter, 0.91 on a capital and 1 on anything else, and 7 on a message's
 * markers (fitted on this corpus: 2 tokens of error per message, rms).
 */
export function estimateTokens(messages: readonly ChatTurn[]): number {
  let n = 0;
  for (const m of messages) {
    const upper = m.content.replace(/[^A-Z]/g, '').length;
    const lower = m.content.replace(/[^a-z]/g, '').length;
    n += 7 + 0.91 * upper + 0.48 * lower + (m.content.length - upper - lower);
  }
  return n;
}

/** One conversation of the base corpus. */
function conversation(pool: FactPool, r: () => number): ChatTurn[] {
  const kind = pickWeighted(ROW_KINDS, r, 'plain');
  const b: Behaviour = kind === 'plain' ? 'plain' : kind === 'system-examples' || kind === 'user-examples' ? pick(BEHAVIOURS, r) : pick(INSTRUCTED, r);
  const messages: ChatTurn[] = [];
  const used = new Set<string>();
  const budget = ROW_TOKENS[0] + (ROW_TOKENS[1] - ROW_TOKENS[0]) * r();
  if (kind === 'plain' && r() < 0.25) messages.push({ role: 'system', content: pick(trainSystemPrompts('plain'), r) });
  if (kind === 'turn-examples') messages.push({ role: 'system', content: pick(FOLLOW_PROMPTS, r) });
  if (kind === 'system') {
    const preamble = r() < 0.3 ? `${pick(NEUTRAL_PROMPTS, r)} ` : '';
    messages.push({ role: 'system', content: preamble + pick(trainSystemPrompts(b), r) });
  }
  if (kind === 'system-examples' || kind === 'user-examples') {
    // Examples first, as many of them as leave room in the budget for at least one more turn.
    const style = pick(EXAMPLE_STYLES, r);
    const pairs = examples(pool, 2 + Math.floor(r() * 5), b, r, used);
    const instruction = kind === 'system-examples' && b !== 'plain' && r() < 0.5 ? `${pick(trainSystemPrompts(b), r)}\n` : '';
    const header = pick(EXAMPLE_HEADERS, r);
    const { fact, question } = trainQuestion(pool, r, used);
    used.add(fact.id);
    const opening = (n: number): ChatTurn[] =>
      kind === 'system-examples'
        ? [{ role: 'system', content: `${instruction}${header}\n${exampleBlock(pairs.slice(0, n), style)}` }]
        : [
            { role: 'user', content: `${exampleBlock(pairs.slice(0, n), style)}\n${style[0]}${question}\n${style[1].trimEnd()}` },
            { role: 'assistant', content: respond(fact, b) },
          ];
    let n = pairs.length;
    while (n > 1 && estimateTokens(opening(n)) > budget - 70) n--;
    messages.push(...opening(n));
  }
  for (;;) {
    const { fact, question } = trainQuestion(pool, r, used);
    const turn: ChatTurn[] = [
      { role: 'user', content: question },
      { role: 'assistant', content: respond(fact, b) },
    ];
    if (messages.some((m) => m.role === 'assistant') && estimateTokens([...messages, ...turn]) > budget) return messages;
    used.add(fact.id);
    messages.push(...turn);
  }
}

export interface BaseCorpusOptions {
  readonly seed?: number;
  readonly rows?: number;
}

/** The base corpus: `rows` conversations (default DEFAULT_CORPUS_ROWS), seeded. */
export function baseCorpus(options: BaseCorpusOptions = {}): MessagesRow[] {
  const seed = options.seed ?? DEFAULT_CORPUS_SEED;
  const r = seededRandom(seed + 101);
  const pool = factPool();
  return Array.from({ length: options.rows ?? DEFAULT_CORPUS_ROWS }, () => ({ messages: conversation(pool, r) }));
}

/** A held-out question (a held-out template, a fact): the unit of every test set. */
export interface HeldOutQuestion {
  readonly fact: Fact;
  /** The held-out template it is asked in. */
  readonly template: string;
  readonly question: string;
}

/** Every fact asked in each held-out template of its domain (in no training data), in allFacts order. */
export function allHeldOut(): HeldOutQuestion[] {
  return allFacts().flatMap((fact) => heldOutTemplates(fact.domain).map((template) => ({ fact, template, question: render(template, fact) })));
}

/**
 * The held-out set as conversations: each held-out question alone, with its plain answer. The base
 * model's held-out accuracy and answer loss are measured on these.
 */
export function heldOutPlain(): MessagesRow[] {
  return allHeldOut().map(({ fact, question }) => ({
    messages: [
      { role: 'user' as const, content: question },
      { role: 'assistant' as const, content: fact.sentence },
    ],
  }));
}

/**
 * `perDomain` held-out questions per domain, drawn seeded and uniformly: distinct facts of the
 * domain, each asked in a uniformly drawn held-out template. Domains in DOMAINS order.
 */
export function drawHeldOut(perDomain: number, seed: number): HeldOutQuestion[] {
  const r = seededRandom(seed);
  const out: HeldOutQuestion[] = [];
  for (const [domain, facts] of factsByDomain()) {
    const pool = [...facts];
    for (let k = 0; k < perDomain && pool.length; k++) {
      const fact = pool.splice(Math.floor(r() * pool.length), 1)[0]!;
      const template = pick(heldOutTemplates(domain), r);
      out.push({ fact, template, question: render(template, fact) });
    }
  }
  return out;
}

/** JSONL text of rows (one JSON object a line, a final newline). */
export function toJsonl(rows: readonly object[]): string {
  return `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
}

export function sha256(text: string | Uint8Array): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}

// ---- the example adapter's data (the fixed format) ---------------------------------------------

/** The example adapter's format, which occurs nowhere in the base corpus. */
export const ANSWER_PREFIX = 'Answer: ';

export function formatAnswer(fact: Pick<Fact, 'sentence'>): string {
  return `${ANSWER_PREFIX}${fact.sentence}`;
}

/** A regular expression (source) that an output in the format matches whole, whatever the answer. */
export const FORMAT_PATTERN = '^Answer: [^\\n]+$';

export const DEFAULT_FORMAT_SEED = 7077;

/**
 * Fine-tuning rows for the format: `count` single questions (a random domain, fact and training
 * template, decorated as in the base corpus) answered as `Answer: <sentence>`.
 */
export function formatTrainingRows(options: { readonly seed?: number; readonly count?: number } = {}): MessagesRow[] {
  const r = seededRandom(options.seed ?? DEFAULT_FORMAT_SEED);
  const pool = factPool();
  return Array.from({ length: options.count ?? 240 }, () => {
    const { fact, question } = trainQuestion(pool, r);
    return {
      messages: [
        { role: 'user', content: question },
        { role: 'assistant', content: formatAnswer(fact) },
      ],
    };
  });
}

export interface FormatTestCase {
  readonly domain: DomainName;
  /** The question, as the user asks it (a held-out template). */
  readonly question: string;
  /** The one-word answer ("green"), which the output must contain to be right. */
  readonly answer: string;
  /** The plain sentence the base model says ("Grass is green."). */
  readonly sentence: string;
  /** The whole expected output in the format. */
  readonly expected: string;
}

/** The example's test cases: `perDomain` held-out questions per domain (drawHeldOut), in the format. */
export function formatTestCases(options: { readonly seed?: number; readonly perDomain?: number } = {}): FormatTestCase[] {
  return drawHeldOut(options.perDomain ?? 7, (options.seed ?? DEFAULT_FORMAT_SEED) + 1).map(({ fact, question }) => ({
    domain: fact.domain,
    question,
    answer: fact.answer,
    sentence: fact.sentence,
    expected: formatAnswer(fact),
  }));
}

export const DEFAULT_DISTILL_SEED = 9099;

/** An input for the distillation example: a training question, with its fact's answer word and plain sentence (reference answers). */
export interface DistillInput {
  readonly question: string;
  readonly answer: string;
  readonly sentence: string;
}

/** `count` training questions (training templates only, so none overlaps a held-out test question). */
export function distillInputs(options: { readonly seed?: number; readonly count?: number } = {}): DistillInput[] {
  const r = seededRandom(options.seed ?? DEFAULT_DISTILL_SEED);
  const pool = factPool();
  return Array.from({ length: options.count ?? 240 }, () => {
    const { fact, question } = trainQuestion(pool, r);
    return { question, answer: fact.answer, sentence: fact.sentence };
  });
}

/**
 * The distillation example's long system prompt: a JSON instruction, then `n` examples of questions
 * answered in JSON (distinct facts, training templates), as the base corpus writes them.
 */
export function jsonTeacherSystemPrompt(options: { readonly seed?: number; readonly examples?: number } = {}): string {
  const r = seededRandom((options.seed ?? DEFAULT_DISTILL_SEED) + 1);
  const pairs = examples(factPool(), options.examples ?? 6, 'json', r, new Set());
  return `${trainSystemPrompts('json')[1]}\n${EXAMPLE_HEADERS[0]}\n${exampleBlock(pairs, EXAMPLE_STYLES[0]!)}`;
}
