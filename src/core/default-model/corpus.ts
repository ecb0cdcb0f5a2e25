import * as crypto from 'node:crypto';
import { seededRandom } from '../random';
import { shuffle } from '../train/data';

/**
 * The text the embedded default model learns from, generated here (nothing is downloaded): short
 * chat conversations in a handful of templated domains, where a user asks a question and the
 * assistant answers in one plain sentence ("What colour is grass?" → "Grass is green.").
 *
 * Every fact can be asked four ways (paraphrase templates). The base corpus asks each fact three of
 * the four ways; the fourth (picked per fact, seeded) is held out of every training set. The base
 * model's held-out loss is measured on those questions, and the fine-tuning example's test cases
 * are drawn from them.
 *
 * A second generator, separate from the first, makes data for teaching the model a behaviour it
 * never shows: answering in a fixed format (`Answer: Grass is green.`, or
 * `{"answer": "Grass is green."}`), which occurs nowhere in the base corpus. Its training rows are
 * the base corpus's questions answered in the format; its test cases are held-out questions, so no
 * test question appears in either training set.
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

export type DomainName = 'colour' | 'opposite' | 'plural' | 'sum' | 'capital' | 'sound';

export interface Fact {
  readonly domain: DomainName;
  /** Stable identity: `<domain>:<subject>`. */
  readonly id: string;
  /** What the question is about, as it reads inside a question ("the sky", "cat", "3 and 4"). */
  readonly subject: string;
  /** The one-word answer ("blue", "cats", "7"). */
  readonly answer: string;
  /** The plain answer sentence the base model learns ("The sky is blue."). */
  readonly sentence: string;
  /** The four ways to ask it. */
  readonly questions: readonly [string, string, string, string];
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

// ---- the domains -------------------------------------------------------------------------------

const COLOURS: readonly (readonly [string, string])[] = [
  ['grass', 'green'],
  ['the sky', 'blue'],
  ['snow', 'white'],
  ['coal', 'black'],
  ['blood', 'red'],
  ['a banana', 'yellow'],
  ['a lemon', 'yellow'],
  ['a tomato', 'red'],
  ['an orange', 'orange'],
  ['milk', 'white'],
  ['the sun', 'yellow'],
  ['a carrot', 'orange'],
  ['a frog', 'green'],
  ['a crow', 'black'],
  ['chocolate', 'brown'],
  ['a strawberry', 'red'],
  ['the sea', 'blue'],
  ['a cucumber', 'green'],
  ['an eggplant', 'purple'],
  ['a pumpkin', 'orange'],
  ['a polar bear', 'white'],
  ['a lime', 'green'],
  ['a cherry', 'red'],
  ['soil', 'brown'],
  ['a flamingo', 'pink'],
  ['ink', 'black'],
  ['a plum', 'purple'],
  ['a pine tree', 'green'],
  ['salt', 'white'],
  ['a fire truck', 'red'],
  ['an elephant', 'grey'],
  ['a raven', 'black'],
  ['a blueberry', 'blue'],
  ['wood', 'brown'],
  ['a cloud', 'white'],
  ['a pig', 'pink'],
  ['a leaf', 'green'],
  ['a koala', 'grey'],
  ['a grape', 'purple'],
  ['rust', 'brown'],
];

/** Pairs asked in both directions (each word has one opposite). */
const OPPOSITES: readonly (readonly [string, string])[] = [
  ['hot', 'cold'],
  ['big', 'small'],
  ['up', 'down'],
  ['fast', 'slow'],
  ['happy', 'sad'],
  ['light', 'dark'],
  ['old', 'young'],
  ['wet', 'dry'],
  ['open', 'closed'],
  ['full', 'empty'],
  ['hard', 'soft'],
  ['early', 'late'],
  ['rich', 'poor'],
  ['loud', 'quiet'],
  ['strong', 'weak'],
  ['thick', 'thin'],
  ['left', 'right'],
  ['day', 'night'],
  ['push', 'pull'],
  ['good', 'bad'],
  ['first', 'last'],
  ['near', 'far'],
  ['clean', 'dirty'],
  ['sweet', 'sour'],
  ['win', 'lose'],
];

