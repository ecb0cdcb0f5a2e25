import { z } from 'zod';

/**
 * The generation parameters, stated once: what a prompt file's `modelParameters` may hold, what the
 * panel may override, what the worker protocol carries and what generate() runs with. Each
 * parameter's meaning (its description, shown by hover, completion and the JSON Schema) and limits
 * are here; the prompt key table (key-table.ts, and from it the parser's ranges and the JSON
 * Schema), both protocols and the panel's inputs derive from this schema.
 *
 * This module imports zod and nothing else: the webview bundles it.
 *
 * The limits are the prompt file format's, because prompt files are what users keep: a file that
 * checked clean keeps checking clean. temperature is 0..2 as on GitHub Models (and OpenAI); topP is
 * (0, 1]. maxTokens, topK and repetitionPenalty have no upper bound of their own: what is sensible
 * depends on the model (a long-context model may write more than 8192 tokens; Gemma's vocabulary of
 * 262,144 is past 100,000, and a topK at or past the vocabulary size keeps every token), so a fixed
 * cap would refuse reasonable files. Integers stay within Number.MAX_SAFE_INTEGER (zod's `int`),
 * past which a number is no longer the integer written.
 */
export const GenerationParamsSchema = z.object({
  maxTokens: z.int().min(1).describe('The most tokens to generate (an integer, at least 1).'),
  temperature: z.number().min(0).max(2).optional().describe('Sampling temperature, 0 to 2; 0 is greedy.'),
  topP: z.number().gt(0).lte(1).optional().describe('Nucleus sampling: keep the smallest set of tokens whose probability reaches topP (0 < topP ≤ 1).'),
  topK: z.int().min(0).optional().describe('Tuneloop: keep the topK most likely tokens (an integer; 0 turns it off).'),
  repetitionPenalty: z.number().gt(0).optional().describe('Tuneloop: penalty for repeated tokens (> 0; 1 turns it off).'),
  seed: z.int().min(0).optional().describe('Tuneloop: the sampling seed (an integer ≥ 0), for reproducible outputs.'),
  stop: z.array(z.string().min(1)).readonly().optional().describe('Tuneloop: a stop string or a list of them.'),
});

/** What generate() runs with: every parameter but maxTokens may be absent (see each one's description). */
export type GenerationParams = Readonly<z.infer<typeof GenerationParamsSchema>>;

/** The prompt file's `modelParameters`: any of the parameters, none required. */
export const ModelParametersSchema = GenerationParamsSchema.partial();
export type ModelParameters = Readonly<z.infer<typeof ModelParametersSchema>>;

export type ParameterName = keyof GenerationParams;

/** maxTokens when the prompt file gives none. */
export const DEFAULT_MAX_TOKENS = 128;

/** A parameter as JSON Schema (draft-07): `type`, its limits, `description`. */
export type ParameterSchema = { readonly [keyword: string]: unknown };

/** Each parameter as JSON Schema, in the schema's order: what the key table and the panel's inputs read. */
export const PARAMETER_SCHEMAS = (z.toJSONSchema(GenerationParamsSchema, { target: 'draft-7' }).properties ?? {}) as {
  readonly [K in ParameterName]: ParameterSchema;
};

/** The numeric limits of a number parameter, as an `<input type="number">` takes them. */
export interface NumberLimits {
  readonly integer: boolean;
  /** The lowest value, or the bound it must exceed (topP > 0 shows as 0). */
  readonly min?: number | undefined;
  /** Absent where only the safe-integer range bounds it. */
  readonly max?: number | undefined;
}

export function numberLimits(name: ParameterName): NumberLimits {
  const s = PARAMETER_SCHEMAS[name];
  const num = (x: unknown) => (typeof x === 'number' ? x : undefined);
  const max = num(s['maximum']);
  return {
    integer: s['type'] === 'integer',
    min: num(s['minimum']) ?? num(s['exclusiveMinimum']),
    max: max === Number.MAX_SAFE_INTEGER ? undefined : max,
  };
}
