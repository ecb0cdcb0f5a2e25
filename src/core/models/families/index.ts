import { GPT2 } from './gpt2';
import { LLAMA, MISTRAL, QWEN2, QWEN3 } from './llama';
import type { FamilySpec } from './spec';

/** One entry per supported `model_type`: the family that reads it (see spec.ts). */
export const FAMILIES = {
  llama: LLAMA,
  mistral: MISTRAL,
  qwen2: QWEN2,
  qwen3: QWEN3,
  gpt2: GPT2,
} as const satisfies Readonly<Record<string, FamilySpec>>;

export type { FamilySpec } from './spec';