const PLURALS: readonly (readonly [string, string])[] = [
  ['cat', 'cats'],
  ['dog', 'dogs'],
  ['box', 'boxes'],
  ['mouse', 'mice'],
  ['child', 'children'],
  ['foot', 'feet'],
  ['tooth', 'teeth'],
  ['man', 'men'],
  ['woman', 'women'],
  ['goose', 'geese'],
  ['sheep', 'sheep'],
  ['fish', 'fish'],
  ['baby', 'babies'],
  ['city', 'cities'],
  ['knife', 'knives'],
  ['leaf', 'leaves'],
  ['wolf', 'wolves'],
  ['bus', 'buses'],
  ['glass', 'glasses'],
  ['person', 'people'],
  ['ox', 'oxen'],
  ['house', 'houses'],
  ['car', 'cars'],
  ['apple', 'apples'],
  ['book', 'books'],
  ['tree', 'trees'],
  ['bird', 'birds'],
  ['dish', 'dishes'],
  ['fox', 'foxes'],
  ['toy', 'toys'],
  ['key', 'keys'],
  ['party', 'parties'],
  ['story', 'stories'],
  ['potato', 'potatoes'],
  ['hero', 'heroes'],
  ['church', 'churches'],
  ['watch', 'watches'],
  ['life', 'lives'],
  ['shelf', 'shelves'],
  ['lady', 'ladies'],
];

const CAPITALS: readonly (readonly [string, string])[] = [
  ['France', 'Paris'],
  ['Spain', 'Madrid'],
  ['Italy', 'Rome'],
  ['Germany', 'Berlin'],
  ['Japan', 'Tokyo'],
  ['Egypt', 'Cairo'],
  ['Russia', 'Moscow'],
  ['Greece', 'Athens'],
  ['Portugal', 'Lisbon'],
  ['Ireland', 'Dublin'],
  ['Norway', 'Oslo'],
  ['Sweden', 'Stockholm'],
  ['Finland', 'Helsinki'],
  ['Poland', 'Warsaw'],
  ['Austria', 'Vienna'],
  ['Peru', 'Lima'],
  ['Kenya', 'Nairobi'],
  ['China', 'Beijing'],
  ['England', 'London'],
  ['Cuba', 'Havana'],
  ['Chile', 'Santiago'],
  ['Canada', 'Ottawa'],
  ['Denmark', 'Copenhagen'],
  ['Hungary', 'Budapest'],
  ['Belgium', 'Brussels'],
  ['Thailand', 'Bangkok'],
  ['Iceland', 'Reykjavik'],
  ['Turkey', 'Ankara'],
  ['Scotland', 'Edinburgh'],
  ['Wales', 'Cardiff'],
];

const SOUNDS: readonly (readonly [string, string])[] = [
  ['dog', 'woof'],
  ['cat', 'meow'],
  ['cow', 'moo'],
  ['duck', 'quack'],
  ['sheep', 'baa'],
  ['pig', 'oink'],
  ['lion', 'roar'],
  ['owl', 'hoot'],
  ['horse', 'neigh'],
  ['frog', 'croak'],
  ['snake', 'hiss'],
  ['bee', 'buzz'],
  ['mouse', 'squeak'],
  ['donkey', 'bray'],
  ['wolf', 'howl'],
  ['crow', 'caw'],
  ['dove', 'coo'],
  ['turkey', 'gobble'],
  ['hen', 'cluck'],
  ['elephant', 'trumpet'],
  ['goat', 'bleat'],
  ['chick', 'cheep'],
  ['bird', 'tweet'],
  ['tiger', 'growl'],
];

