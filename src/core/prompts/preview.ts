import * as path from 'node:path';
import { fenced } from './markdown';
import type { PreviewModel } from './preview-model';
import { renderMessages, type ChatMessage } from './render';
import type { ParseResult, PromptFile, TestValue } from './types';
import { templateVariables } from './variables';

/** The rendered-prompt preview: each test case's messages with its values, as Markdown. */

/** One test case of the preview: the messages with the test values substituted. */
export interface PreviewCase {
  readonly title: string;
  readonly messages: readonly ChatMessage[];
  /** Placeholders left as written, for want of a value. */
  readonly missing: readonly string[];
}

/** The cases the preview shows: one per test case, or one with no values when there is no test data. */
export function previewCases(prompt: PromptFile): PreviewCase[] {
  const data = prompt.testData ?? [];
  const cases: { title: string; values: { readonly [name: string]: TestValue } }[] =
    data.length === 0
      ? [{ title: 'No test data: placeholders are shown as written', values: {} }]
      : data.map((t, i) => ({ title: `Test case ${i + 1} of ${data.length}${t.span ? ` (line ${t.span.line})` : ''}`, values: t.values }));
  const names = templateVariables({ messages: prompt.messages, evaluators: [] });
  return cases.map((c) => ({
    title: c.title,
    messages: renderMessages(prompt, c.values),
    missing: names.filter((n) => !Object.hasOwn(c.values, n)),
  }));
}

/** What the worker's tokenizer made of one case. */
export type RenderedCase = { readonly text: string; readonly tokenCount: number } | { readonly error: string };

export interface PreviewInput {
  readonly file: string;
  readonly parse: ParseResult;
  readonly model: PreviewModel;
  /** Per case, in order, when a model was used; `template` says whether it had a chat template. */
  readonly rendered?: { readonly template: 'model' | 'plain'; readonly cases: readonly RenderedCase[] } | { readonly error: string };
}

/** The preview as Markdown: the rendered messages of each case, the exact model text and its token count. */
export function formatPreview(input: PreviewInput): string {
  const out: string[] = [`# Preview: ${path.basename(input.file)}`, ''];
  const errors = input.parse.diagnostics.filter((d) => d.severity === 'error');
  const prompt = input.parse.prompt;
  if (!prompt || prompt.messages.length === 0) {
    out.push('The prompt cannot be rendered yet: fix these errors first (they are in the Problems panel too).', '');
    for (const d of errors.slice(0, 10)) out.push(`- line ${d.line}: ${d.message}`);
    return `${out.join('\n')}\n`;
  }
  if (errors.length > 0)
    out.push(`> ${errors.length} error${errors.length === 1 ? '' : 's'} in the file (see the Problems panel); the preview shows what can be rendered.`, '');
  const m = input.model;
  if (m.kind === 'none') out.push(`> ${m.reason}`, '> Showing the rendered messages only.', '');
  else {
    const r = input.rendered;
    const how = r && 'template' in r ? (r.template === 'model' ? 'through its chat template' : 'as plain text (the tokenizer has no chat template)') : '';
    out.push(`Model: \`${m.dir}\` (${m.from === 'prompt' ? "the prompt's `model`" : 'setting `tuneloop.defaultModel`'})${how ? `, ${how}` : ''}.`, '');
    if (r && 'error' in r) out.push(`> The tokenizer could not render the prompt: ${r.error}`, '');
  }
  const cases = previewCases(prompt);
  cases.forEach((c, i) => {
    const r = input.rendered && 'cases' in input.rendered ? input.rendered.cases[i] : undefined;
    const tokens = r && 'tokenCount' in r ? ` · ${r.tokenCount} tokens` : '';
    out.push(`## ${c.title}${tokens}`, '');
    if (c.missing.length > 0)
      out.push(
        `> No value for ${c.missing.map((n) => `\`{{${n}}}\``).join(', ')}: the model would see ${c.missing.length === 1 ? 'it' : 'them'} as written.`,
        '',
      );
    for (const msg of c.messages) out.push(`**${msg.role}**`, '', fenced(msg.content), '');
    if (r && 'text' in r) out.push(`What the model sees (${r.tokenCount} tokens):`, '', fenced(r.text), '');
    else if (r && 'error' in r) out.push(`> ${r.error}`, '');
  });
  return `${out.join('\n')}`;
}
