import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TuneloopError } from '../errors';
import { checkOutput, ForeignOutputError, OUTPUT_MARKER } from '../fs/output';
import { confinement, findRoot, placeProblem, realPathLoose, ROOT_HINT } from '../fs/root';
import { readTextFile } from '../fs/text';
import { looksLikeHubId } from '../hub/id';
import { isMap, isScalar, isSeq, type YAMLMap } from 'yaml';
import type { Diagnostic, Span } from '../yaml/diagnostic';
import { numberRule, shapeValues } from '../yaml/key-table';
import { describe, type Entry, type Reader, readYaml } from '../yaml/reader';
import { didYouMean } from '../yaml/suggest';
import type { BaseDtype, ContaminationAction, DatasetFormat, DistillKind, ScheduleName } from './vocabulary';
import { RECIPE_KEYS } from './key-table';

export type { BaseDtype } from './vocabulary';

/**
 * Adapter recipes, `NAME.adapter.yml`: the file users commit to say how an adapter is trained. LoRA
 * settings use PEFT's names (r, lora_alpha, lora_dropout, target_modules, use_rslora). Parsed with
 * the YAML reader prompt files use too (core/yaml), so diagnostics have the same positions and style.
 */
export interface Recipe {
  readonly file: string;
  readonly name: string;
  /** A local folder (relative to the recipe) or a Hub id, optionally `@revision`. */
  readonly baseModel: string;
  readonly dataset: { readonly path: string; readonly format?: DatasetFormat | 'prompt-file'; readonly promptFile?: string; readonly validationSplit: number };
  readonly method: 'lora' | 'full';
  readonly lora: {
    readonly r: number;
    readonly loraAlpha: number;
    readonly loraDropout: number;
    readonly targetModules: string | readonly string[];
    readonly useRslora: boolean;
  };
  readonly training: {
    readonly learningRate: number;
    readonly epochs?: number;
    readonly maxSteps?: number;
    readonly batchSize: number;
    readonly gradientAccumulation: number;
    readonly maxSeqLen: number;
    readonly schedule: ScheduleName;
    readonly warmupSteps: number;
    readonly weightDecay: number;
    readonly maxGradNorm: number;
    readonly seed: number;
    readonly evalEvery?: number;
    readonly checkpointEvery?: number;
    readonly trainOnPrompt: boolean;
    /** Recompute each decoder layer's activations in the backward pass instead of keeping them (`gradient_checkpointing`). */
    readonly gradientCheckpointing: boolean;
    /** The type the frozen base weights are held in during training (`base_dtype`); only fp32 with method: full. */
    readonly baseDtype: BaseDtype;
  };
  /** Where the final adapter is copied, relative to the recipe (optional). */
  readonly output?: string;
  /** With `teacher:`, a distillation recipe (tuneloop distill): `dataset.path` is where its rows are written. */
  readonly distill?: DistillSpec;
  /** Where each path-valued key's value is written, for diagnostics about the path. */
  readonly spans: { readonly [K in RecipePathKey]?: Span };
}

/** A distillation recipe's own sections (paths relative to the recipe). */
export interface DistillSpec {
  readonly teacher: {
    readonly prompt: string;
    readonly model?: string;
    readonly adapter?: string;
    readonly kind: DistillKind;
    /** kind token: the soft loss's temperature and weight. */
    readonly temperature: number;
    readonly alpha: number;
  };
  readonly student: { readonly prompt: string };
  readonly inputs: {
    readonly path?: string;
    /** Variable → its values; the rows are their cross product (crossed with path's rows). */
    readonly expand?: Readonly<Record<string, readonly string[]>>;
    /** 1: exact repeats only; below: word-trigram Jaccard similarity at which an input is a near-duplicate. */
    readonly dedupe: number;
    /** More inputs: `variable` reworded `n` times by a prompt file, seeded. */
    readonly paraphrase?: { readonly prompt: string; readonly variable: string; readonly n: number; readonly seed: number };
  };
  readonly contamination: { readonly ngram: number; readonly threshold: number; readonly action: ContaminationAction };
}

