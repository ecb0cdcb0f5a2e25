import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { TuneloopError } from '../errors';
import { renderTemplate } from './template';
import type { PromptFile, Role, TestValue } from './types';

/** A message ready for a model: placeholders replaced. */
export interface ChatMessage {
  readonly role: Role;
  readonly content: string;
}

export type Variables = { readonly [name: string]: TestValue | undefined };

/** The prompt's messages with the variables substituted (unknown placeholders stay as written). */
export function renderMessages(prompt: Pick<PromptFile, 'messages'>, vars: Variables): ChatMessage[] {
  return prompt.messages.map((m) => ({ role: m.role, content: renderTemplate(m.content, vars) }));
}

export interface RenderedChat {
  /** The text the model sees. */
  readonly text: string;
  /** Its token ids. */
  readonly ids: number[];
  /** `model`: the tokenizer's chat template; `plain`: the fallback for tokenizers without one. */
  readonly template: 'model' | 'plain';
}

/**
 * Messages through the tokenizer's chat template, the same way Hugging Face's
 * `apply_chat_template` does (the golden tests compare against it), as text and as ids.
 *
 * transformers.js 4.3.1 returns `{input_ids, attention_mask}` for `tokenize: true` unless
 * `return_dict: false` is passed (it did not in v2), hence the explicit option. The ids come from
 * the template call itself rather than from encoding the text again, so special tokens written by
 * the template are ids, never re-split text.
 *
 * A tokenizer without a chat template (a base model such as GPT-2) still gets a prompt: the
 * contents joined by blank lines, encoded without special tokens, and `template: 'plain'` says so.
 */
export function renderChat(tokenizer: PreTrainedTokenizer, messages: readonly ChatMessage[], addGenerationPrompt: boolean): RenderedChat {
  const conversation = messages.map((m) => ({ role: m.role, content: m.content }));
  if (!hasChatTemplate(tokenizer)) {
    const text = messages.map((m) => m.content).join('\n\n');
    return { text, ids: tokenizer.encode(text, { add_special_tokens: false }), template: 'plain' };
  }
  try {
    const text = tokenizer.apply_chat_template(conversation, { tokenize: false, add_generation_prompt: addGenerationPrompt });
    const ids = tokenizer.apply_chat_template(conversation, {
      tokenize: true,
      return_tensor: false,
      return_dict: false,
      add_generation_prompt: addGenerationPrompt,
    });
    return { text, ids: ids.map(Number), template: 'model' };
  } catch (e) {
    // Templates raise errors of their own, e.g. "Conversation roles must alternate user/assistant".
    throw new TuneloopError(
      `the model's chat template rejected the messages: ${(e as Error).message}`,
      {},
      'check the roles and their order; some templates accept no system message or need user and assistant to alternate',
    );
  }
}

function hasChatTemplate(tokenizer: PreTrainedTokenizer): boolean {
  const t: unknown = tokenizer.chat_template;
  return (typeof t === 'string' && t !== '') || (typeof t === 'object' && t !== null);
}

export interface ModelInput {
  readonly text: string;
  readonly ids: number[];
  readonly tokenCount: number;
  readonly template: 'model' | 'plain';
}

/** What a run feeds the model for one test case: rendered messages plus the generation prompt. */
export function renderForModel(prompt: Pick<PromptFile, 'messages'>, vars: Variables, tokenizer: PreTrainedTokenizer): ModelInput {
  const chat = renderChat(tokenizer, renderMessages(prompt, vars), true);
  return { text: chat.text, ids: chat.ids, tokenCount: chat.ids.length, template: chat.template };
}
