import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzePrompt } from './analyze';
import { type PathCheckOptions, promptPathRuleProblems } from './check';
import type { Diagnostic } from './types';

/**
 * Live diagnostics: the parser's, plus adapters that do not exist next to the file (what
 * `tuneloop check` reports too). `file` undefined (an unsaved document) skips the file checks.
 */
export function promptDiagnostics(text: string, file?: string, exists: (p: string) => boolean = fs.existsSync, paths: PathCheckOptions = {}): Diagnostic[] {
  const { prompt, diagnostics } = analyzePrompt(text);
  const out = [...diagnostics];
  if (prompt && file !== undefined) {
    const rule = promptPathRuleProblems(file, prompt, paths);
    out.push(...rule);
    for (const a of prompt.adapters) {
      const resolved = path.resolve(path.dirname(file), a.path);
      if (exists(resolved) || !a.span || rule.some((d) => d.line === a.span!.line && d.column === a.span!.column)) continue;
      const s = a.span;
      out.push({
        file,
        line: s.line,
        column: s.column,
        endLine: s.endLine,
        endColumn: s.endColumn,
        severity: 'error',
        code: 'file',
        message: `adapter "${a.path}" not found (looked for ${resolved}): paths are relative to the prompt file`,
      });
    }
  }
  return out;
}
