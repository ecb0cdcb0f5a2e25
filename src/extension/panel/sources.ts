import * as fs from 'node:fs';
import * as path from 'node:path';
import { adapterVariantName, trainedAdapterOf } from '../../core/compare/variants';
import { readSnapshot, type Snapshot } from '../../core/compare/snapshot';
import { ADAPTER_CONFIG } from '../../core/lora/config';
import { generationParams, hostedModel, parsePrompt, type PromptFile, templateVariables, testVariables, valueText, type Variables } from '../../core/prompts';
import { locateModel, modelNotFound } from '../../core/models/resolve';
import { looksLikeHubId } from '../../core/hub/id';
import { readSpec } from '../../core/train/spec';
import { checkpointDir, checkpointSteps, listRuns, type RunSummary } from '../../core/train/run';
import type { CaseInfo, GenerationOverrides, ModelOption, PromptInfo, VariantInfo } from './protocol';
import type { RequestParams } from '../../worker/protocol';
import type { ExportDtype } from '../../core/dtypes';
import type { GenerationParams } from '../../core/infer/parameters';
import { RECIPE_FILE } from '../../core/recipes/recipe';

/**
 * What the panel offers for one prompt file, worked out in the extension host from files only (no
 * model runs here): its test cases and variables, its generation settings, the models it can run on,
 * and its variants: the base model, the adapters the file lists (a PEFT folder, or a recipe's newest
 * trained adapter), and every finished run and checkpoint in the runs folder.
 *
 * Everything the page may name comes back in `resolved`, keyed by the ids the page was sent: the
 * controller acts only on what it finds there.
 */
export interface ResolvedVariant {
  readonly id: string;
  readonly name: string;
  readonly kind: VariantInfo['kind'];
  readonly adapterDir?: string;
  readonly modelDir?: string;
  readonly minPassRate: number;
}

export interface PromptSource {
  readonly info: PromptInfo;
  readonly prompt: PromptFile | undefined;
  readonly text: string;
  readonly models: ReadonlyMap<string, string>;
  readonly variants: ReadonlyMap<string, ResolvedVariant>;
  readonly snapshotFile: string | undefined;
  /** Hub ids the file or the setting names that the cache lacks and that may not be downloaded yet (the panel asks). */
  readonly missingHubModels: readonly string[];
  /** Hub ids that may be downloaded when run (the user consented): runMatrix is told so for these. */
  readonly downloadable: readonly string[];
}

export interface SourceOptions {
  /** The tuneloop.defaultModel setting and the folder it is relative to. */
  readonly defaultModel: string;
  readonly settingBase: string | undefined;
  readonly runsFolder: string | undefined;
  /** Folders the user picked in this session. */
  readonly picked: readonly string[];
  /** The model the user selected for this file, if any. */
  readonly selectedModel: string | undefined;
  /** A Hub id's folder in the local Hugging Face cache, if downloaded (default: the standard cache, models/resolve.ts). */
  readonly cachedHubModel?: (id: string) => string | undefined;
  /**
   * The user consented to downloads: a Hub id the cache does not hold is offered as it is (the
   * worker downloads it when runMatrix says allowDownload) instead of a note saying it is missing.
   */
  readonly allowDownload?: boolean | ((id: string) => boolean) | undefined;
  /** How the page labels a path (relative to the workspace). */
  readonly label: (file: string) => string;
  /** The path rule for recipes (core/fs/root.ts): the workspace root and the folders read from anywhere. */
  readonly paths?: { readonly root?: string; readonly trustedReads: readonly string[] };
}

