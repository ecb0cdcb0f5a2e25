import { variableNames } from './template';
import type { PromptFile, Span, TestValue } from './types';

/**
 * Variables seen from both sides, for the editor: completion inside `{{` offers the test data's
 * names, completion of a test case key offers the templates' names, and hover on a placeholder
 * shows its value in each test case.
 */

/** Names used by the templates: messages, string checks and hosted judges' prompts, in file order. */
export function templateVariables(prompt: Pick<PromptFile, 'messages' | 'evaluators'>): string[] {
  const templates = [
    ...prompt.messages.map((m) => m.content),
    ...prompt.evaluators.flatMap((e) => (e.kind === 'string' ? [e.value] : e.kind === 'llm' ? [e.llm.systemPrompt ?? '', e.llm.prompt ?? ''] : [])),
  ];
  return [...new Set(templates.flatMap(variableNames))];
}

/** Names given values by the test data, in order of first appearance. */
export function testVariables(prompt: Pick<PromptFile, 'testData'>): string[] {
  return [...new Set((prompt.testData ?? []).flatMap((t) => Object.keys(t.values)))];
}

export interface CaseValue {
  readonly caseIndex: number;
  /** undefined when this test case has no value for the variable. */
  readonly value: TestValue | undefined;
  /** Where the value's key is written in this test case. */
  readonly span?: Span;
}

/** A variable's value in each test case (empty without test data). */
export function valuesOf(prompt: Pick<PromptFile, 'testData'>, name: string): CaseValue[] {
  return (prompt.testData ?? []).map((t, caseIndex) => {
    const has = Object.hasOwn(t.values, name);
    const span = t.keys?.[name];
    return { caseIndex, value: has ? t.values[name] : undefined, ...(span ? { span } : {}) };
  });
}