/** The keys whose values are paths (relative to the recipe). */
export type RecipePathKey =
  | 'base_model'
  | 'dataset.path'
  | 'dataset.prompt_file'
  | 'output'
  | 'teacher.prompt'
  | 'teacher.model'
  | 'teacher.adapter'
  | 'student.prompt'
  | 'inputs.path'
  | 'inputs.paraphrase.prompt';

export interface RecipeParseResult {
  readonly recipe?: Recipe;
  readonly diagnostics: Diagnostic[];
}

function entriesOf(r: Reader, map: YAMLMap, place: string): Map<string, Entry> {
  const entries = r.entries(map, undefined, false);
  const known = Object.keys(RECIPE_KEYS[place] ?? {});
  for (const e of entries.values()) {
    if (!known.includes(e.key))
      r.warn(e.keyNode, 'unknown-key', `unknown key "${e.key}" ${place ? `in ${place}` : 'at the top level'}; it is ignored${didYouMean(e.key, known)}`);
  }
  return entries;
}

/** An enumerated value (method, dataset.format, training.schedule): one of the key table's choices, else the fallback. */
function choice<T extends string>(r: Reader, e: Entry | undefined, place: string, fallback: T): T {
  if (!e) return fallback;
  const v = r.string(e);
  if (v === undefined) return fallback;
  const allowed = shapeValues(RECIPE_KEYS[place]?.[e.key]?.shape) ?? [];
  if (!allowed.includes(v)) {
    r.error(r.valueSpan(e), 'unknown-value', `"${e.key}" must be one of ${allowed.join(', ')}, got "${v}"${didYouMean(v, allowed)}`);
    return fallback;
  }
  return v as T;
}