const article = (noun: string) => (/^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`);

function q4(a: string, b: string, c: string, d: string): readonly [string, string, string, string] {
  return [a, b, c, d];
}

/** Every fact of every domain, in a fixed order. */
export function allFacts(): Fact[] {
  const facts: Fact[] = [];
  for (const [thing, colour] of COLOURS) {
    const verb = 'is';
    facts.push({
      domain: 'colour',
      id: `colour:${thing}`,
      subject: thing,
      answer: colour,
      sentence: `${cap(thing)} ${verb} ${colour}.`,
      questions: q4(`What colour is ${thing}?`, `What is the colour of ${thing}?`, `Which colour is ${thing}?`, `Tell me the colour of ${thing}.`),
    });
  }
  const opposite = (w: string, o: string): Fact => ({
    domain: 'opposite',
    id: `opposite:${w}`,
    subject: w,
    answer: o,
    sentence: `The opposite of ${w} is ${o}.`,
    questions: q4(
      `What is the opposite of ${w}?`,
      `What is the opposite of the word ${w}?`,
      `Which word is the opposite of ${w}?`,
      `Tell me the opposite of ${w}.`,
    ),
  });
  for (const [a, b] of OPPOSITES) facts.push(opposite(a, b), opposite(b, a));
  for (const [one, many] of PLURALS) {
    facts.push({
      domain: 'plural',
      id: `plural:${one}`,
      subject: one,
      answer: many,
      sentence: `The plural of ${one} is ${many}.`,
      questions: q4(
        `What is the plural of ${one}?`,
        `What is the plural of the word ${one}?`,
        `Which word is the plural of ${one}?`,
        `Tell me the plural of ${one}.`,
      ),
    });
  }
  for (let a = 0; a <= 9; a++) {
    for (let b = 0; b <= 9; b++) {
      facts.push({
        domain: 'sum',
        id: `sum:${a}+${b}`,
        subject: `${a} and ${b}`,
        answer: String(a + b),
        sentence: `${a} plus ${b} is ${a + b}.`,
        questions: q4(`What is ${a} plus ${b}?`, `What is ${a} + ${b}?`, `How much is ${a} plus ${b}?`, `Tell me the sum of ${a} and ${b}.`),
      });
    }
  }
  for (const [country, city] of CAPITALS) {
    facts.push({
      domain: 'capital',
      id: `capital:${country}`,
      subject: country,
      answer: city,
      sentence: `The capital of ${country} is ${city}.`,
      questions: q4(
        `What is the capital of ${country}?`,
        `What is the capital city of ${country}?`,
        `Which city is the capital of ${country}?`,
        `Tell me the capital of ${country}.`,
      ),
    });
  }
  for (const [animal, sound] of SOUNDS) {
    const a = article(animal);
    facts.push({
      domain: 'sound',
      id: `sound:${animal}`,
      subject: animal,
      answer: sound,
      sentence: `${cap(a)} says ${sound}.`,
      questions: q4(`What sound does ${a} make?`, `What does ${a} say?`, `Which sound does ${a} make?`, `Tell me the sound ${a} makes.`),
    });
  }
  return facts;
}

// ---- the split ---------------------------------------------------------------------------------

export const DEFAULT_CORPUS_SEED = 20240611;

/** System messages a share of the base rows carry, so that prompts with a system turn read as familiar. */
export const SYSTEM_MESSAGES: readonly string[] = [
  'You are a helpful assistant.',
  'Answer the question in one short sentence.',
  'You answer questions about words, numbers and the world.',
  'Be brief.',
];

export interface FactSplit {
  readonly fact: Fact;
  /** Index (0..3) of the question form held out of every training set. */
  readonly heldOut: number;
}

/** The seeded split: per fact, the question form held out of every training set. */
export function splitFacts(seed = DEFAULT_CORPUS_SEED): FactSplit[] {
  const r = seededRandom(seed);
  return allFacts().map((fact) => ({ fact, heldOut: Math.floor(r() * 4) }));
}

// ---- the base corpus ---------------------------------------------------------------------------

export interface BaseCorpusOptions {
  readonly seed?: number;
  /** Share of rows that start with a system message (default 0: every row is one user turn and the answer). */
  readonly systemShare?: number;
}

/**
 * The base corpus: every fact asked in its three non-held-out forms and answered with its plain
 * sentence, in a seeded order. Rows are `messages` rows (ChatML through the tokenizer's template).
 */
export function baseCorpus(options: BaseCorpusOptions = {}): MessagesRow[] {
  const seed = options.seed ?? DEFAULT_CORPUS_SEED;
  const systemShare = options.systemShare ?? 0;
  const r = seededRandom(seed + 101);
  const rows: MessagesRow[] = [];
  for (const { fact, heldOut } of splitFacts(seed)) {
    fact.questions.forEach((q, k) => {
      if (k === heldOut) return;
      const messages: ChatTurn[] = [];
      if (r() < systemShare) messages.push({ role: 'system', content: SYSTEM_MESSAGES[Math.floor(r() * SYSTEM_MESSAGES.length)]! });
      messages.push({ role: 'user', content: q }, { role: 'assistant', content: fact.sentence });
      rows.push({ messages });
    });
  }
  return shuffle(rows, seed + 202);
}

/** The held-out questions of every fact with their plain answers: the base model's held-out set. */
export function heldOutPlain(seed = DEFAULT_CORPUS_SEED): MessagesRow[] {
  return splitFacts(seed).map(({ fact, heldOut }) => ({
    messages: [
      { role: 'user', content: fact.questions[heldOut]! },
      { role: 'assistant', content: fact.sentence },
    ],
  }));
}

/** JSONL text of rows (one JSON object a line, a final newline). */
export function toJsonl(rows: readonly object[]): string {
  return `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
}

