import * as fs from 'node:fs';
import * as path from 'node:path';
import { TuneloopError } from '../errors';
import { writeFileAtomic } from '../fs/atomic';
import type { PromptFile } from '../prompts/types';

/**
 * "Distill into an adapter" from a prompt file: the files a distillation starts from, written beside
 * it when they do not exist yet (an existing file is never replaced): a recipe whose teacher is the
 * prompt file, a student prompt file holding the prompt's messages less its system prompt (the short
 * messages the adapter will be called with: edit them), and an inputs file with one example row of
 * the prompt's variables (to be replaced by real inputs; the prompt's test cases are the held-out
 * cases and are never copied into it). The recipe names the base model the prompt runs on.
 */
export interface StarterFiles {
  readonly recipe: string;
  readonly student: string;
  readonly inputs: string;
  /** The files this call wrote (the others existed). */
  readonly written: readonly string[];
}

export function distillStarter(promptFile: string, prompt: PromptFile, variables: readonly string[]): StarterFiles {
  const dir = path.dirname(promptFile);
  const base = path.basename(promptFile).replace(/\.prompt\.ya?ml$/, '');
  const recipe = path.join(dir, `${base}-distilled.adapter.yml`);
  const student = path.join(dir, `${base}-short.prompt.yml`);
  const inputs = path.join(dir, 'data', `${base}-inputs.jsonl`);
  if (!prompt.model)
    throw new TuneloopError(
      'names no model: the teacher runs on it, and the student is that model with the new adapter',
      { file: promptFile, key: 'model' },
      'add model: to the prompt file',
    );
  const written: string[] = [];
  const write = (file: string, text: string) => {
    if (fs.existsSync(file)) return;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic(file, text);
    written.push(file);
  };
  const quote = (s: string) => JSON.stringify(s);
  const short = prompt.messages.filter((m) => m.role !== 'system');
  write(
    student,
    [
      `# The short messages the distilled adapter (${path.basename(recipe)}) is called with.`,
      `model: ${prompt.model}`,
      'messages:',
      ...(short.length ? short : prompt.messages.slice(-1)).flatMap((m) => [`  - role: ${m.role}`, `    content: ${quote(m.content)}`]),
      '',
    ].join('\n'),
  );
  write(inputs, `${JSON.stringify(Object.fromEntries(variables.map((v) => [v, `an example ${v}: replace this row with real inputs`])))}\n`);
  write(
    recipe,
    [
      `# Distils ${path.basename(promptFile)} (the teacher) into a LoRA adapter for the short messages of`,
      `# ${path.basename(student)}: tuneloop distill ${path.basename(recipe)}, or Distill in the editor.`,
      `# Put the inputs (rows of variables, not the teacher's test cases) in ${path.relative(dir, inputs)}.`,
      `name: ${base}-distilled`,
      // Beside the prompt file, so its model path (or Hub id) means the same here.
      `base_model: ${prompt.model}`,
      'teacher:',
      `  prompt: ${path.basename(promptFile)}`,
      'student:',
      `  prompt: ${path.basename(student)}`,
      'inputs:',
      `  path: ${path.relative(dir, inputs).split(path.sep).join('/')}`,
      'dataset:',
      `  path: data/${base}.distilled.jsonl`,
      'method: lora',
      'training:',
      '  learning_rate: 0.002',
      '  max_steps: 120',
      '  batch_size: 8',
      `output: adapters/${base}-distilled`,
      '',
    ].join('\n'),
  );
  return { recipe, student, inputs, written };
}