export function parseRecipe(text: string, file = '<recipe>'): RecipeParseResult {
  const { reader: r, root } = readYaml(text, file);
  if (root === undefined) return { diagnostics: r.sorted() };
  if (!isMap(root)) {
    r.error(root ?? r.span(0, 0), 'type', `an adapter recipe must be a mapping (base_model, dataset, lora, training, ...), got ${describe(root)}`);
    return { diagnostics: r.sorted() };
  }
  const top = entriesOf(r, root, '');
  /** A number of the section at `place`, checked against the key table's range for it. */
  const num = (place: string, m: Map<string, Entry>, key: string, fallback?: number) => {
    const e = m.get(key);
    return e ? (r.number(e, numberRule(RECIPE_KEYS, place, key)) ?? fallback) : fallback;
  };
  const section = (key: string): Map<string, Entry> => {
    const e = top.get(key);
    if (!e) return new Map();
    const m = r.map(e, Object.keys(RECIPE_KEYS[key] ?? {}).join(', '));
    return m ? entriesOf(r, m, key) : new Map();
  };

  const baseEntry = top.get('base_model');
  const baseModel = baseEntry ? r.string(baseEntry) : undefined;
  if (!baseEntry)
    r.error(r.span(0, 0), 'required', 'missing "base_model": name a local checkpoint folder or a Hub id, e.g. base_model: HuggingFaceTB/SmolLM2-135M');

  const ds = section('dataset');
  const dsEntry = top.get('dataset');
  if (!dsEntry) r.error(r.span(0, 0), 'required', 'missing "dataset": add dataset: {path: data/train.jsonl}');
  const dsPath = ds.get('path') ? r.string(ds.get('path')!) : undefined;
  if (dsEntry && !ds.get('path')) r.error(dsEntry.keyNode, 'required', 'missing "dataset.path": the JSONL file of training rows, relative to this recipe');
  const format = ds.get('format') ? choice<DatasetFormat | 'prompt-file'>(r, ds.get('format'), 'dataset', 'text') : undefined;
  const promptFile = ds.get('prompt_file') ? r.string(ds.get('prompt_file')!) : undefined;
  if (format === 'prompt-file' && !promptFile)
    r.error(ds.get('format')!.keyNode, 'required', 'format prompt-file needs "prompt_file": the prompt file whose messages format each row');
  const validationSplit = num('dataset', ds, 'validation_split', 0.1)!;
  if (validationSplit >= 1 && !Number.isInteger(validationSplit)) {
    r.error(r.valueSpan(ds.get('validation_split')!), 'range', '"validation_split" must be a fraction below 1 or a whole number of rows');
  }

  const method = choice<'lora' | 'full'>(r, top.get('method'), '', 'lora');
  const lo = section('lora');
  if (method === 'full' && top.get('lora')) r.warn(top.get('lora')!.keyNode, 'unknown-key', '"lora" settings are ignored with method: full');
  let targetModules: string | string[] = 'all-linear';
  const tm = lo.get('target_modules');
  if (tm) {
    if (isSeq(tm.value)) {
      const names = r.items(tm.value).map((n) => (isScalar(n) && typeof n.value === 'string' ? n.value : undefined));
      if (names.some((n) => n === undefined) || names.length === 0)
        r.error(r.valueSpan(tm), 'type', '"target_modules" must be a non-empty list of module names, a regular expression, or all-linear');
      else targetModules = names as string[];
    } else {
      const s = r.string(tm);
      if (s !== undefined) {
        try {
          new RegExp(s);
          targetModules = s;
        } catch (e) {
          r.error(r.valueSpan(tm), 'regex', `"target_modules" is not a valid regular expression: ${(e as Error).message}`);
        }
      }
    }
  }
  const tr = section('training');
  const epochs = num('training', tr, 'epochs');
  const maxSteps = num('training', tr, 'max_steps');
  const seed = num('training', tr, 'seed', 42)!;
  const evalEvery = num('training', tr, 'eval_every');
  const checkpointEvery = num('training', tr, 'checkpoint_every');
  const trainOnPrompt = tr.get('train_on_prompt') ? (r.boolean(tr.get('train_on_prompt')!) ?? false) : false;
  const gradientCheckpointing = tr.get('gradient_checkpointing') ? (r.boolean(tr.get('gradient_checkpointing')!) ?? false) : false;
  const baseDtype = choice<BaseDtype>(r, tr.get('base_dtype'), 'training', 'fp32');
  if (method === 'full' && baseDtype !== 'fp32')
    r.error(
      r.valueSpan(tr.get('base_dtype')!),
      'unknown-value',
      `"base_dtype: ${baseDtype}" needs method: lora: method full trains every weight in float32, so its base weights stay fp32; remove base_dtype (or set it to fp32), or train with method: lora`,
    );
  const output = top.get('output') ? r.string(top.get('output')!) : undefined;
  const distill = top.has('teacher') || top.has('student') || top.has('inputs') ? readDistill(r, top, section, num) : undefined;
  const spans: { [K in RecipePathKey]?: Span } = { ...distill?.spans };
  const spanOf = (key: RecipePathKey, e: Entry | undefined) => {
    if (e) spans[key] = r.valueSpan(e);
  };
  spanOf('base_model', baseEntry);
  spanOf('dataset.path', ds.get('path'));
  spanOf('dataset.prompt_file', ds.get('prompt_file'));
  spanOf('output', top.get('output'));
  const nameEntry = top.get('name');
  const name = (nameEntry ? r.string(nameEntry) : undefined) ?? path.basename(file).replace(RECIPE_FILE, '');

  const recipe: Recipe | undefined =
    baseModel !== undefined && dsPath !== undefined
      ? {
          file,
          name,
          baseModel,
          dataset: { path: dsPath, ...(format ? { format } : {}), ...(promptFile ? { promptFile } : {}), validationSplit },
          method,
          lora: {
            r: num('lora', lo, 'r', 8)!,
            loraAlpha: num('lora', lo, 'lora_alpha', 16)!,
            loraDropout: num('lora', lo, 'lora_dropout', 0)!,
            targetModules,
            useRslora: lo.get('use_rslora') ? (r.boolean(lo.get('use_rslora')!) ?? false) : false,
          },
          training: {
            learningRate: num('training', tr, 'learning_rate', method === 'lora' ? 2e-4 : 2e-5)!,
            ...(epochs !== undefined ? { epochs } : {}),
            ...(maxSteps !== undefined ? { maxSteps } : {}),
            batchSize: num('training', tr, 'batch_size', 4)!,
            gradientAccumulation: num('training', tr, 'gradient_accumulation', 1)!,
            maxSeqLen: num('training', tr, 'max_seq_len', 512)!,
            schedule: choice<ScheduleName>(r, tr.get('schedule'), 'training', 'cosine'),
            warmupSteps: num('training', tr, 'warmup_steps', 0)!,
            weightDecay: num('training', tr, 'weight_decay', 0)!,
            maxGradNorm: num('training', tr, 'max_grad_norm', 1)!,
            seed,
            ...(evalEvery !== undefined ? { evalEvery } : {}),
            ...(checkpointEvery !== undefined ? { checkpointEvery } : {}),
            trainOnPrompt,
            gradientCheckpointing,
            baseDtype,
          },
          ...(output !== undefined ? { output } : {}),
          ...(distill?.spec ? { distill: distill.spec } : {}),
          spans,
        }
      : undefined;
  return recipe ? { recipe, diagnostics: r.sorted() } : { diagnostics: r.sorted() };
}

