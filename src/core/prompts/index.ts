/**
 * Prompt files (`*.prompt.yml`, compatible with GitHub Models): parse and validate, render through a
 * model's chat template, run evaluators, check files for the CLI, and position facts for the
 * editor. No `vscode` import: the extension, the CLI and the tests share all of it.
 */
export * from './types';
export { parsePrompt, placeholders, renderTemplate, variableNames, valueText, type Placeholder } from './parse';
export { renderMessages, renderChat, renderForModel, type ChatMessage, type ModelInput, type RenderedChat, type Variables } from './render';
export { evaluate, evaluateOne, casePassed, type EvaluationResult } from './evaluate';
export {
  checkFiles,
  findPromptFiles,
  formatDiagnostic,
  countDiagnostics,
  promptPathProblems,
  promptPathRuleProblems,
  PROMPT_FILE,
  SNAPSHOT_FILE,
  type PathCheckOptions,
} from './check';
export { positionInfo, type PositionInfo } from './position';
export { templateVariables, testVariables, valuesOf, type CaseValue } from './variables';
export { keysAt, keyDoc, valuesAt, placeOf, PROMPT_KEYS, GITHUB_JUDGES, promptJsonSchema, type KeyPath } from './key-table';
export { hostedModel, type HostedModel } from './hosted';
export { validateJson, checkSchema, type SchemaViolation } from './json-schema';
export { suggest, editDistance } from '../yaml/suggest';
export { generationParams } from './params';
