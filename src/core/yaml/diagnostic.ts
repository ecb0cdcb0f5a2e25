/**
 * Problems found in a YAML file Tuneloop reads (prompt files, adapter recipes), with their places.
 * One shape for every file kind, so that the CLI, the editor and the tests treat them alike.
 */

/** A place in the source text: 0-based offsets and 1-based lines and columns (UTF-16 units). */
export interface Span {
  readonly start: number;
  readonly end: number;
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
}

export type Severity = 'error' | 'warning' | 'info';

/** One problem found in a file. `message` says what to do about it. */
export interface Diagnostic {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
  readonly severity: Severity;
  readonly message: string;
  /** A stable identifier of the kind of problem, for filtering and tests (see DiagnosticCode). */
  readonly code: DiagnosticCode;
}

/** Every file kind's codes in one union: the editor maps each to its presentation (extension/language/convert.ts). */
export type DiagnosticCode =
  | 'yaml-syntax'
  | 'yaml-warning'
  | 'type'
  | 'range'
  | 'required'
  | 'unknown-key'
  | 'unknown-value'
  | 'unknown-role'
  | 'no-messages'
  | 'no-content'
  | 'evaluator-kind'
  | 'evaluator-conflict'
  | 'string-check'
  | 'regex'
  | 'json-schema'
  | 'missing-variable'
  | 'unused-variable'
  | 'hosted-judge'
  | 'hosted-model'
  | 'duplicate-name'
  | 'file';
