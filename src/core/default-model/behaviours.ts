import type { Fact } from './facts';

/**
 * The ways of answering the base corpus teaches, each switched on by a system prompt or shown by
 * examples before the question (few-shot), so that a long prompt can be distilled into an adapter:
 *
 * - `plain`: the answer sentence ("Grass is green."): what the model says with no instruction;
 * - `word`: the answer word alone ("green");
 * - `json`: a JSON object holding the answer word (`{"answer": "green"}`);
 * - `sure`: the sentence after a cheerful "Sure! " ("Sure! Grass is green.").
 *
 * None of them is the example adapter's format (`Answer: Grass is green.`), which appears nowhere in
 * the base corpus, not even inside a prompt.
 */
export type Behaviour = 'plain' | 'word' | 'json' | 'sure';

export const BEHAVIOURS: readonly Behaviour[] = ['plain', 'word', 'json', 'sure'];
/** The behaviours a system prompt or examples switch on (everything but the default). */
export const INSTRUCTED: readonly Exclude<Behaviour, 'plain'>[] = ['word', 'json', 'sure'];

export function respond(fact: Pick<Fact, 'sentence' | 'answer'>, behaviour: Behaviour): string {
  switch (behaviour) {
    case 'plain':
      return fact.sentence;
    case 'word':
      return fact.answer;
    case 'json':
      return `{"answer": ${JSON.stringify(fact.answer)}}`;
    case 'sure':
      return `Sure! ${fact.sentence}`;
  }
}

/**
 * System prompts per behaviour. The first ones are used in training; the last two of each are held
 * out (never in any training row), to measure how well an instruction worded anew is followed.
 * `plain` prompts say nothing about the form: the model answers with its sentence.
 */
export const SYSTEM_PROMPTS: Readonly<Record<Behaviour, readonly string[]>> = {
  plain: [
    'You are a helpful assistant.',
    'Answer the question in one short sentence.',
    'You answer questions about words, numbers and the world.',
    'Be brief.',
    'Reply with a complete sentence.',
    'You are a friendly assistant.',
    'Answer clearly and correctly.',
    'You are a quiz helper.',
    'Answer in a full sentence.',
    'You are a patient teacher.',
    'Give a correct answer.',
    'Keep it simple.',
    // held out
    'You are a knowledgeable assistant.',
    'Give a short, correct reply.',
  ],
  word: [
    'Answer with one word.',
    'Reply with a single word.',
    'Give only the answer word, not a sentence.',
    'One word only.',
    'Respond with just one word.',
    'Answer in one word, with no sentence.',
    'Use a single word for each answer.',
    'Keep every answer to one word.',
    'Just the answer word, please.',
    'Answer with a single word and nothing else.',
    'Do not write a sentence; give one word.',
    'Reply in one word.',
    'Only one word per answer.',
    'Short answers: one word.',
    // held out
    'Your answers must be one word long.',
    'Say only the key word, nothing else.',
  ],
  json: [
    'Answer in JSON.',
    'Reply with a JSON object: {"answer": "..."}.',
    'Respond in JSON with one key, "answer".',
    'Return your answer as JSON.',
    'Format the answer as a JSON object.',
    'Output JSON only.',
    'Give the answer as {"answer": <word>}.',
    'Write the answer as JSON with the key "answer".',
    'Respond with JSON.',
    'Use JSON for your answer.',
    'Answer as a JSON object with an "answer" field.',
    'Return {"answer": ...} and nothing else.',
    'Every reply is a JSON object.',
    'Write JSON, not prose.',
    // held out
    'Your reply must be valid JSON.',
    'Reply with a JSON object that holds the answer word.',
  ],
  sure: [
    "Start your answer with 'Sure!'.",
    'Begin every reply with Sure!',
    "Always open with 'Sure!' and then answer.",
    "Say 'Sure!' first, then answer in a sentence.",
    'Start with the word Sure!',
    "Open each answer with 'Sure!'.",
    "Be cheerful: begin with 'Sure!'.",
    "Reply with 'Sure!' followed by the answer.",
    "Start each reply with 'Sure!'.",
    'Begin your answer with the word Sure!',
    "First say 'Sure!', then give the answer.",
    "Answer cheerfully, starting with 'Sure!'.",
    'Sure! comes first in every answer.',
    "Lead with 'Sure!' and then the sentence.",
    // held out
    "Put 'Sure!' before every answer.",
    'Your replies begin with Sure!',
  ],
};

export const HELD_OUT_SYSTEM_PROMPTS = 2;

/** Plain system prompts that say nothing about the form, so they can open an instruction. */
export const NEUTRAL_PROMPTS: readonly string[] = [
  'You are a helpful assistant.',
  'You answer questions about words, numbers and the world.',
  'You are a friendly assistant.',
  'You are a quiz helper.',
  'You are a patient teacher.',
];

export function trainSystemPrompts(b: Behaviour): readonly string[] {
  return SYSTEM_PROMPTS[b].slice(0, -HELD_OUT_SYSTEM_PROMPTS);
}

export function heldOutSystemPrompts(b: Behaviour): readonly string[] {
  return SYSTEM_PROMPTS[b].slice(-HELD_OUT_SYSTEM_PROMPTS);
}

/**
 * System prompts that ask the model to answer as the examples before the question do: a few-shot
 * prompt whose examples are earlier chat turns starts with one of these (without one, the model
 * answers a conversation's questions plainly, whatever came before).
 */
export const FOLLOW_PROMPTS: readonly string[] = [
  'Answer in the same style as the examples.',
  'Follow the examples.',
  'Match the form of the earlier answers.',
  'Answer the way the previous answers do.',
  'Answer like the examples above.',
  'Use the same format as before.',
];

/** How examples are written inside a prompt: a question line and an answer line. */
export const EXAMPLE_STYLES: readonly (readonly [string, string])[] = [
  ['Q: ', 'A: '],
  ['User: ', 'Assistant: '],
  ['Input: ', 'Output: '],
];

/** Lines that introduce examples inside a system prompt (the examples show the behaviour). */
export const EXAMPLE_HEADERS: readonly string[] = [
  'Examples:',
  'Answer like in these examples:',
  'Follow the style of these examples.',
  'Here are some examples.',
  'For example:',
  'Some examples:',
];

/** A block of examples: question and answer lines, one pair after another. */
export function exampleBlock(pairs: readonly (readonly [string, string])[], style: readonly [string, string]): string {
  return pairs.map(([q, a]) => `${style[0]}${q}\n${style[1]}${a}`).join('\n');
}
