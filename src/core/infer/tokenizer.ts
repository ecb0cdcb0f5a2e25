import * as fs from 'node:fs';
import * as path from 'node:path';
import { AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';
import { TuneloopError } from '../errors';
import { configureTransformers } from './transformers-env';

export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'] as const;

/**
 * Load the tokenizer of a local model folder through transformers.js, the same implementation that
 * generation uses, so that token ids and chat templates match inference exactly.
 */
export async function loadTokenizer(dir: string): Promise<PreTrainedTokenizer> {
  const abs = path.resolve(dir);
  for (const f of TOKENIZER_FILES) {
    if (!fs.existsSync(path.join(abs, f))) {
      throw new TuneloopError(`missing ${f}`, { file: path.join(abs, f) }, 'transformers.js needs both tokenizer.json and tokenizer_config.json beside the model');
    }
  }
  configureTransformers();
  try {
    return await AutoTokenizer.from_pretrained(abs, { local_files_only: true });
  } catch (e) {
    throw new TuneloopError(`cannot load the tokenizer: ${(e as Error).message}`, { file: path.join(abs, 'tokenizer.json') });
  }
}

export interface TokenizerSummary {
  readonly vocabSize: number;
  readonly specialTokens: readonly string[];
  readonly hasChatTemplate: boolean;
}

export function summarizeTokenizer(tok: PreTrainedTokenizer): TokenizerSummary {
  return {
    vocabSize: tok.get_vocab().size,
    specialTokens: [...tok.all_special_tokens],
    hasChatTemplate: typeof tok.chat_template === 'string' || (tok.chat_template !== null && tok.chat_template !== undefined),
  };
}