/**
 * The distillation sections (teacher, student, inputs, contamination): teacher and student are
 * required together, and the inputs must give rows (a path, or lists to expand).
 */
function readDistill(
  r: Reader,
  top: Map<string, Entry>,
  section: (key: string) => Map<string, Entry>,
  num: (place: string, m: Map<string, Entry>, key: string, fallback?: number) => number | undefined,
): { spec?: DistillSpec; spans: { [K in RecipePathKey]?: Span } } {
  const spans: { [K in RecipePathKey]?: Span } = {};
  const text = (m: Map<string, Entry>, key: string, span?: RecipePathKey): string | undefined => {
    const e = m.get(key);
    if (!e) return undefined;
    if (span) spans[span] = r.valueSpan(e);
    return r.string(e);
  };
  const missing = (key: string, what: string) => {
    const e = top.get(key);
    r.error(e ? e.keyNode : r.span(0, 0), 'required', what);
  };
  const te = section('teacher');
  const st = section('student');
  const inp = section('inputs');
  const co = section('contamination');
  if (!top.has('teacher'))
    missing('student', 'a distillation recipe needs "teacher": {prompt: LONG.prompt.yml}, the prompt file whose outputs the student learns');
  if (!top.has('student'))
    missing('teacher', 'a distillation recipe needs "student": {prompt: SHORT.prompt.yml}, the short messages the adapter is called with');
  if (!top.has('inputs')) missing('teacher', 'a distillation recipe needs "inputs": {path: data/inputs.jsonl} (rows of variables) or {expand: {...}}');
  const teacherPrompt = text(te, 'prompt', 'teacher.prompt');
  if (top.has('teacher') && !te.has('prompt')) missing('teacher', 'missing "teacher.prompt": the prompt file the teacher runs');
  const studentPrompt = text(st, 'prompt', 'student.prompt');
  if (top.has('student') && !st.has('prompt')) missing('student', 'missing "student.prompt": the prompt file of the short messages');
  const model = text(te, 'model', 'teacher.model');
  const adapter = text(te, 'adapter', 'teacher.adapter');
  const kind = choice<DistillKind>(r, te.get('kind'), 'teacher', 'sequence');
  const inputsPath = text(inp, 'path', 'inputs.path');
  let expand: Record<string, string[]> | undefined;
  const ex = inp.get('expand');
  if (ex) {
    const m = r.map(ex, 'variable names, each with a list of values');
    if (m) {
      expand = {};
      for (const e of r.entries(m, undefined, false).values()) {
        const values = isSeq(e.value)
          ? r.items(e.value).map((n) => (isScalar(n) && n.value !== null && typeof n.value !== 'object' ? String(n.value) : undefined))
          : [];
        if (values.length === 0 || values.some((v) => v === undefined)) r.error(r.valueSpan(e), 'type', `expand "${e.key}" must be a non-empty list of values`);
        else expand[e.key] = values as string[];
      }
    }
  }
  let paraphrase: NonNullable<DistillSpec['inputs']['paraphrase']> | undefined;
  const pe = inp.get('paraphrase');
  if (pe) {
    const m = r.map(pe, Object.keys(RECIPE_KEYS['inputs.paraphrase'] ?? {}).join(', '));
    if (m) {
      const pm = entriesOf(r, m, 'inputs.paraphrase');
      const prompt = text(pm, 'prompt', 'inputs.paraphrase.prompt');
      const variable = text(pm, 'variable');
      if (prompt === undefined) r.error(pe.keyNode, 'required', 'missing "inputs.paraphrase.prompt": the prompt file that rewords an input');
      if (variable === undefined) r.error(pe.keyNode, 'required', 'missing "inputs.paraphrase.variable": the input variable to reword');
      if (prompt !== undefined && variable !== undefined)
        paraphrase = { prompt, variable, n: num('inputs.paraphrase', pm, 'n', 1)!, seed: num('inputs.paraphrase', pm, 'seed', 1)! };
    }
  }
  if (top.has('inputs') && inputsPath === undefined && expand === undefined)
    r.error(top.get('inputs')!.keyNode, 'required', '"inputs" needs "path" (a JSONL file of variable rows) or "expand" (lists of values), or both');
  const spec =
    teacherPrompt !== undefined && studentPrompt !== undefined && (inputsPath !== undefined || expand !== undefined)
      ? {
          teacher: {
            prompt: teacherPrompt,
            ...(model !== undefined ? { model } : {}),
            ...(adapter !== undefined ? { adapter } : {}),
            kind,
            temperature: num('teacher', te, 'temperature', 2)!,
            alpha: num('teacher', te, 'alpha', 0.5)!,
          },
          student: { prompt: studentPrompt },
          inputs: {
            ...(inputsPath !== undefined ? { path: inputsPath } : {}),
            ...(expand ? { expand } : {}),
            dedupe: num('inputs', inp, 'dedupe', 0.9)!,
            ...(paraphrase ? { paraphrase } : {}),
          },
          contamination: {
            ngram: num('contamination', co, 'ngram', 8)!,
            threshold: num('contamination', co, 'threshold', 0.5)!,
            action: choice<ContaminationAction>(r, co.get('action'), 'contamination', 'refuse'),
          },
        }
      : undefined;
  return { ...(spec ? { spec } : {}), spans };
}

