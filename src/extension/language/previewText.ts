import { analyzePrompt } from '../../core/prompts/analyze';
import { formatPreview, type PreviewCase, type PreviewInput, previewCases } from '../../core/prompts/preview';
import type { PreviewModel } from '../../core/prompts/preview-model';

/**
 * The preview's text from a prompt file's text, without `vscode` (preview.ts passes the editor's
 * state in; unit tests pass stand-ins). In an untrusted workspace it reads no model files: the model
 * is not even looked for, and the worker renders nothing.
 */
export const UNTRUSTED_PREVIEW = 'The workspace is not trusted, so the preview reads no model files.';

export interface PreviewSource {
  readonly file: string;
  readonly text: string;
  readonly trusted: boolean;
  /** Finds the model the prompt names (or the setting's); asked in a trusted workspace only. */
  resolveModel(promptModel: string | undefined): PreviewModel;
  /** The worker's `renderPrompt`: the conversations through the model's chat template. */
  renderPrompt(model: string, conversations: PreviewCase['messages'][]): Promise<NonNullable<PreviewInput['rendered']>>;
}

export async function previewText(source: PreviewSource): Promise<string> {
  const parse = analyzePrompt(source.text);
  const model: PreviewModel = source.trusted ? source.resolveModel(parse.prompt?.model) : { kind: 'none', reason: UNTRUSTED_PREVIEW };
  const input: PreviewInput = { file: source.file, parse, model };
  if (model.kind === 'none' || !parse.prompt || parse.prompt.messages.length === 0) return formatPreview(input);
  const conversations = previewCases(parse.prompt).map((c) => c.messages);
  try {
    return formatPreview({ ...input, rendered: await source.renderPrompt(model.dir, conversations) });
  } catch (e) {
    return formatPreview({ ...input, rendered: { error: e instanceof Error ? e.message : String(e) } });
  }
}
