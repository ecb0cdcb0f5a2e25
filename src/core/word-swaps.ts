/**
 * Word swaps for counterfactual probes: "he asked his doctor" → "she asked her doctor" → "they
 * asked their doctor". A table has columns (the swaps) and rows (words that correspond); any word
 * of any column is replaced by the same row's word in the target column, keeping its case.
 *
 * Grammar, as far as a table can carry it:
 * - a word in two rows of one column ("her": object and possessive; "his": possessive before a
 *   noun or alone) is resolved by what follows: a row marked `before: 'noun'` applies when a word
 *   follows on the same clause that is not a function word ("her book"), the other row otherwise
 *   ("to her.", "her and");
 * - after a subject (a row marked `subject`), the word that follows agrees with the target column
 *   when it is a verb in the present tense: is/are, was/were, has/have, does/do and their negations
 *   ("he is" → "they are"), and regular verbs by their -s ("he asks" → "they ask", "they try" →
 *   "she tries"). Adverbs, modals and past forms are left ("he always asks" keeps "asks": only the
 *   word right after the subject is read), and an irregular verb outside these lists may come out
 *   wrong; the report shows the swapped text, which a reader can check.
 * Phrases ("my husband") match across spaces. Words are letters, digits and inner apostrophes.
 */

export interface WordRow {
  /** One word or phrase per column. */
  readonly words: readonly string[];
  /** Where one column's word is in two rows: this row applies before a noun, the other row elsewhere. */
  readonly before?: 'noun' | 'other';
  /** The row is a subject: the verb after it agrees with the target column. */
  readonly subject?: boolean;
}

export interface WordTable {
  readonly labels: readonly string[];
  readonly rows: readonly WordRow[];
  /** Columns whose subjects take plural verbs (they). */
  readonly plural?: readonly boolean[];
}

/** Built-in tables, by the name a probe's `words:` gives. */
export const WORD_TABLES: Readonly<Record<string, WordTable>> = {
  pronouns: {
    labels: ['he', 'she', 'they'],
    plural: [false, false, true],
    rows: [
      { words: ['he', 'she', 'they'], subject: true },
      { words: ['him', 'her', 'them'], before: 'other' },
      { words: ['his', 'her', 'their'], before: 'noun' },
      { words: ['his', 'hers', 'theirs'], before: 'other' },
      { words: ['himself', 'herself', 'themselves'] },
      { words: ["he's", "she's", "they're"] },
      { words: ["he'd", "she'd", "they'd"] },
      { words: ["he'll", "she'll", "they'll"] },
    ],
  },
  'gendered-nouns': {
    labels: ['male', 'female'],
    rows: [
      ['man', 'woman'],
      ['men', 'women'],
      ['boy', 'girl'],
      ['boys', 'girls'],
      ['husband', 'wife'],
      ['father', 'mother'],
      ['son', 'daughter'],
      ['brother', 'sister'],
      ['boyfriend', 'girlfriend'],
      ['uncle', 'aunt'],
      ['nephew', 'niece'],
      ['grandfather', 'grandmother'],
      ['king', 'queen'],
      ['mr', 'ms'],
    ].map((words) => ({ words })),
  },
};

/** Verbs after a subject: singular ↔ plural. */
const SINGULAR_TO_PLURAL: Readonly<Record<string, string>> = {
  is: 'are',
  was: 'were',
  has: 'have',
  does: 'do',
  "isn't": "aren't",
  "wasn't": "weren't",
  "hasn't": "haven't",
  "doesn't": "don't",
};
const PLURAL_TO_SINGULAR: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(SINGULAR_TO_PLURAL).map(([a, b]) => [b, a]));

/** Words that follow a subject and are not present-tense verbs to inflect: adverbs, modals, past forms. */
const NOT_INFLECTED = new Set(
  (
    'always never often also usually really just still only even already sometimes perhaps probably thus ' +
    'can could will would shall should may might must did had were was said went made took came saw knew got gave ' +
    'found thought told felt left kept brought began ran wrote sat stood heard meant met paid sent spent built lost held ' +
    'put set cut hit let read'
  ).split(' '),
);

/** A regular present-tense verb's third person singular: ask → asks, try → tries, watch → watches. */
function thirdPerson(verb: string): string | undefined {
  if (NOT_INFLECTED.has(verb) || verb.endsWith('ed') || verb.endsWith('s') || !/^[a-z]+$/.test(verb) || verb.length < 2) return undefined;
  if (/[^aeiou]y$/.test(verb)) return `${verb.slice(0, -1)}ies`;
  if (/(ch|sh|x|z|o)$/.test(verb)) return `${verb}es`;
  return `${verb}s`;
}

/** The plural form of a third-person verb: asks → ask, tries → try, watches → watch. */
function baseForm(verb: string): string | undefined {
  if (NOT_INFLECTED.has(verb) || !/^[a-z]+s$/.test(verb) || verb.endsWith('ss') || verb.length < 4) return undefined;
  if (/[^aeiou]ies$/.test(verb)) return `${verb.slice(0, -3)}y`;
  if (/(ch|sh|x|z|o)es$/.test(verb)) return verb.slice(0, -2);
  return verb.slice(0, -1);
}