export interface RecipeCheckOptions {
  /** The workspace root (default: found from the recipe, see core/fs/root.ts). */
  readonly root?: string;
  /** Folders a base model may be read from wherever they are: the embedded model, the Hub cache. */
  readonly trustedReads?: readonly string[];
}

/**
 * Parse a recipe file and check the paths it names: the dataset, the prompt file and a local base
 * model exist and are files or folders as they should be; every path, the output included,
 * resolves inside the workspace root; and the output is a folder Tuneloop may replace.
 */
export function checkRecipeFile(file: string, options: RecipeCheckOptions = {}): RecipeParseResult {
  let text: string;
  try {
    text = readTextFile(file, 'recipe');
  } catch (e) {
    const err = e as TuneloopError;
    const line = err.line ?? 1;
    const column = err.column ?? 1;
    return {
      diagnostics: [
        {
          file,
          line,
          column,
          endLine: line,
          endColumn: column + 1,
          severity: 'error',
          code: 'file',
          message: err.message.replace(`${file}${err.line ? `:${line}:${column}` : ''}: `, ''),
        },
      ],
    };
  }
  const res = parseRecipe(text, file);
  if (!res.recipe) return res;
  const recipe = res.recipe;
  const rule = recipePathRuleProblems(recipe, options);
  const diagnostics = [...res.diagnostics, ...rule];
  const near = (rel: string) => path.resolve(path.dirname(file), rel);
  const exists = (key: RecipePathKey, what: string, rel: string, kind: 'file' | 'folder') => {
    const s = recipe.spans[key];
    if (rule.some((d) => d.severity === 'error' && d.line === s?.line && d.column === s?.column)) return;
    const abs = near(rel);
    const st = fs.statSync(abs, { throwIfNoEntry: false });
    if (!st) diagnostics.push(at(file, s, 'error', `${what} "${rel}" not found (looked for ${abs}): paths are relative to the recipe`));
    else if (kind === 'file' && st.isDirectory()) diagnostics.push(at(file, s, 'error', `${what} "${rel}" is a folder: name the file inside it`));
    else if (kind === 'folder' && !st.isDirectory()) diagnostics.push(at(file, s, 'error', `${what} "${rel}" is a file: name the checkpoint folder`));
  };
  // A distillation recipe's dataset is what tuneloop distill writes: it need not exist yet.
  if (!recipe.distill) exists('dataset.path', 'dataset', recipe.dataset.path, 'file');
  if (recipe.dataset.promptFile) exists('dataset.prompt_file', 'prompt file', recipe.dataset.promptFile, 'file');
  if (isLocalModel(recipe)) exists('base_model', 'base model folder', recipe.baseModel, 'folder');
  const d = recipe.distill;
  if (d) {
    exists('teacher.prompt', 'teacher prompt file', d.teacher.prompt, 'file');
    exists('student.prompt', 'student prompt file', d.student.prompt, 'file');
    if (d.inputs.path !== undefined) exists('inputs.path', 'inputs', d.inputs.path, 'file');
    if (d.inputs.paraphrase) exists('inputs.paraphrase.prompt', 'paraphrase prompt file', d.inputs.paraphrase.prompt, 'file');
    if (d.teacher.adapter !== undefined) exists('teacher.adapter', 'teacher adapter folder', d.teacher.adapter, 'folder');
    if (d.teacher.model !== undefined && isLocal(recipe, d.teacher.model)) exists('teacher.model', 'teacher model folder', d.teacher.model, 'folder');
  }
  return { recipe, diagnostics: diagnostics.sort((x, y) => x.line - y.line || x.column - y.column) };
}

