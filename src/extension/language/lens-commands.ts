import type { LensAction } from '../../core/yaml/editor';
import type { CommandId } from '../trust';

/**
 * The command each CodeLens runs. Core says what a lens is for (its action); the command ids are the
 * extension's (package.json contributes them, main.ts registers them). No `vscode` import, so that
 * tests read the table too.
 */
export const LENS_COMMANDS = {
  run: 'tuneloop.runPrompt',
  compare: 'tuneloop.comparePrompt',
  preview: 'tuneloop.previewPrompt',
  train: 'tuneloop.trainAdapter',
  distill: 'tuneloop.distillRecipe',
} as const satisfies { readonly [A in LensAction]: CommandId };
