/**
 * What the embedded default model knows: six templated domains of facts (colours of things,
 * opposites, plurals, sums of numbers 0 to 9, capitals, animal sounds), each fact with its one-word
 * answer, its plain answer sentence ("Snow is white.", "The capital of Portugal is Lisbon.") and the
 * words a question about it is built from (`slots`, filled into templates.ts's question templates).
 */

export type DomainName = 'colour' | 'opposite' | 'plural' | 'sum' | 'capital' | 'sound';

export const DOMAINS: readonly DomainName[] = ['colour', 'opposite', 'plural', 'sum', 'capital', 'sound'];

export interface Fact {
  readonly domain: DomainName;
  /** Stable identity: `<domain>:<subject>`. */
  readonly id: string;
  /** The one-word answer ("blue", "cats", "7", "Lisbon"). */
  readonly answer: string;
  /** The plain answer sentence the base model learns ("The sky is blue."). */
  readonly sentence: string;
  /** The words a question template fills in, by slot name (`{x}` → slots.x). */
  readonly slots: Readonly<Record<string, string>>;
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const article = (noun: string) => (/^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`);

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
  ['a canary', 'yellow'],
  ['a swan', 'white'],
  ['an emerald', 'green'],
  ['a ruby', 'red'],
  ['a sapphire', 'blue'],
  ['coffee', 'brown'],
  ['a violet', 'purple'],
  ['a dolphin', 'grey'],
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
  ['high', 'low'],
  ['true', 'false'],
  ['buy', 'sell'],
  ['love', 'hate'],
  ['above', 'below'],
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
  ['bench', 'benches'],
  ['wife', 'wives'],
  ['deer', 'deer'],
  ['half', 'halves'],
  ['day', 'days'],
  ['boy', 'boys'],
  ['girl', 'girls'],
  ['hat', 'hats'],
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
  ['Australia', 'Canberra'],
  ['India', 'New Delhi'],
  ['Brazil', 'Brasilia'],
  ['Mexico', 'Mexico City'],
  ['Argentina', 'Buenos Aires'],
  ['South Korea', 'Seoul'],
  ['the Netherlands', 'Amsterdam'],
  ['Switzerland', 'Bern'],
  ['Ukraine', 'Kyiv'],
  ['Romania', 'Bucharest'],
  ['Morocco', 'Rabat'],
  ['Vietnam', 'Hanoi'],
  ['Indonesia', 'Jakarta'],
  ['New Zealand', 'Wellington'],
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
  ['goose', 'honk'],
  ['cricket', 'chirp'],
  ['seal', 'bark'],
  ['rooster', 'cock-a-doodle-doo'],
];

/** Every fact of every domain, in a fixed order. */
export function allFacts(): Fact[] {
  const facts: Fact[] = [];
  for (const [thing, colour] of COLOURS)
    facts.push({ domain: 'colour', id: `colour:${thing}`, answer: colour, sentence: `${cap(thing)} is ${colour}.`, slots: { x: thing, X: cap(thing) } });
  const opposite = (w: string, o: string): Fact => ({
    domain: 'opposite',
    id: `opposite:${w}`,
    answer: o,
    sentence: `The opposite of ${w} is ${o}.`,
    slots: { w, W: cap(w) },
  });
  for (const [a, b] of OPPOSITES) facts.push(opposite(a, b), opposite(b, a));
  for (const [one, many] of PLURALS)
    facts.push({ domain: 'plural', id: `plural:${one}`, answer: many, sentence: `The plural of ${one} is ${many}.`, slots: { w: one, W: cap(one) } });
  for (let a = 0; a <= 9; a++)
    for (let b = 0; b <= 9; b++)
      facts.push({ domain: 'sum', id: `sum:${a}+${b}`, answer: String(a + b), sentence: `${a} plus ${b} is ${a + b}.`, slots: { a: String(a), b: String(b) } });
  for (const [country, city] of CAPITALS)
    facts.push({
      domain: 'capital',
      id: `capital:${country}`,
      answer: city,
      sentence: `The capital of ${country} is ${city}.`,
      slots: { c: country, C: cap(country) },
    });
  for (const [animal, sound] of SOUNDS) {
    const a = article(animal);
    facts.push({ domain: 'sound', id: `sound:${animal}`, answer: sound, sentence: `${cap(a)} says ${sound}.`, slots: { a, A: cap(a), t: `the ${animal}` } });
  }
  return facts;
}
