import * as fs from 'node:fs';
import * as path from 'node:path';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { keyCompletions, triggerFits, valueCompletions } from '../yaml/completion';
import type { Diagnostic } from '../yaml/diagnostic';
import { type CompletionEntry, firstContentLine, type HoverInfo, type LensSpec } from '../yaml/editor';
import { keyHover, valueHover } from '../yaml/hover';
import { positionInfo } from '../yaml/position';
import { RECIPE_KEYS } from './key-table';
import { looksLikeHubId } from '../hub/id';
import { parseRecipe, type RecipeCheckOptions, type RecipeParseResult, recipePathRuleProblems } from './recipe';

export { recipeJsonSchema } from './key-table';

/**
 * Editor features for adapter recipes (`*.adapter.yml`): completion of keys and enumerated values,
 * hover with each key's documentation, the "Fine-tune" CodeLens, live diagnostics and the JSON
 * Schema. The same engine as prompt files, fed with RECIPE_KEYS (key-table.ts).
 */

export function recipeCompletionsAt(text: string, offset: number, trigger?: string): CompletionEntry[] {
  const info = positionInfo(text, offset, RECIPE_KEYS);
  if (!triggerFits(text, offset, info, trigger)) return [];
  if (info.kind === 'key') return keyCompletions(RECIPE_KEYS, text, info);
  if (info.kind === 'value') return valueCompletions(RECIPE_KEYS, info);
  return [];
}

export function recipeHoverAt(text: string, offset: number): HoverInfo | undefined {
  const info = positionInfo(text, offset, RECIPE_KEYS);
  if (info.kind === 'key' && info.key !== '') return keyHover(RECIPE_KEYS, info);
  if (info.kind === 'value') return valueHover(RECIPE_KEYS, info);
  return undefined;
}

export function recipeCodeLenses(text: string): LensSpec[] {
  const { recipe } = parseRecipe(text);
  const what = recipe ? `${recipe.method === 'lora' ? `LoRA r=${recipe.lora.r}` : 'full fine-tuning'} of ${recipe.baseModel}` : 'the adapter';
  // A distillation recipe's dataset is the teacher's answers: Distill makes it, then trains.
  if (recipe?.distill)
    return [
      {
        offset: firstContentLine(text),
        action: 'distill',
        title: '$(mortar-board) Distill',
        tooltip: `The teacher (${recipe.distill.teacher.prompt}) answers the inputs, then the ${what} trains on its answers`,
      },
    ];
  return [{ offset: firstContentLine(text), action: 'train', title: '$(rocket) Fine-tune', tooltip: `Launch the training run: ${what}` }];
}

/** The recipe keys holding paths, with what they name: checked against the file system next to the recipe. */
const PATH_KEYS: readonly {
  readonly at: readonly string[];
  readonly what: string;
  readonly get: (r: NonNullable<RecipeParseResult['recipe']>) => string | undefined;
  readonly onlyLocal?: boolean;
}[] = [
  // A distillation recipe writes its dataset (tuneloop distill): it need not exist.
  { at: ['dataset', 'path'], what: 'dataset', get: (r) => (r.distill ? undefined : r.dataset.path) },
  { at: ['dataset', 'prompt_file'], what: 'prompt file', get: (r) => r.dataset.promptFile },
  { at: ['base_model'], what: 'base model folder', get: (r) => r.baseModel, onlyLocal: true },
  { at: ['teacher', 'prompt'], what: 'teacher prompt file', get: (r) => r.distill?.teacher.prompt },
  { at: ['teacher', 'model'], what: 'teacher model folder', get: (r) => r.distill?.teacher.model, onlyLocal: true },
  { at: ['teacher', 'adapter'], what: 'teacher adapter folder', get: (r) => r.distill?.teacher.adapter },
  { at: ['student', 'prompt'], what: 'student prompt file', get: (r) => r.distill?.student.prompt },
  { at: ['inputs', 'path'], what: 'inputs', get: (r) => r.distill?.inputs.path },
  { at: ['inputs', 'paraphrase', 'prompt'], what: 'paraphrase prompt file', get: (r) => r.distill?.inputs.paraphrase?.prompt },
];

/**
 * Live diagnostics: parseRecipe's, plus the paths the recipe names that do not exist (what
 * checkRecipeFile reports, but on the editor's text rather than the file on disk, and pointing at
 * the value). `file` undefined (an unsaved document) skips the path checks.
 */
export function recipeDiagnostics(text: string, file?: string, exists: (p: string) => boolean = fs.existsSync, paths: RecipeCheckOptions = {}): Diagnostic[] {
  const res = parseRecipe(text, file ?? '<recipe>');
  if (!res.recipe || file === undefined) return res.diagnostics;
  const rule = recipePathRuleProblems(res.recipe, paths);
  const out = [...res.diagnostics, ...rule];
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  for (const p of PATH_KEYS) {
    const rel = p.get(res.recipe);
    if (rel === undefined || rel === '') continue;
    // A Hub id (org/name, optionally @revision) is fetched, not looked for on disk.
    if (p.onlyLocal && looksLikeHubId(rel) && !exists(path.resolve(path.dirname(file), rel))) continue;
    const resolved = path.resolve(path.dirname(file), rel);
    if (exists(resolved)) continue;
    const node = doc.getIn(p.at, true);
    const [start, end] = isNode(node) && node.range ? node.range : [0, 0];
    const a = lineCounter.linePos(start);
    if (rule.some((d) => d.severity === 'error' && d.line === a.line && d.column === a.col)) continue; // already reported: outside the root
    const b = lineCounter.linePos(end);
    out.push({
      file,
      line: a.line,
      column: a.col,
      endLine: b.line,
      endColumn: b.col,
      severity: 'error',
      code: 'file',
      message: `${p.what} "${rel}" not found (looked for ${resolved}): paths are relative to the recipe`,
    });
  }
  return out.sort((x, y) => x.line - y.line || x.column - y.column);
}