/** Words after which "her"/"his" is not a determiner: the next word is not its noun. */
const FUNCTION_WORDS = new Set(
  (
    'a an the and or but nor so yet to of in on at by for with from about as than that this these those it its ' +
    'is are was were be been am has have had do does did will would can could should may might must ' +
    'again too also very not now then here there today tomorrow yesterday up down out off over back away ' +
    'when where while if because before after since until who whom which what why how'
  ).split(' '),
);

/** Words and the text between them. */
const TOKEN = /[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*|[^\p{L}\p{N}]+/gu;
const isWord = (t: string) => /^[\p{L}\p{N}]/u.test(t);
const normal = (w: string) => w.toLowerCase().replace(/’/g, "'");

/** The case of `like` on `word`: all capitals, a capital first letter, or as written. */
function withCase(word: string, like: string): string {
  if (like.length > 1 && like === like.toUpperCase() && like !== like.toLowerCase()) return word.toUpperCase();
  if (like[0] !== undefined && like[0] === like[0].toUpperCase() && like[0] !== like[0].toLowerCase()) return word[0]!.toUpperCase() + word.slice(1);
  return word;
}

interface Match {
  readonly row: number;
  readonly column: number;
  /** Tokens the match covers (a phrase spans words and the spaces between). */
  readonly length: number;
}

/** A compiled table: each word or phrase (normalized) → where it is. */
export class WordSwapper {
  private readonly entries = new Map<string, { row: number; column: number }[]>();
  private readonly longest: number;

  constructor(readonly table: WordTable) {
    let longest = 1;
    table.rows.forEach((r, row) =>
      r.words.forEach((w, column) => {
        const key = normal(w).split(/\s+/).join(' ');
        longest = Math.max(longest, key.split(' ').length);
        const at = this.entries.get(key) ?? [];
        if (!at.some((x) => x.column === column && x.row === row)) at.push({ row, column });
        this.entries.set(key, at);
      }),
    );
    this.longest = longest;
  }

  /** `text` with each table word swapped into `column`. */
  swap(text: string, column: number): string {
    const tokens = text.match(TOKEN) ?? [];
    const out: string[] = [];
    let i = 0;
    let agreeNext: 'plural' | 'singular' | undefined;
    while (i < tokens.length) {
      const t = tokens[i]!;
      if (!isWord(t)) {
        out.push(t);
        // Agreement reaches over spaces only.
        if (!/^\s+$/.test(t)) agreeNext = undefined;
        i++;
        continue;
      }
      if (agreeNext) {
        const verbs = agreeNext === 'plural' ? SINGULAR_TO_PLURAL : PLURAL_TO_SINGULAR;
        const w = normal(t);
        const v = verbs[w] ?? (agreeNext === 'plural' ? baseForm(w) : thirdPerson(w));
        agreeNext = undefined;
        if (v) {
          out.push(withCase(v, t));
          i++;
          continue;
        }
      }
      const m = this.match(tokens, i);
      if (!m) {
        out.push(t);
        i++;
        continue;
      }
      const target = this.table.rows[m.row]!.words[column]!;
      const written = tokens.slice(i, i + m.length).join('');
      out.push(m.column === column ? written : withCase(target, written));
      if (this.table.rows[m.row]!.subject && m.column !== column) {
        const from = this.table.plural?.[m.column] ?? false;
        const to = this.table.plural?.[column] ?? false;
        if (from !== to) agreeNext = to ? 'plural' : 'singular';
      }
      i += m.length;
    }
    return out.join('');
  }

  /** The longest table entry starting at word token i, with the row chosen by what follows. */
  private match(tokens: readonly string[], i: number): Match | undefined {
    for (let words = this.longest; words >= 1; words--) {
      // words w tokens apart, joined by whitespace-only separators.
      const parts: string[] = [];
      let j = i;
      for (let k = 0; k < words; k++) {
        const w = tokens[j];
        if (w === undefined || !isWord(w)) break;
        parts.push(normal(w));
        if (k < words - 1) {
          if (!/^\s+$/.test(tokens[j + 1] ?? '')) break;
          j += 2;
        }
      }
      if (parts.length !== words) continue;
      const at = this.entries.get(parts.join(' '));
      if (!at?.length) continue;
      const length = j - i + 1;
      return { ...this.choose(at, tokens, i + length), length };
    }
    return undefined;
  }

  /** Among rows holding the word in one column, the one its `before` marks for what follows. */
  private choose(at: readonly { row: number; column: number }[], tokens: readonly string[], after: number): { row: number; column: number } {
    if (at.length === 1) return at[0]!;
    const sep = tokens[after];
    const next = tokens[after + 1];
    const noun = sep !== undefined && /^\s+$/.test(sep) && next !== undefined && isWord(next) && !FUNCTION_WORDS.has(normal(next));
    const want = noun ? 'noun' : 'other';
    return at.find((x) => this.table.rows[x.row]!.before === want) ?? at[0]!;
  }
}
