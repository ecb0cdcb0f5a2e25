import * as vscode from 'vscode';
import { RECIPE_FILE } from '../core/recipes/recipe';
import type { WorkerClient } from '../worker/client';
import type { Log } from './log';
import { cacheFolder, threads, workspacePaths } from './settings';
import { type TrainingContext, trainAdapter } from './training';

/**
 * "Distill into an Adapter" (the CodeLens on a recipe with `teacher:`): the worker runs the data
 * stage (core/distill/dataset.ts, as `tuneloop distill` does) with progress in a cancellable
 * notification, then the recipe trains as Fine-tune does, its curve in the panel. Stopping keeps
 * the teacher's answers so far (the next run goes on from them). The held-out comparison of
 * student and teacher is `tuneloop distill`'s; the panel does not show it yet.
 */
export async function distillRecipe(
  ctx: { readonly worker: WorkerClient; readonly training: TrainingContext; readonly log: Log },
  arg: unknown,
): Promise<string | undefined> {
  const recipe = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
  if (!recipe || !RECIPE_FILE.test(recipe.fsPath)) {
    void vscode.window.showWarningMessage('Tuneloop: open a distillation recipe (NAME.adapter.yml with teacher:) to distill it.');
    return undefined;
  }
  await vscode.workspace.save(recipe);
  const n = threads();
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Tuneloop: distilling', cancellable: true },
    (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      return ctx.worker.request(
        'distillData',
        { recipe: recipe.fsPath, ...workspacePaths(recipe.fsPath), cacheDir: cacheFolder(), ...(n ? { threads: n } : {}) },
        abort.signal,
        (e) => {
          if (e.type === 'progress') progress.report({ message: e.message });
        },
      );
    },
  );
  if (result.warning) {
    ctx.log.warn(`distill: ${result.warning}`);
    void vscode.window.showWarningMessage(`Tuneloop: ${result.warning.split('\n')[0]} (contamination.action: warn; the pairs are in the log)`);
  }
  if (result.cancelled) {
    void vscode.window.showInformationMessage('Tuneloop: distillation stopped; the teacher’s answers so far are kept for the next run.');
    return undefined;
  }
  ctx.log.info(
    `distill: ${result.rows} rows written to ${result.datasetFile} (${result.generated} answers generated, ${result.cached} from the cache; ${result.inputs} inputs, ${result.rewordings} rewordings, ${result.dropped} duplicates dropped)`,
  );
  return trainAdapter(ctx.training, recipe);
}
