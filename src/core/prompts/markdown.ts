/** Markdown for hover and the preview: texts clipped to a line, in inline code or fenced blocks that survive backticks. */

/** One line of at most `max` characters: line breaks shown as ⏎, the rest cut with …. */
export function clip(s: string, max = 80): string {
  const one = s.replace(/\r?\n/g, '⏎');
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** Markdown inline code that survives backticks in the text. */
export function inlineCode(s: string): string {
  if (s === '') return '*(empty)*';
  const longest = Math.max(0, ...[...s.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${s}${pad}${fence}`;
}

/** A fenced code block whose fence is longer than any backtick run in the text. */
export function fenced(s: string): string {
  const longest = Math.max(2, ...[...s.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}text\n${s}\n${fence}`;
}