/** The prompt file's generation settings, as the CLI reads them (greedy, 128 tokens, unless it says otherwise). */
export function fileParams(prompt: PromptFile): GenerationOverrides {
  const { stop, ...rest } = generationParams(prompt);
  return { ...rest, ...(stop !== undefined ? { stop: [...stop] } : {}) };
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * A trained folder as a variant's weights: a PEFT adapter, or full weights. A run's result is
 * adapter/ or model/ itself; its checkpoints (checkpoints/step-N/) hold one of them.
 */
export function weightsOf(dir: string): { adapterDir: string } | { modelDir: string } | undefined {
  if (fs.existsSync(path.join(dir, ADAPTER_CONFIG))) return { adapterDir: dir };
  if (fs.existsSync(path.join(dir, 'config.json'))) return { modelDir: dir };
  if (fs.existsSync(path.join(dir, 'adapter', ADAPTER_CONFIG))) return { adapterDir: path.join(dir, 'adapter') };
  if (fs.existsSync(path.join(dir, 'model', 'config.json'))) return { modelDir: path.join(dir, 'model') };
  return undefined;
}

/** Models to offer: the prompt's (when local or downloaded), the setting's, the folders picked, the runs' base models. */
export function modelOptions(
  prompt: PromptFile | undefined,
  file: string,
  options: SourceOptions,
  runs: readonly RunSummary[],
): { options: ModelOption[]; note?: string; missingHub: string[]; downloadable: string[] } {
  const out: ModelOption[] = [];
  const notes: string[] = [];
  const missingHub: string[] = [];
  const downloadable: string[] = [];
  const allowed = (id: string) => (typeof options.allowDownload === 'function' ? options.allowDownload(id) : options.allowDownload === true);
  const add = (dir: string, from: ModelOption['from'], label: string) => {
    const id = path.resolve(dir);
    if (!out.some((o) => o.id === id)) out.push({ id, label, from });
  };
  const tryId = (id: string, base: string | undefined, from: 'prompt' | 'setting') => {
    const found = locateModel(id, base, { isDirectory: isDir, cachedHubModel: options.cachedHubModel });
    if (found) add(found.dir, from, found.local ? options.label(found.dir) : id);
    else if (looksLikeHubId(id) && allowed(id)) {
      if (!out.some((o) => o.id === id)) out.push({ id, label: `${id} (downloaded when run)`, from });
      downloadable.push(id);
    } else {
      notes.push(modelNotFound(id, from));
      if (looksLikeHubId(id)) missingHub.push(id);
    }
  };
  const pm = prompt?.model?.trim();
  if (pm && hostedModel(pm) === undefined) tryId(pm, path.dirname(file), 'prompt');
  const setting = options.defaultModel.trim();
  if (setting) tryId(setting, options.settingBase, 'setting');
  for (const p of options.picked) if (isDir(p)) add(p, 'picked', options.label(p));
  for (const r of runs) {
    try {
      const base = readSpec(r.dir).baseDir;
      if (isDir(base)) add(base, 'run', options.label(base));
    } catch {
      // a run folder without a readable spec offers no model
    }
  }
  if (out.length > 0) return { options: out, missingHub, downloadable };
  const why = notes.length ? `${notes.join('; ')}.` : 'No model is configured.';
  return {
    options: out,
    missingHub,
    downloadable,
    note: `${why} Give the prompt a "model:" that is a local model folder, set tuneloop.defaultModel, or pick a model folder.`,
  };
}

function caseLabel(index: number, values: Readonly<Record<string, string>>): string {
  const first = Object.entries(values)[0];
  const clip = (s: string) => (s.length > 40 ? `${s.slice(0, 39)}…` : s);
  return `Case ${index + 1}${first ? `: ${first[0]} = ${clip(first[1].replace(/\s+/g, ' '))}` : ''}`;
}

function uniqueName(want: string, seen: Set<string>): string {
  let name = want;
  for (let i = 2; seen.has(name); i++) name = `${want}-${i}`;
  seen.add(name);
  return name;
}

/** The variants of a prompt on a model: base, the file's adapters, and the runs' results and checkpoints. */
export function variantsOf(
  prompt: PromptFile,
  file: string,
  model: string | undefined,
  runsFolder: string | undefined,
  runs: readonly RunSummary[],
  label: (p: string) => string,
  paths?: SourceOptions['paths'],
): { infos: VariantInfo[]; resolved: Map<string, ResolvedVariant> } {
  const infos: VariantInfo[] = [];
  const resolved = new Map<string, ResolvedVariant>();
  const seen = new Set<string>();
  const add = (info: VariantInfo, weights: { adapterDir?: string; modelDir?: string } | undefined, minPassRate: number) => {
    infos.push(info);
    if (info.available) resolved.set(info.id, { id: info.id, name: info.name, kind: info.kind, minPassRate, ...weights });
  };
  const baseRate = prompt.minPassRate ?? 1;
  add(
    {
      id: 'base',
      name: uniqueName('base', seen),
      kind: 'base',
      detail: model ? label(model) : 'no model selected',
      available: model !== undefined,
      listed: true,
      ...(model ? {} : { reason: 'pick a model first' }),
    },
    {},
    baseRate,
  );
  for (const a of prompt.adapters) {
    const p = path.resolve(path.dirname(file), a.path);
    const isRecipe = RECIPE_FILE.test(p);
    const name = adapterVariantName(p, seen);
    const rate = a.minPassRate ?? baseRate;
    const id = `adapter:${p}`;
    if (isRecipe) {
      try {
        const dir = trainedAdapterOf(p, runsFolder ? [runsFolder] : [], paths);
        const w = weightsOf(dir);
        add(
          {
            id,
            name,
            kind: 'recipe',
            detail: `${label(p)} → ${label(dir)}`,
            available: w !== undefined && model !== undefined,
            listed: true,
            ...(model ? {} : { reason: 'pick a model first' }),
          },
          w,
          rate,
        );
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        // The recipe's own problem, without its path (the chip names it): "line N: what is wrong".
        const place = message.startsWith(p) ? /^(?::(\d+)(?::\d+)?)?: /.exec(message.slice(p.length)) : null;
        const own = place ? `${place[1] ? `line ${place[1]}: ` : ''}${message.slice(p.length + place[0].length)}` : message;
        const reason = /has not been trained yet/.test(message) ? `not trained yet: fine-tune ${path.basename(p)}` : own;
        add({ id, name, kind: 'recipe', detail: label(p), available: false, listed: true, reason }, undefined, rate);
      }
    } else {
      const w = weightsOf(p);
      add(
        {
          id,
          name,
          kind: 'adapter',
          detail: label(p),
          available: w !== undefined && model !== undefined,
          listed: true,
          ...(w ? (model ? {} : { reason: 'pick a model first' }) : { reason: 'not a PEFT adapter folder (no adapter_config.json)' }),
        },
        w,
        rate,
      );
    }
  }
  for (const r of runs) {
    let baseDir: string | undefined;
    try {
      baseDir = readSpec(r.dir).baseDir;
    } catch {
      continue;
    }
    const other = model !== undefined && path.resolve(baseDir) !== path.resolve(model) ? `trained on ${label(baseDir)}, not on the selected model` : undefined;
    const candidates: { id: string; name: string; kind: 'run' | 'checkpoint'; dir: string }[] = [];
    const done = r.events.findLast((e) => e.type === 'done');
    if (done && done.type === 'done' && isDir(done.result)) candidates.push({ id: `run:${r.dir}`, name: r.name, kind: 'run', dir: done.result });
    for (const s of checkpointSteps(r.dir))
      candidates.push({ id: `checkpoint:${checkpointDir(r.dir, s)}`, name: `${r.name}@${s}`, kind: 'checkpoint', dir: checkpointDir(r.dir, s) });
    for (const c of candidates) {
      const w = weightsOf(c.dir);
      const reason = !w ? 'no weights in this folder' : (other ?? (model ? undefined : 'pick a model first'));
      add(
        {
          id: c.id,
          name: uniqueName(c.name, seen),
          kind: c.kind,
          detail: label(c.dir),
          available: reason === undefined,
          listed: false,
          ...(reason ? { reason } : {}),
        },
        w,
        baseRate,
      );
    }
  }
  return { infos, resolved };
}

/** Everything the panel shows for one prompt file, and the paths behind the ids it sends. */
export function describePrompt(file: string, text: string, options: SourceOptions): PromptSource {
  const { prompt, diagnostics } = parsePrompt(text, file);
  const problems = diagnostics.filter((d) => d.severity === 'error').map((d) => `line ${d.line}: ${d.message}`);
  const runs = options.runsFolder ? listRuns(options.runsFolder) : [];
  const models = modelOptions(prompt, file, options, runs);
  const selected =
    options.selectedModel !== undefined && models.options.some((o) => o.id === options.selectedModel) ? options.selectedModel : models.options[0]?.id;
  const variables = prompt ? [...new Set([...templateVariables(prompt), ...testVariables(prompt)])] : [];
  const cases: CaseInfo[] = (prompt?.testData ?? []).map((t, index) => {
    const values = Object.fromEntries(Object.entries(t.values).map(([k, v]) => [k, valueText(v)]));
    return { index, label: caseLabel(index, values), values };
  });
  const v = prompt
    ? variantsOf(prompt, file, selected, options.runsFolder, runs, options.label, options.paths)
    : { infos: [], resolved: new Map<string, ResolvedVariant>() };
  const snapshotFile = prompt?.snapshot ? path.resolve(path.dirname(file), prompt.snapshot) : undefined;
  const info: PromptInfo = {
    file,
    label: options.label(file),
    ...(prompt?.name ? { name: prompt.name } : {}),
    ...(prompt?.description ? { description: prompt.description } : {}),
    problems: prompt ? problems : problems.length ? problems : ['this is not a prompt file'],
    variables,
    hasTestData: (prompt?.testData?.length ?? 0) > 0,
    cases,
    params: prompt ? fileParams(prompt) : { maxTokens: 128 },
    models: models.options,
    ...(selected ? { model: selected } : {}),
    ...(models.note ? { modelNote: models.note } : {}),
    variants: v.infos,
    evaluators: (prompt?.evaluators ?? []).map((e) => ({ name: e.name, kind: e.kind, local: e.kind !== 'uses' && e.kind !== 'llm' })),
    ...(snapshotFile ? { snapshot: { label: options.label(snapshotFile), exists: fs.existsSync(snapshotFile) } } : {}),
    probes: (prompt?.probes ?? []).map((p) => ({
      name: p.name,
      swaps: p.kind === 'variable' ? `variable ${p.variable}` : `words${p.table ? ` (${p.table})` : ''}`,
      labels: [...p.labels],
    })),
  };
  return {
    info,
    prompt,
    text,
    models: new Map(models.options.map((o) => [o.id, o.id])),
    variants: v.resolved,
    snapshotFile,
    missingHubModels: models.missingHub,
    downloadable: models.downloadable,
  };
}

/** The variables of one typed case: the text as typed (templates render text as it is). */
export function typedCase(values: Readonly<Record<string, string>>): Variables {
  return { ...values };
}

/** The snapshot file's outputs, if it can be read (a broken file reads as none; `tuneloop eval` reports it). */
export function snapshotOutputs(file: string | undefined): Snapshot['outputs'] | undefined {
  if (!file) return undefined;
  try {
    return readSnapshot(file)?.outputs;
  } catch {
    return undefined;
  }
}

/**
 * The worker's request for a matrix over a prompt as the editor holds it (runMatrix and runProbes
 * take the same): the model, the variants by the names the worker reports them with, the cases and
 * the settings; a Hub model the user agreed to download may be fetched.
 */
export function matrixRequest(
  source: PromptSource,
  model: string,
  variants: readonly ResolvedVariant[],
  cases: readonly { readonly index: number; readonly vars: Record<string, unknown> }[],
  run: { readonly params: GenerationParams; readonly dtype: ExportDtype; readonly cacheDir: string; readonly threads?: number | undefined },
): RequestParams<'runProbes'> {
  return {
    promptFile: source.info.file,
    promptText: source.text,
    model,
    variants: variants.map((v) => ({ name: v.name, ...(v.adapterDir ? { adapterDir: v.adapterDir } : {}), ...(v.modelDir ? { modelDir: v.modelDir } : {}) })),
    cases: cases.map((c) => ({ index: c.index, vars: c.vars })),
    params: run.params,
    dtype: run.dtype,
    cacheDir: run.cacheDir,
    ...(run.threads ? { threads: run.threads } : {}),
    ...(source.downloadable.includes(model) ? { allowDownload: true } : {}),
  };
}

/** A test case's `expected` as text (shown beside outputs, compared in the Testing view); none when absent or not a scalar. */
export function expectedText(vars: Readonly<Record<string, unknown>>): string | undefined {
  const e = vars['expected'];
  return typeof e === 'string' || typeof e === 'number' || typeof e === 'boolean' ? String(e) : undefined;
}
