import { seededRandom } from '../random';
import {
  type Behaviour,
  EXAMPLE_HEADERS,
  EXAMPLE_STYLES,
  exampleBlock,
  FOLLOW_PROMPTS,
  heldOutSystemPrompts,
  INSTRUCTED,
  respond,
  trainSystemPrompts,
} from './behaviours';
import { type ChatTurn, drawHeldOut, estimateTokens, factsByDomain } from './corpus';
import type { Fact } from './facts';
import { render, trainTemplates } from './templates';

/**
 * Probes of the default model: prompts that end with a held-out question (a held-out template, in no
 * training data) and the one output that answers it right. The build and the tests measure the model
 * on them: alone (the plain sentence), under a system prompt for each behaviour, and after few-shot
 * examples of a behaviour.
 */
export interface Probe {
  /** What the probe tests: `plain`, `system`, `system-held-out` (a system prompt never trained on), `few-shot`. */
  readonly kind: 'plain' | 'system' | 'system-held-out' | 'few-shot';
  readonly behaviour: Behaviour;
  readonly fact: Fact;
  /** The prompt: optional system turn and examples, then the held-out question as the last user turn. */
  readonly messages: readonly ChatTurn[];
  /** The whole right output. */
  readonly expected: string;
}

/** Held-out questions alone: the plain sentence is right. */
export function plainProbes(perDomain: number, seed: number): Probe[] {
  return drawHeldOut(perDomain, seed).map(({ fact, question }) => ({
    kind: 'plain',
    behaviour: 'plain',
    fact,
    messages: [{ role: 'user', content: question }],
    expected: fact.sentence,
  }));
}

/**
 * Held-out questions under a system prompt for each instructed behaviour: `perDomain` per domain and
 * behaviour, the prompt drawn from the training prompts or, with `heldOutPrompts`, from the prompts
 * no training row uses.
 */
export function systemProbes(perDomain: number, seed: number, options: { heldOutPrompts?: boolean } = {}): Probe[] {
  const r = seededRandom(seed);
  return INSTRUCTED.flatMap((b, k) =>
    drawHeldOut(perDomain, seed + 17 * (k + 1)).map(({ fact, question }) => {
      const prompts = options.heldOutPrompts ? heldOutSystemPrompts(b) : trainSystemPrompts(b);
      return {
        kind: options.heldOutPrompts ? ('system-held-out' as const) : ('system' as const),
        behaviour: b,
        fact,
        messages: [
          { role: 'system' as const, content: prompts[Math.floor(r() * prompts.length)]! },
          { role: 'user' as const, content: question },
        ],
        expected: respond(fact, b),
      };
    }),
  );
}

/**
 * Held-out questions after few-shot examples of an instructed behaviour, with no instruction: the
 * examples (training questions about other facts, answered in the behaviour) are either earlier chat
 * turns after a system prompt asking to follow them, or lines of the system prompt, as many as keep the prompt within about `maxTokens` tokens
 * (estimated; measure.ts counts them).
 */
export function fewShotProbes(perDomain: number, seed: number, maxTokens = 268): Probe[] {
  const r = seededRandom(seed);
  const facts = [...factsByDomain().values()].flat();
  return INSTRUCTED.flatMap((b, k) =>
    drawHeldOut(perDomain, seed + 31 * (k + 1)).map(({ fact, question }, i) => {
      const style = EXAMPLE_STYLES[Math.floor(r() * EXAMPLE_STYLES.length)]!;
      const header = EXAMPLE_HEADERS[Math.floor(r() * EXAMPLE_HEADERS.length)]!;
      const follow = FOLLOW_PROMPTS[Math.floor(r() * FOLLOW_PROMPTS.length)]!;
      const prompt = (pairs: readonly (readonly [string, string])[]): ChatTurn[] => [
        ...(i % 2 === 0
          ? [
              { role: 'system' as const, content: follow },
              ...pairs.flatMap(([q, a]) => [
                { role: 'user' as const, content: q },
                { role: 'assistant' as const, content: a },
              ]),
            ]
          : [{ role: 'system' as const, content: `${header}\n${exampleBlock(pairs, style)}` }]),
        { role: 'user', content: question },
      ];
      const pairs: [string, string][] = [];
      const used = new Set([fact.id]);
      for (;;) {
        const f = facts[Math.floor(r() * facts.length)]!;
        if (used.has(f.id)) continue;
        used.add(f.id);
        const templates = trainTemplates(f.domain);
        const pair: [string, string] = [render(templates[Math.floor(r() * templates.length)]!, f), respond(f, b)];
        if (pairs.length >= 2 && estimateTokens(prompt([...pairs, pair])) > maxTokens) break;
        pairs.push(pair);
      }
      return { kind: 'few-shot' as const, behaviour: b, fact, messages: prompt(pairs), expected: respond(fact, b) };
    }),
  );
}
