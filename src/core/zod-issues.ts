import type { z } from 'zod';

/**
 * A failed validation in one line, `path: message; path: message` (at most five issues), for every
 * place that validates what it receives: files on disk, events.jsonl lines, the worker's and the
 * webviews' messages. zod only, so the webview pages can import it too.
 */
export function describeIssues(error: z.ZodError, what = '(the value)'): string {
  const shown = error.issues.slice(0, 5).map((i) => `${i.path.join('.') || what}: ${i.message}`);
  return error.issues.length > 5 ? `${shown.join('; ')}; and ${error.issues.length - 5} more` : shown.join('; ');
}
