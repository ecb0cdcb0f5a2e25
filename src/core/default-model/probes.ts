import { pick, seededRandom } from '../random';
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
 * on them under a system prompt for each behaviour, and after few-shot examples of a behaviour (the
 * held-out questions alone are corpus.ts's heldOutPlain).
 */
export interface Probe {
  /** What the probe tests: `system`, `system-held-out` (a system prompt never trained on), `few-shot`. */
  readonly kind: 'system' | 'system-held-out' | 'few-shot';
  readonly behaviour: Behaviour;
  readonly fact: Fact;
  /** The prompt: optional system turn and examples, then the held-out question as the last user turn. */
  readonly messages: readonly ChatTurn[];
  /** The whole right output. */
  readonly expected: string;
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
          { role: 'system' as const, content: pick(prompts, r) },
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
      const style = pick(EXAMPLE_STYLES, r);
      const header = pick(EXAMPLE_HEADERS, r);
      const follow = pick(FOLLOW_PROMPTS, r);
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
        const f = pick(facts, r);
        if (used.has(f.id)) continue;
        used.add(f.id);
        const pair: [string, string] = [render(pick(trainTemplates(f.domain), r), f), respond(f, b)];
        if (pairs.length >= 2 && estimateTokens(prompt([...pairs, pair])) > maxTokens) break;
        pairs.push(pair);
      }
      return { kind: 'few-shot' as const, behaviour: b, fact, messages: prompt(pairs), expected: respond(fact, b) };
    }),
  );
}
