import { keyHover, valueHover } from '../yaml/hover';
import type { HoverInfo } from '../yaml/editor';
import { analyzePrompt } from './analyze';
import { PROMPT_KEYS } from './key-table';
import { clip, inlineCode } from './markdown';
import { positionInfo, type PositionOf } from './position';
import { valueText } from './template';
import type { PromptFile } from './types';
import { templateVariables, valuesOf } from './variables';

/** Hover in prompt files: keys and values from the key table, placeholders and test keys with their test values. */

export function hoverAt(text: string, offset: number): HoverInfo | undefined {
  const info = positionInfo(text, offset);
  switch (info.kind) {
    case 'placeholder': {
      if (!info.closed || info.variable === '') return undefined;
      const { prompt } = analyzePrompt(text);
      const body = prompt ? valuesMarkdown(prompt, info.variable) : 'The file does not parse yet, so its test values are unknown.';
      return { markdown: `**\`{{${info.variable}}}\`**\n\n${body}`, range: { start: info.start, end: info.end } };
    }
    case 'key': {
      if (info.key === '') return undefined;
      if (info.path[0] === 'testData' && info.path.length === 2) return testKeyHover(text, info);
      return keyHover(PROMPT_KEYS, info);
    }
    case 'value':
      return valueHover(PROMPT_KEYS, info);
    case 'none':
      return undefined;
  }
}

function testKeyHover(text: string, info: PositionOf<'key'>): HoverInfo | undefined {
  const { prompt } = analyzePrompt(text);
  if (!prompt) return undefined;
  const used = templateVariables(prompt).includes(info.key);
  const conventional = info.key === 'expected' ? ' By convention, the expected answer (hosted judges compare against it).' : '';
  const markdown = used
    ? `**${info.key}**: a test variable, written as \`{{${info.key}}}\` in the prompt.${conventional}`
    : `**${info.key}**: a test value that no message or evaluator uses.${conventional}`;
  return { markdown, range: { start: info.start, end: info.end } };
}

/** A variable's value in each test case, as a Markdown list; `limit` cuts long lists. */
export function valuesMarkdown(prompt: PromptFile, name: string, limit = 20): string {
  const cases = prompt.testData;
  if (cases === undefined) return 'The file has no test data: the value is asked for when the prompt runs.';
  const values = valuesOf(prompt, name);
  if (values.length === 0) return 'The test data is empty.';
  const missing = values.filter((c) => c.value === undefined).length;
  const head =
    missing === 0
      ? `Given by all ${values.length} test cases:`
      : missing === values.length
        ? `**No test case gives a value**: the model would see \`{{${name}}}\` as written.`
        : `**Missing in ${missing} of ${values.length} test cases**, where the model would see \`{{${name}}}\` as written:`;
  if (missing === values.length) return head;
  const lines = values.slice(0, limit).map((c) => {
    const line = cases[c.caseIndex]?.span?.line;
    const where = `${c.caseIndex + 1}${line !== undefined ? ` (line ${line})` : ''}`;
    return c.value === undefined ? `- case ${where}: ⚠ *missing*` : `- case ${where}: ${inlineCode(clip(valueText(c.value)))}`;
  });
  if (values.length > limit) lines.push(`- … and ${values.length - limit} more`);
  return `${head}\n\n${lines.join('\n')}`;
}
