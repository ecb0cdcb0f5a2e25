import * as fs from 'node:fs';
import * as path from 'node:path';
import { parsePrompt } from './parse';
import type { Diagnostic, PromptFile, Severity } from './types';

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
export function checkFiles(paths: readonly string[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const file of findPromptFiles(paths)) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
      out.push({ file, line: 1, column: 1, endLine: 1, endColumn: 1, severity: 'error', code: 'file', message: `cannot read the prompt file (${reason}): check the path` });
      continue;
    }
    const { prompt, diagnostics } = parsePrompt(text, file);
    out.push(...diagnostics);
    if (prompt) out.push(...checkAdapterPaths(file, prompt));
  }
  return out;
}

function checkAdapterPaths(file: string, prompt: PromptFile): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const a of prompt.adapters) {
    const resolved = path.resolve(path.dirname(file), a.path);
    if (fs.existsSync(resolved)) continue;
    const s = a.span;
    out.push({
      file,
      line: s?.line ?? 1,
      column: s?.column ?? 1,
      endLine: s?.endLine ?? 1,
      endColumn: s?.endColumn ?? 1,
      severity: 'error',
      code: 'file',
      message: `adapter "${a.path}" not found (looked for ${resolved}): paths are relative to the prompt file; fix the path or create the adapter recipe`,
    });
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
