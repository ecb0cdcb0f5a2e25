import { DEFAULT_MAX_TOKENS, type GenerationParams } from '../infer/parameters';
import type { PromptFile } from './types';

/** Generation settings from the prompt file; greedy unless it asks for a temperature. */
export function generationParams(prompt: PromptFile): GenerationParams {
  const { maxTokens, ...rest } = prompt.modelParameters;
  return { maxTokens: maxTokens ?? DEFAULT_MAX_TOKENS, ...rest };
}
