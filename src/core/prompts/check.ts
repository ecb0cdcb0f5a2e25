import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TuneloopError } from '../errors';
import { confinement, findRoot, placeProblem, realPathLoose, ROOT_HINT } from '../fs/root';
import { readTextFile } from '../fs/text';
import { looksLikeHubId } from '../hub/id';
import { hostedModel } from './hosted';
import { parsePrompt } from './parse';
import type { Diagnostic, PromptFile, Severity, Span } from './types';

/** `NAME.prompt.yml` and `NAME.prompt.yaml`, GitHub's naming convention for prompt files. */
export const PROMPT_FILE = /\.prompt\.ya?ml$/i;

/** Folders never searched for prompt files: dependencies and build output (hidden ones, .git and .tuneloop among them, are skipped too). */
const SKIP_DIRS = new Set(['node_modules', 'out', 'dist']);

/**
 * Prompt files named by paths: a file is taken as it is (whatever its name), a folder is searched
 * for `*.prompt.yml` / `*.prompt.yaml` (hidden folders and node_modules skipped). Sorted, so that
 * output is stable across machines.
 */
export function findPromptFiles(paths: readonly string[]): string[] {
  const out = new Set<string>();
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!e.name.startsWith('.') && !SKIP_DIRS.has(e.name)) walk(p);
      } else if (e.isFile() && PROMPT_FILE.test(e.name)) out.add(p);
    }
  };
  for (const p of paths) {
    if (fs.existsSync(p) && fs.statSync(p).isDirectory()) walk(p);
    else out.add(p);
  }
  return [...out].sort();
}

/**
 * Everything `tuneloop check` reports for these paths: each file's parse diagnostics, plus what
 * needs the file system: unreadable files and adapters that do not exist (relative to the file).
 */
export interface PathCheckOptions {
  /** The workspace root (default: found from each file, see core/fs/root.ts). */
  readonly root?: string;
  /** Folders a model may be read from wherever they are: the embedded model, the Hub cache. */
  readonly trustedReads?: readonly string[];
  /** The model is chosen elsewhere (--model): the prompt's own `model:` path is not used. */
  readonly ignoreModel?: boolean;
}

export function checkFiles(paths: readonly string[], options: PathCheckOptions = {}): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const file of findPromptFiles(paths)) {
    let text: string;
    try {
      text = readTextFile(file, 'prompt file');
    } catch (e) {
      const err = e as TuneloopError;
      const line = err.line ?? 1;
      const column = err.column ?? 1;
      const reason = err.message.slice(err.message.indexOf(': ') + 2);
      out.push({ file, line, column, endLine: line, endColumn: column + 1, severity: 'error', code: 'file', message: reason });
      continue;
    }
    const { prompt, diagnostics } = parsePrompt(text, file);
    out.push(...diagnostics);
    if (prompt) out.push(...promptPathProblems(file, prompt, options));
  }
  return out;
}

/** A snapshot is a JSON file: requiring the extension keeps `snapshot:` from naming a dataset or a source file. */
export const SNAPSHOT_FILE = /\.json$/i;

/**
 * The paths a prompt file names, checked: adapters exist; a local model folder, the adapters and
 * the snapshot resolve inside the workspace root (the model may also be in a trusted folder);
 * the snapshot is a .json file that is not the prompt file itself.
 */
export function promptPathProblems(file: string, prompt: PromptFile, options: PathCheckOptions = {}): Diagnostic[] {
  const out = promptPathRuleProblems(file, prompt, options);
  for (const a of prompt.adapters) {
    const resolved = path.resolve(path.dirname(file), a.path);
    if (out.some((d) => d.line === a.span?.line && d.column === a.span?.column) || fs.existsSync(resolved)) continue;
    out.push(
      at(
        file,
        a.span,
        `adapter "${a.path}" not found (looked for ${resolved}): paths are relative to the prompt file; fix the path or create the adapter recipe`,
      ),
    );
  }
  return out.sort((x, y) => x.line - y.line || x.column - y.column);
}

function at(file: string, s: Span | undefined, message: string): Diagnostic {
  return { file, line: s?.line ?? 1, column: s?.column ?? 1, endLine: s?.endLine ?? 1, endColumn: s?.endColumn ?? 1, severity: 'error', code: 'file', message };
}

/**
 * The path rule alone (no check that files exist, so the editor can run it on unsaved text): the
 * adapters, a local model and the snapshot resolve inside the root (the model may also be in a
 * trusted folder); the snapshot is a .json file that is not the prompt file itself.
 */
export function promptPathRuleProblems(file: string, prompt: PromptFile, options: PathCheckOptions = {}): Diagnostic[] {
  const out: Diagnostic[] = [];
  const c = confinement(findRoot(file, options.root), options.trustedReads ?? []);
  const near = (rel: string) => path.resolve(path.dirname(file), rel);
  for (const a of prompt.adapters) {
    const outside = placeProblem(near(a.path), c, 'read');
    if (outside) out.push(at(file, a.span, `adapter "${a.path}" ${outside}: ${ROOT_HINT}`));
  }
  if (prompt.model !== undefined && !options.ignoreModel && !hostedModel(prompt.model)) {
    const local = near(prompt.model);
    // A Hub id resolves through the cache; anything that names a folder here is a path.
    if (fs.existsSync(local) || !looksLikeHubId(prompt.model)) {
      const outside = placeProblem(local, c, 'read');
      if (outside) out.push(at(file, prompt.spans?.model, `model "${prompt.model}" ${outside}: ${ROOT_HINT}`));
    }
  }
  if (prompt.snapshot !== undefined) {
    const s = prompt.spans?.snapshot;
    const target = near(prompt.snapshot);
    const outside = placeProblem(target, c, 'write');
    if (outside) out.push(at(file, s, `snapshot "${prompt.snapshot}" ${outside}: ${ROOT_HINT}`));
    else if (!SNAPSHOT_FILE.test(prompt.snapshot))
      out.push(at(file, s, `snapshot "${prompt.snapshot}" must name a .json file (e.g. NAME.snapshot.json): Tuneloop writes it whole`));
    else if (realPathLoose(target) === realPathLoose(file))
      out.push(at(file, s, 'snapshot names the prompt file itself: name a file of its own, e.g. NAME.snapshot.json'));
  }
  return out;
}

/** How each severity is spelt in compiler-style output (editors and CI annotate `note` as info). */
const SEVERITY_WORD: { readonly [S in Severity]: string } = { error: 'error', warning: 'warning', info: 'note' };

/** `FILE:LINE:COL: error|warning|note: message`, the format editors and CI problem matchers read. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${SEVERITY_WORD[d.severity]}: ${d.message}`;
}

/** Counts by severity, for a summary line and the exit status (1 when there are errors). */
export function countDiagnostics(ds: readonly Diagnostic[]): { readonly [S in Severity]: number } {
  return {
    error: ds.filter((d) => d.severity === 'error').length,
    warning: ds.filter((d) => d.severity === 'warning').length,
    info: ds.filter((d) => d.severity === 'info').length,
  };
}
