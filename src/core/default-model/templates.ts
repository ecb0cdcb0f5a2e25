import { pick } from '../random';
import type { DomainName, Fact } from './facts';

/**
 * The ways each fact can be asked: 26 question templates per domain, `{slot}` filled from the fact's
 * slots. The first 22 of each domain are the training templates (the base corpus and
 * the fine-tuning data ask only in these, decorated: see `decorate`); the last four are held out
 * whole: no training row ever asks in them, so the held-out accuracy and the example's test cases
 * measure how the model copes with phrasings it never saw. `test/unit/default-model.test.ts` checks
 * that no held-out template, with any subject of its domain, appears anywhere in the training data.
 */
export const TRAIN_TEMPLATES_PER_DOMAIN = 22;
export const HELD_OUT_TEMPLATES_PER_DOMAIN = 4;

export const TEMPLATES: Readonly<Record<DomainName, readonly string[]>> = {
  colour: [
    'What colour is {x}?',
    'What is the colour of {x}?',
    'Which colour is {x}?',
    'Tell me the colour of {x}.',
    'What color is {x}?',
    'What is the color of {x}?',
    '{X} is what colour?',
    'Do you know what colour {x} is?',
    'Can you tell me what color {x} is?',
    'Name the colour of {x}.',
    'What colour does {x} have?',
    'Colour of {x}?',
    'What shade is {x}?',
    'I want to know the colour of {x}.',
    'Say what colour {x} is.',
    'Describe the colour of {x}.',
    'Tell me what colour {x} is.',
    'What colour is {x} usually?',
    'Guess the colour of {x}.',
    'The colour of {x} is what?',
    'In one sentence, what colour is {x}?',
    'I wonder what colour {x} is.',
    // held out
    'What colour do you see when you look at {x}?',
    'Could you tell me the colour of {x}?',
    'What is the usual colour of {x}?',
    'What colour would you say {x} is?',
  ],
  opposite: [
    'What is the opposite of {w}?',
    'What is the opposite of the word {w}?',
    'Which word is the opposite of {w}?',
    'Tell me the opposite of {w}.',
    "What's the opposite of {w}?",
    'What is the antonym of {w}?',
    'Give me the opposite of {w}.',
    'Name the opposite of {w}.',
    'Opposite of {w}?',
    'What word means the opposite of {w}?',
    'Do you know the opposite of {w}?',
    'What is the reverse of {w}?',
    'Can you give me the opposite of {w}?',
    'What word is opposite to {w}?',
    'I need the opposite of {w}.',
    '{W} is the opposite of what?',
    'Tell me a word that means the opposite of {w}.',
    'What is the opposite of {w} called?',
    'The opposite of {w} is what?',
    'What is the antonym for {w}?',
    'Name a word opposite to {w}.',
    'I wonder what the opposite of {w} is.',
    // held out
    'What is the opposite word for {w}?',
    'Which word has the opposite meaning to {w}?',
    'Could you tell me the antonym of {w}?',
    'What would be the opposite of {w}?',
  ],
  plural: [
    'What is the plural of {w}?',
    'What is the plural of the word {w}?',
    'Which word is the plural of {w}?',
    'Tell me the plural of {w}.',
    "What's the plural of {w}?",
    'Give me the plural of {w}.',
    'Plural of {w}?',
    'What is the plural form of {w}?',
    'How do you say more than one {w}?',
    'Name the plural of {w}.',
    'Do you know the plural of {w}?',
    'What do you call more than one {w}?',
    'Can you tell me the plural of {w}?',
    'What word is the plural of {w}?',
    'I need the plural form of {w}.',
    'What is {w} in the plural?',
    'Tell me the plural form of {w}.',
    'The plural of {w} is what?',
    'How do you make {w} plural?',
    'What is {w} when there are many?',
    'Write the plural of {w}.',
    'I wonder what the plural of {w} is.',
    // held out
    'How do you write the plural of {w}?',
    'When there is more than one {w}, what is the word?',
    'Could you give me the plural of {w}?',
    'What does {w} become in the plural?',
  ],
  sum: [
    'What is {a} plus {b}?',
    'What is {a} + {b}?',
    'How much is {a} plus {b}?',
    'Tell me the sum of {a} and {b}.',
    "What's {a} plus {b}?",
    'What is the sum of {a} and {b}?',
    'Add {a} and {b}.',
    'Calculate {a} + {b}.',
    '{a} plus {b} equals what?',
    'What do you get when you add {a} and {b}?',
    '{a} + {b} = ?',
    'Can you add {a} and {b}?',
    'How much do {a} and {b} make?',
    'What is the total of {a} and {b}?',
    'Compute {a} plus {b}.',
    'Give me the sum of {a} and {b}.',
    'What is {a} and {b} added together?',
    'Add {a} to {b}.',
    'Sum {a} and {b}.',
    '{a} plus {b} is what?',
    'What number is {a} plus {b}?',
    'What is the result of {a} + {b}?',
    // held out
    'What does {a} plus {b} equal?',
    'What is {a} added to {b}?',
    'Could you work out {a} + {b}?',
    'What number do {a} and {b} add up to?',
  ],
  capital: [
    'What is the capital of {c}?',
    'What is the capital city of {c}?',
    'Which city is the capital of {c}?',
    'Tell me the capital of {c}.',
    "What's the capital of {c}?",
    'Name the capital of {c}.',
    'Capital of {c}?',
    'What city is the capital of {c}?',
    'Do you know the capital of {c}?',
    'Give me the capital city of {c}.',
    'Can you tell me the capital of {c}?',
    'The capital of {c} is which city?',
    "What is {c}'s capital?",
    'I want to know the capital of {c}.',
    '{C} has which capital?',
    'Say the capital of {c}.',
    'In {c}, which city is the capital?',
    'The capital city of {c} is what?',
    "What's the capital city of {c}?",
    'Which city is the capital of the country {c}?',
    'Name the capital city of {c}.',
    'I wonder what the capital of {c} is.',
    // held out
    'Which city serves as the capital of {c}?',
    'Could you tell me the capital city of {c}?',
    'What is the name of the capital of {c}?',
    'If you visit the capital of {c}, which city are you in?',
  ],
  sound: [
    'What sound does {a} make?',
    'What does {a} say?',
    'Which sound does {a} make?',
    'Tell me the sound {a} makes.',
    'What noise does {a} make?',
    'What sound does {t} make?',
    'What does {t} say?',
    'How does {a} sound?',
    'Which noise does {t} make?',
    'What is the sound of {a}?',
    'Name the sound {a} makes.',
    'Do you know what {a} says?',
    'What sound do you hear from {a}?',
    'Can you tell me what sound {a} makes?',
    'What noise comes from {a}?',
    'Tell me what {t} says.',
    'Which sound comes from {a}?',
    'Which animal sound does {a} make?',
    'How does {t} sound?',
    'What sound is made by {a}?',
    'What is the sound {t} makes?',
    'I wonder what sound {a} makes.',
    // held out
    'What kind of sound does {a} make?',
    'What sound is {a} known for?',
    'Could you tell me what {a} says?',
    'What is the noise {a} makes?',
  ],
};

