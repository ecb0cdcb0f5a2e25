import * as path from 'node:path';
import { locateModel, modelNotFound } from '../models/resolve';
import { hostedModel } from './hosted';

/**
 * Which model's tokenizer the rendered-prompt preview uses. Model lookup, not editor machinery: kept
 * apart; the lookup itself is the resolver every caller shares (models/resolve.ts).
 */

/** Where the preview's tokenizer comes from, or why there is none. */
export type PreviewModel =
  | { readonly kind: 'model'; readonly dir: string; readonly from: 'prompt' | 'setting'; readonly label: string }
  | { readonly kind: 'none'; readonly reason: string };

export interface PreviewModelInput {
  /** The prompt's `model` key, as written. */
  readonly promptModel: string | undefined;
  readonly promptFile: string | undefined;
  /** The `tuneloop.defaultModel` setting ('' when unset). */
  readonly setting: string;
  /** The folder the setting is relative to (the first workspace folder). */
  readonly settingBase: string | undefined;
  /** A Hub id's snapshot in the local Hugging Face cache, if it was downloaded (never downloads). */
  readonly cachedHubModel: (id: string) => string | undefined;
  readonly isDirectory: (p: string) => boolean;
}

// Where a model id points, and the note when it points nowhere: one rule for every caller, in models/resolve.ts.
export { locateModel, modelNotFound };

/**
 * The model whose chat template the preview uses: the prompt's own `model` when it names a local
 * folder (relative to the prompt file) or a Hub model already downloaded, else the
 * `tuneloop.defaultModel` setting likewise; hosted GitHub Models ids never count, as a run would
 * not use them either.
 */
export function resolvePreviewModel(input: PreviewModelInput): PreviewModel {
  const notes: string[] = [];
  const tryId = (id: string, base: string | undefined, from: 'prompt' | 'setting'): PreviewModel | undefined => {
    const found = locateModel(id, base, input);
    if (found) return { kind: 'model', dir: found.dir, from, label: id };
    notes.push(modelNotFound(id, from));
    return undefined;
  };
  const pm = input.promptModel?.trim();
  if (pm && hostedModel(pm) === undefined) {
    const found = tryId(pm, input.promptFile === undefined ? undefined : path.dirname(input.promptFile), 'prompt');
    if (found) return found;
  }
  const setting = input.setting.trim();
  if (setting !== '') {
    const found = tryId(setting, input.settingBase, 'setting');
    if (found) return found;
  }
  const why = notes.length > 0 ? `${notes.join('; ')}.` : 'No model is configured.';
  return {
    kind: 'none',
    reason: `${why} Set tuneloop.defaultModel to a local model folder (or give the prompt a "model:" that is one) to see the text through its chat template and the token count.`,
  };
}
