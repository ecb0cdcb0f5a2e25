import { INSTRUCTED } from './behaviours';
import { allHeldOut, heldOutPlain, sha256, toJsonl } from './corpus';
import { DOMAINS, type DomainName } from './facts';
import { type ScoreResult, scoreModel, summarise } from './measure';
import { fewShotProbes, type Probe, systemProbes } from './probes';

/**
 * The default model's figures, all on questions in held-out templates (in no training data):
 *
 * - `heldOut`: every fact asked in each held-out template of its domain, alone: the share answered
 *   with exactly the right sentence, per domain too, and the answer loss (the mean next-token loss
 *   over the answers' tokens);
 * - `system`: under a system prompt for each instructed behaviour (prompts used in training), and
 *   `systemHeldOut`, under system prompts no training row uses;
 * - `fewShot`: after examples of a behaviour (prompts of up to 300 tokens), no instruction.
 *
 * "Exactly right" is greedy decoding's output, found by teacher forcing (measure.ts).
 */
export interface ModelFigures {
  readonly heldOut: {
    readonly accuracy: number;
    readonly byDomain: Readonly<Record<DomainName, number>>;
    readonly answerLoss: number;
    readonly count: number;
    readonly tokens: number;
    readonly sha256: string;
  };
  readonly system: BehaviourFigures;
  readonly systemHeldOut: BehaviourFigures;
  readonly fewShot: BehaviourFigures & { readonly maxPromptTokens: number };
}

export interface BehaviourFigures {
  /** Share of probes answered exactly, per instructed behaviour. */
  readonly byBehaviour: Readonly<Record<string, number>>;
  readonly count: number;
}

/** Probes per domain and behaviour in the figures (6 domains × 3 behaviours × 5 = 90 each). */
export const PROBES_PER_DOMAIN = 5;
export const PROBE_SEED = 5150;

export function figureProbes(): { system: Probe[]; systemHeldOut: Probe[]; fewShot: Probe[] } {
  return {
    system: systemProbes(PROBES_PER_DOMAIN, PROBE_SEED),
    systemHeldOut: systemProbes(PROBES_PER_DOMAIN, PROBE_SEED + 1, { heldOutPrompts: true }),
    fewShot: fewShotProbes(PROBES_PER_DOMAIN, PROBE_SEED + 2),
  };
}

/** The share of `probes` answered exactly, per instructed behaviour. */
function behaviourFigures(probes: readonly Probe[], results: readonly ScoreResult[]): BehaviourFigures {
  const byBehaviour = Object.fromEntries(
    INSTRUCTED.map((b) => {
      const mine = results.filter((_, i) => probes[i]!.behaviour === b);
      return [b, mine.filter((r) => r.exact).length / Math.max(1, mine.length)];
    }),
  );
  return { byBehaviour, count: results.length };
}

export async function measureModel(modelDir: string, options: { threads?: number } = {}): Promise<ModelFigures> {
  const rows = heldOutPlain();
  const plain = await scoreModel(
    modelDir,
    rows.map((r) => ({ messages: [r.messages[0]!], expected: r.messages[1]!.content })),
    options,
  );
  const domainOf = allHeldOut().map((q) => q.fact.domain);
  const s = summarise(plain);
  const byDomain = Object.fromEntries(
    DOMAINS.map((d) => {
      const mine = plain.filter((_, i) => domainOf[i] === d);
      return [d, mine.filter((r) => r.exact).length / mine.length];
    }),
  ) as Record<DomainName, number>;
  const probes = figureProbes();
  const run = (list: Probe[]) => scoreModel(modelDir, list, { ...options, batchSize: 16 });
  const sys = await run(probes.system);
  const sysHeld = await run(probes.systemHeldOut);
  const few = await run(probes.fewShot);
  return {
    heldOut: { accuracy: s.accuracy, byDomain, answerLoss: s.answerLoss, count: s.count, tokens: s.tokens, sha256: sha256(toJsonl(rows)) },
    system: behaviourFigures(probes.system, sys),
    systemHeldOut: behaviourFigures(probes.systemHeldOut, sysHeld),
    fewShot: { ...behaviourFigures(probes.fewShot, few), maxPromptTokens: Math.max(...few.map((r) => r.promptTokens)) },
  };
}