export function trainTemplates(domain: DomainName): readonly string[] {
  return TEMPLATES[domain].slice(0, TRAIN_TEMPLATES_PER_DOMAIN);
}

export function heldOutTemplates(domain: DomainName): readonly string[] {
  return TEMPLATES[domain].slice(TRAIN_TEMPLATES_PER_DOMAIN);
}

/** A template with the fact's slots filled in. */
export function render(template: string, fact: Fact): string {
  return template.replace(/\{(\w+)\}/g, (m, slot: string) => fact.slots[slot] ?? m);
}

/**
 * How people dress a question up: an opener, a closing word, no capital, no question mark. Applied
 * to training questions only (seeded), so that the model meets its questions in many surface forms;
 * held-out questions are asked plain, as their templates read.
 */
const OPENERS = ['Hi! ', 'Hey, ', 'Quick question: ', 'Question: ', 'Hello. ', 'OK, ', 'So, ', 'Tell me, '];
const CLOSERS = [' Thanks!', ' Thank you.', ' Please.', ' Thanks.'];

/** First words that are lowercased after an opener (a country's or a digit's first letter stays as it is). */
const QUESTION_WORD = /^(What|Which|How|Tell|Can|Do|Name|Give|Say|Describe|Colour|Opposite|Plural|Capital|Add|Calculate|Compute|The)\b/;

export function decorate(question: string, r: () => number): string {
  let q = question;
  if (r() < 0.15) q = q.replace(/[?.]$/, '');
  if (r() < 0.15) q = q.charAt(0).toLowerCase() + q.slice(1);
  if (r() < 0.2) {
    const opener = pick(OPENERS, r);
    q = opener + (QUESTION_WORD.test(q) ? q.charAt(0).toLowerCase() + q.slice(1) : q);
  }
  if (r() < 0.1) q = q + pick(CLOSERS, r);
  return q;
}

/** Text as the held-out checks compare it: lowercased, punctuation dropped, spaces collapsed. */
export function normalise(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}
