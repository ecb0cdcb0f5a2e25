/**
 * Model ids that name a hosted GitHub Models model rather than something Tuneloop can run. GitHub's
 * ids are `publisher/model`, and most of its publishers are spelled differently from their Hugging
 * Face organisations (`meta` vs `meta-llama`, `mistral-ai` vs `mistralai`, `deepseek` vs
 * `deepseek-ai`, `xai` vs `xai-org`), so the publisher alone is a reliable sign.
 *
 * Two publishers, `openai` and `microsoft`, are also Hub organisations (`openai/gpt-oss-20b`,
 * `microsoft/phi-2`); their ids are treated as hosted too, as GitHub's files use them, and the
 * warning says how to name a local model instead (a folder path is never hosted).
 */
const HOSTED_PUBLISHERS: { readonly [publisher: string]: string } = {
  openai: 'OpenAI',
  microsoft: 'Microsoft',
  meta: 'Meta',
  'mistral-ai': 'Mistral AI',
  cohere: 'Cohere',
  deepseek: 'DeepSeek',
  xai: 'xAI',
  'ai21-labs': 'AI21 Labs',
  core42: 'Core42',
};

/**
 * Ids without a publisher that GitHub (and OpenAI's API) accept, e.g. `gpt-4o-mini`, `o3-mini`.
 * Hub ids without an organisation (`gpt2`, `distilgpt2`) do not match: they have no hyphen after
 * `gpt`.
 */
const HOSTED_BARE: readonly RegExp[] = [/^gpt-\d/i, /^o\d(-mini|-preview|-pro)?$/i, /^chatgpt-/i, /^text-embedding-/i];

export interface HostedModel {
  readonly id: string;
  readonly publisher: string;
}

/** The hosted model an id names, or undefined for Hub ids and local paths. */
export function hostedModel(id: string): HostedModel | undefined {
  const s = id.trim();
  // Paths are local folders, whatever their names look like.
  if (/^(\.{1,2}[\\/]|[\\/]|~|[A-Za-z]:[\\/])/.test(s)) return undefined;
  const slash = s.indexOf('/');
  if (slash > 0) {
    const publisher = HOSTED_PUBLISHERS[s.slice(0, slash).toLowerCase()];
    return publisher === undefined ? undefined : { id: s, publisher };
  }
  return HOSTED_BARE.some((r) => r.test(s)) ? { id: s, publisher: 'OpenAI' } : undefined;
}
