import type { GenerationParams } from '../infer/generate';
import type { PromptFile } from './types';

/** Generation settings from the prompt file; greedy unless it asks for a temperature. */
export function generationParams(prompt: PromptFile): GenerationParams {
  const p = prompt.modelParameters;
  return {
    maxTokens: p.maxTokens ?? 128,
    ...(p.temperature !== undefined ? { temperature: p.temperature } : {}),
    ...(p.topP !== undefined ? { topP: p.topP } : {}),
    ...(p.topK !== undefined ? { topK: p.topK } : {}),
    ...(p.repetitionPenalty !== undefined ? { repetitionPenalty: p.repetitionPenalty } : {}),
    ...(p.seed !== undefined ? { seed: p.seed } : {}),
    ...(p.stop !== undefined ? { stop: p.stop } : {}),
  };
}
