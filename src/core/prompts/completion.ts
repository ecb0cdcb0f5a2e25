import { keyCompletions, siblingKeys, escapeSnippet, triggerFits, valueCompletions } from '../yaml/completion';
import type { CompletionEntry } from '../yaml/editor';
import { analyzePrompt } from './analyze';
import { valuesMarkdown } from './hover';
import { PROMPT_KEYS } from './key-table';
import { positionInfo, type PositionOf } from './position';
import { placeholders } from './template';
import type { PromptFile } from './types';
import { templateVariables, testVariables } from './variables';

/**
 * Completion in prompt files: the keys and values of the key table (core/yaml/completion.ts), and
 * what only prompt files have: variable names inside `{{ }}` and the keys of a test case.
 */

/**
 * Completion at an offset. `trigger` is the character that opened the list, if one did: a space
 * only asks for something right after `key: ` or a list dash, so that spaces typed in indentation or
 * in prose open nothing.
 */
export function completionsAt(text: string, offset: number, trigger?: string): CompletionEntry[] {
  const info = positionInfo(text, offset);
  if (!triggerFits(text, offset, info, trigger)) return [];
  switch (info.kind) {
    case 'placeholder':
      return variableCompletions(text, offset, info);
    case 'key':
      return info.path[0] === 'testData' && info.path.length === 2 ? testKeyCompletions(text, offset, info) : keyCompletions(PROMPT_KEYS, text, info);
    case 'value':
      return valueCompletions(PROMPT_KEYS, info);
    case 'none':
      return [];
  }
}

/** A variable name offered inside `{{ }}`: how many test cases give it a value, of how many. */
interface VariableFacts {
  readonly name: string;
  readonly inCases: number;
  /** undefined: the test data is unknown (no testData key, or the file does not parse). */
  readonly cases: number | undefined;
}

function variableFacts(text: string, prompt: PromptFile | undefined, exclude: PositionOf<'placeholder'>): VariableFacts[] {
  // The placeholder being typed is not a source of names, unless it is also written elsewhere.
  const written = placeholders(text).filter((p) => p.start !== exclude.start);
  const elsewhere = new Set(written.map((p) => p.name));
  const templateNames = prompt ? templateVariables(prompt).filter((n) => n !== exclude.variable || elsewhere.has(n)) : [...elsewhere];
  const testNames = prompt ? testVariables(prompt) : scanTestKeys(text);
  const cases = prompt ? prompt.testData?.length : undefined;
  const names = [...new Set([...testNames, ...templateNames])];
  return names.map((name) => ({
    name,
    inCases: prompt?.testData ? prompt.testData.filter((t) => Object.hasOwn(t.values, name)).length : testNames.includes(name) ? 1 : 0,
    cases,
  }));
}

function variableDetail(f: VariableFacts): string {
  if (f.cases === undefined) return f.inCases > 0 ? 'a test variable' : 'used by the templates; no test data';
  if (f.inCases === 0) return 'no test case gives it';
  return f.inCases === f.cases ? `given by all ${f.cases} test cases` : `given by ${f.inCases} of ${f.cases} test cases`;
}

function variableCompletions(text: string, offset: number, info: PositionOf<'placeholder'>): CompletionEntry[] {
  const { prompt } = analyzePrompt(text);
  const inName = offset >= info.nameStart && offset <= info.nameEnd;
  const range = inName ? { start: info.nameStart, end: info.nameEnd } : { start: offset, end: offset };
  return variableFacts(text, prompt, info).map((f) => {
    const everywhere = f.cases !== undefined && f.inCases === f.cases;
    return {
      label: f.name,
      kind: 'variable' as const,
      snippet: escapeSnippet(f.name) + (info.closed ? '' : '}}'),
      range,
      detail: variableDetail(f),
      ...(prompt ? { documentation: valuesMarkdown(prompt, f.name, 5) } : {}),
      sortText: `${everywhere ? 0 : f.inCases > 0 ? 1 : 2}${f.name}`,
    };
  });
}

/** Keys of a test case: the template variables this case gives no value yet. */
function testKeyCompletions(text: string, offset: number, info: PositionOf<'key'>): CompletionEntry[] {
  const { prompt } = analyzePrompt(text);
  const names = prompt ? templateVariables(prompt) : [...new Set(placeholders(text).map((p) => p.name))];
  const present = siblingKeys(text, info.start);
  const colonFollows = /^\s*:/.test(text.slice(info.end));
  return names
    .filter((n) => !present.has(n) || n === info.key)
    .map((name) => ({
      label: name,
      kind: 'key' as const,
      snippet: colonFollows ? escapeSnippet(name) : `${escapeSnippet(name)}: $0`,
      range: { start: info.start, end: Math.max(info.end, offset) },
      detail: 'a variable the templates use',
      documentation: `Gives \`{{${name}}}\` its value in this test case.`,
    }));
}

/** Test variable names read from lines, for when the file is not valid YAML while it is typed. */
export function scanTestKeys(text: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^testData\s*:\s*(#.*)?$/.test(l.replace(/\r$/, '')));
  if (start < 0) return [];
  const out = new Set<string>();
  let keyCol: number | undefined;
  for (const raw of lines.slice(start + 1)) {
    const line = raw.replace(/\r$/, '');
    if (/^[^\s#-]/.test(line)) break; // the next top-level key
    const m = /^(\s*)((?:-\s+)?)([^\s:#"'{[-][^:#]*?)\s*:(\s|$)/.exec(line);
    if (!m) continue;
    const col = m[1]!.length + m[2]!.length;
    if (keyCol === undefined && m[2] !== '') keyCol = col;
    if (col === keyCol) out.add(m[3]!);
  }
  return [...out];
}