export function sha256(text: string | Uint8Array): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}

// ---- the fine-tuning generator (the fixed format) ----------------------------------------------

/**
 * The fixed answer formats a fine-tune can teach, neither of which occurs in the base corpus:
 * `json`, the plain sentence as a JSON object (`{"answer": "Grass is green."}`), and `prefix`, the
 * sentence after a label (`Answer: Grass is green.`). Both keep the sentence the model already
 * knows how to say, so a small adapter changes the form without having to move the knowledge.
 */
export type AnswerFormat = 'prefix' | 'json';

export const DEFAULT_FORMAT: AnswerFormat = 'prefix';

export function formatAnswer(fact: Pick<Fact, 'sentence' | 'answer'>, format: AnswerFormat = DEFAULT_FORMAT): string {
  switch (format) {
    case 'json':
      return `{"answer": ${JSON.stringify(fact.sentence)}}`;
    case 'prefix':
      return `Answer: ${fact.sentence}`;
  }
}

/** A regular expression (source) that an output in the format matches whole, whatever the answer. */
export function formatPattern(format: AnswerFormat = DEFAULT_FORMAT): string {
  switch (format) {
    case 'json':
      return '^\\{"answer": "[^"\\n]+"\\}$';
    case 'prefix':
      return '^Answer: [^\\n]+$';
  }
}

export interface FormatOptions {
  readonly seed?: number;
  readonly format?: AnswerFormat;
}

export interface FormatTestCase {
  readonly domain: DomainName;
  /** The question, as the user asks it. */
  readonly question: string;
  /** The one-word answer ("green"), which the output must contain to be right. */
  readonly answer: string;
  /** The plain sentence the base model says ("Grass is green."). */
  readonly sentence: string;
  /** The whole expected output in the format. */
  readonly expected: string;
}

/**
 * Fine-tuning rows for the format: every fact, asked the three ways the base corpus asks it, answered
 * in the format. `count` rows (default: all of them, one per base-corpus question), seeded order.
 */
export function formatTrainingRows(options: FormatOptions & { readonly count?: number } = {}): MessagesRow[] {
  const seed = options.seed ?? DEFAULT_CORPUS_SEED;
  const rows: MessagesRow[] = [];
  for (const { fact, heldOut } of splitFacts(seed)) {
    fact.questions.forEach((q, k) => {
      if (k !== heldOut)
        rows.push({
          messages: [
            { role: 'user', content: q },
            { role: 'assistant', content: formatAnswer(fact, options.format) },
          ],
        });
    });
  }
  const all = shuffle(rows, seed + 303);
  return options.count === undefined ? all : all.slice(0, options.count);
}

/**
 * Test cases for the format: held-out questions, which are in neither the base corpus nor the
 * fine-tuning rows. `count` cases (default 40, at most one per fact), drawn round-robin over the
 * domains so that every domain is represented, each domain's order seeded.
 */
export function formatTestCases(options: FormatOptions & { readonly count?: number } = {}): FormatTestCase[] {
  const seed = options.seed ?? DEFAULT_CORPUS_SEED;
  const count = options.count ?? 40;
  const byDomain = new Map<DomainName, FormatTestCase[]>();
  for (const { fact, heldOut } of splitFacts(seed)) {
    const list = byDomain.get(fact.domain) ?? [];
    list.push({
      domain: fact.domain,
      question: fact.questions[heldOut]!,
      answer: fact.answer,
      sentence: fact.sentence,
      expected: formatAnswer(fact, options.format),
    });
    byDomain.set(fact.domain, list);
  }
  const queues = [...byDomain.values()].map((list, k) => shuffle(list, seed + 404 + k));
  const out: FormatTestCase[] = [];
  for (let i = 0; out.length < count && queues.some((q) => i < q.length); i++) {
    for (const q of queues) if (i < q.length && out.length < count) out.push(q[i]!);
  }
  return out;
}