function at(file: string, s: Span | undefined, severity: Diagnostic['severity'], message: string): Diagnostic {
  return { file, line: s?.line ?? 1, column: s?.column ?? 1, endLine: s?.endLine ?? 1, endColumn: s?.endColumn ?? 1, severity, code: 'file', message };
}

/** A base model named as a folder (it exists here, or it is not shaped like a Hub id). */
function isLocalModel(recipe: Recipe): boolean {
  return isLocal(recipe, recipe.baseModel);
}

function isLocal(recipe: Recipe, model: string): boolean {
  return !looksLikeHubId(model) || fs.existsSync(path.resolve(path.dirname(recipe.file), model));
}

/**
 * The path rule alone (no check that files exist, so the editor can run it on unsaved text): the
 * dataset, the prompt file and a local base model resolve inside the root (the model may also be in
 * a trusted folder), and the output inside it too, in a folder Tuneloop may replace.
 */
export function recipePathRuleProblems(recipe: Recipe, options: RecipeCheckOptions = {}): Diagnostic[] {
  const file = recipe.file;
  const out: Diagnostic[] = [];
  const c = confinement(findRoot(file, options.root), options.trustedReads ?? []);
  const near = (rel: string) => path.resolve(path.dirname(file), rel);
  const read = (key: RecipePathKey, what: string, rel: string) => {
    const outside = placeProblem(near(rel), c, 'read');
    if (outside) out.push(at(file, recipe.spans[key], 'error', `${what} "${rel}" ${outside}: ${ROOT_HINT}`));
  };
  read('dataset.path', 'dataset', recipe.dataset.path);
  if (recipe.dataset.promptFile) read('dataset.prompt_file', 'prompt file', recipe.dataset.promptFile);
  if (isLocalModel(recipe)) read('base_model', 'base model folder', recipe.baseModel);
  const d = recipe.distill;
  if (d) {
    read('teacher.prompt', 'teacher prompt file', d.teacher.prompt);
    read('student.prompt', 'student prompt file', d.student.prompt);
    if (d.inputs.path !== undefined) read('inputs.path', 'inputs', d.inputs.path);
    if (d.inputs.paraphrase) read('inputs.paraphrase.prompt', 'paraphrase prompt file', d.inputs.paraphrase.prompt);
    if (d.teacher.adapter !== undefined) read('teacher.adapter', 'teacher adapter folder', d.teacher.adapter);
    if (d.teacher.model !== undefined && isLocal(recipe, d.teacher.model)) read('teacher.model', 'teacher model folder', d.teacher.model);
    // The generated dataset is written, so it must be a place Tuneloop may write.
    const outside = placeProblem(near(recipe.dataset.path), c, 'write');
    if (outside) out.push(at(file, recipe.spans['dataset.path'], 'error', `dataset "${recipe.dataset.path}" ${outside}: ${ROOT_HINT}`));
  }
  if (recipe.output !== undefined) {
    const s = recipe.spans.output;
    const target = near(recipe.output);
    const outside = placeProblem(target, c, 'write');
    if (outside) out.push(at(file, s, 'error', `output "${recipe.output}" ${outside}: ${ROOT_HINT}`));
    else {
      try {
        checkOutput(realPathLoose(target), { protect: outputProtects(recipe, c.root) });
      } catch (e) {
        if (e instanceof ForeignOutputError)
          out.push(
            at(
              file,
              s,
              'warning',
              `output "${recipe.output}" holds files that Tuneloop did not write (no ${OUTPUT_MARKER}): training will not replace it unless run with --force`,
            ),
          );
        else out.push(at(file, s, 'error', `output "${recipe.output}": ${(e as TuneloopError).message.replace(/^[^:]*: /, '')}`));
      }
    }
  }
  return out;
}

/** What a recipe's output folder must never contain: the workspace root, the recipe, its data. */
export function outputProtects(recipe: Recipe, root: string): string[] {
  const near = (rel: string) => realPathLoose(path.resolve(path.dirname(recipe.file), rel));
  const d = recipe.distill;
  return [
    root,
    realPathLoose(recipe.file),
    near(recipe.dataset.path),
    ...(recipe.dataset.promptFile ? [near(recipe.dataset.promptFile)] : []),
    ...(d ? [near(d.teacher.prompt), near(d.student.prompt), ...(d.inputs.path !== undefined ? [near(d.inputs.path)] : [])] : []),
  ];
}

export const RECIPE_FILE = /\.adapter\.ya?ml$/;

/** Recipe files among `paths`: files as given, and *.adapter.yml / .yaml inside folders (node_modules and dot-folders skipped). */
export function findRecipeFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.name.startsWith('.') || e.name === 'node_modules') continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (RECIPE_FILE.test(e.name)) out.push(p);
    }
  };
  for (const p of paths) {
    if (fs.existsSync(p) && fs.statSync(p).isDirectory()) walk(p);
    else if (RECIPE_FILE.test(p)) out.push(p);
  }
  return out.sort();
}
