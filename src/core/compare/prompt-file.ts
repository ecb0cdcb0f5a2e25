import { TuneloopError } from '../errors';
import { readTextFile } from '../fs/text';
import { type PathCheckOptions, parsePrompt, type PromptFile, promptPathProblems } from '../prompts';

/**
 * A prompt file about to be run: parsed, its first error thrown at its line. The CLI reads it from
 * disk; the panel sends the text as the editor holds it (unsaved edits included).
 */
export function parsePromptText(text: string, file: string): PromptFile {
  const { prompt, diagnostics } = parsePrompt(text, file);
  const err = diagnostics.find((d) => d.severity === 'error');
  if (err || !prompt) {
    throw new TuneloopError(
      err?.message ?? 'cannot read the prompt file',
      { file, ...(err ? { line: err.line, column: err.column } : {}) },
      'run tuneloop check on it for every problem',
    );
  }
  return prompt;
}

export function readPromptFile(file: string): PromptFile {
  return parsePromptText(readTextFile(file, 'prompt file'), file);
}

/** The prompt file's paths checked (core/prompts/check.ts): the first problem as an error at its line. */
export function checkPromptPaths(file: string, prompt: PromptFile, options: PathCheckOptions): void {
  const d = promptPathProblems(file, prompt, options)[0];
  if (d) throw new TuneloopError(d.message, { file, line: d.line, column: d.column }, 'run tuneloop check on it for every problem');
}
