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
      throw new TuneloopError(
        `missing ${f}`,
        { file: path.join(abs, f) },
        'transformers.js needs both tokenizer.json and tokenizer_config.json beside the model',
      );
    }
  }
  configureTransformers();
  let tok: PreTrainedTokenizer;
  try {
    tok = await AutoTokenizer.from_pretrained(abs, { local_files_only: true });
  } catch (e) {
    throw new TuneloopError(`cannot load the tokenizer: ${(e as Error).message}`, { file: path.join(abs, 'tokenizer.json') });
  }
  checkChatTemplate(tok, path.join(abs, 'tokenizer_config.json'));
  return tok;
}

/**
 * A chat template that does not even parse fails every prompt: it is an error when the tokenizer is
 * loaded, naming the file and key, rather than a Jinja stack on the first run. (A template that
 * parses but rejects some conversations is reported per call, by whoever renders.)
 */
function checkChatTemplate(tok: PreTrainedTokenizer, file: string): void {
  if (tok.chat_template === null || tok.chat_template === undefined) return;
  try {
    tok.apply_chat_template([{ role: 'user', content: 'x' }], { tokenize: false, add_generation_prompt: true });
  } catch (e) {
    const message = (e as Error).message;
    if (/Parser Error|Lexer|SyntaxError|Unexpected (token|character)|Unknown statement|Expected/i.test(message)) {
      throw new TuneloopError(
        `the chat template does not parse: ${message}`,
        { file, key: 'chat_template' },
        'fix the template, or remove chat_template to use plain prompts',
      );
    }
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
