import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { loadTokenizer, TOKENIZER_FILES } from '../core/infer/tokenizer';
import { renderChat } from '../core/prompts/render';
import type { RequestParams, RequestResult } from './protocol';

/**
 * The rendered-prompt preview's half in the worker: the extension host never loads transformers.js
 * (its bundle must stay light), so it sends the rendered messages here and gets back the exact text
 * of the chat template and the token count.
 *
 * The preview re-renders as the user types, so tokenizers are kept, keyed by folder and by the
 * modification times of the tokenizer files (an edited tokenizer_config.json is picked up).
 */
const tokenizers = new Map<string, { readonly stamp: string; readonly tokenizer: Promise<PreTrainedTokenizer> }>();
const KEEP = 4;

function stampOf(dir: string): string {
  return TOKENIZER_FILES.map((f) => {
    try {
      return String(fs.statSync(path.join(dir, f)).mtimeMs);
    } catch {
      return 'missing';
    }
  }).join('/');
}

function tokenizerFor(dir: string): Promise<PreTrainedTokenizer> {
  const stamp = stampOf(dir);
  const kept = tokenizers.get(dir);
  if (kept && kept.stamp === stamp) return kept.tokenizer;
  const tokenizer = loadTokenizer(dir);
  tokenizers.delete(dir);
  tokenizers.set(dir, { stamp, tokenizer });
  // A failed load is not kept: the next request tries again (the user may be fixing the folder).
  tokenizer.catch(() => tokenizers.get(dir)?.tokenizer === tokenizer && tokenizers.delete(dir));
  while (tokenizers.size > KEEP) tokenizers.delete(tokenizers.keys().next().value!);
  return tokenizer;
}

export async function renderPrompt({ model, conversations }: RequestParams<'renderPrompt'>): Promise<RequestResult<'renderPrompt'>> {
  const tokenizer = await tokenizerFor(path.resolve(model));
  let template: 'model' | 'plain' = 'model';
  const cases = conversations.map((messages) => {
    try {
      const chat = renderChat(tokenizer, messages, true);
      template = chat.template;
      return { text: chat.text, tokenCount: chat.ids.length };
    } catch (e) {
      // One case's messages can break a template (roles must alternate, say) while others render.
      return { error: e instanceof Error ? e.message : String(e) };
    }
  });
  return { template, cases };
}
