/**
 * Prompt files (`NAME.prompt.yml` / `NAME.prompt.yaml`): the format of GitHub Models prompt files
 * (`github/gh-models`), which Tuneloop reads unchanged, plus a few optional Tuneloop keys (marked
 * below). A file written for GitHub stays valid here; a file using Tuneloop's keys is still
 * readable by GitHub, which ignores keys it does not know.
 */

// The diagnostic and JSON types are shared with adapter recipes (core/yaml); re-exported here as
// part of the prompt format's API.
import type { Diagnostic, Span } from '../yaml/diagnostic';
import type { JsonObject, JsonValue } from '../yaml/json';
import type { ModelParameters } from '../infer/parameters';
import type { ExportDtype } from '../dtypes';

export type { Diagnostic, DiagnosticCode, Severity, Span } from '../yaml/diagnostic';
export type { JsonObject, JsonValue } from '../yaml/json';

export const ROLES = ['system', 'user', 'assistant'] as const;
export type Role = (typeof ROLES)[number];

export interface PromptMessage {
  readonly role: Role;
  /** May hold `{{variable}}` placeholders. */
  readonly content: string;
  readonly span?: Span;
}

export const RESPONSE_FORMATS = ['text', 'json_object', 'json_schema'] as const;
export type ResponseFormat = (typeof RESPONSE_FORMATS)[number];

/** `modelParameters`: the generation parameters' schema (core/infer/parameters.ts), each optional. A file may write `stop` as one string; here it is always a list. */
export type { ModelParameters } from '../infer/parameters';

/** A test value: any YAML scalar or structure (rendered into templates by renderTemplate). */
export type TestValue = JsonValue;

/** The values of a prompt file's top-level `task` key. */
export const TASKS = ['classification'] as const;
export type Task = (typeof TASKS)[number];

export interface TestCase {
  /** Variable name → value. `expected` is conventional (hosted judges compare against it). */
  readonly values: { readonly [name: string]: TestValue };
  readonly span?: Span;
  /** Where each variable's key is written, for hover and diagnostics. */
  readonly keys?: { readonly [name: string]: Span };
}

export const STRING_CHECKS = ['equals', 'contains', 'startsWith', 'endsWith'] as const;
export type StringCheck = (typeof STRING_CHECKS)[number];

/** An `llm:` evaluator: a judge model on GitHub Models, kept as written (not run locally). */
export interface LlmJudge {
  readonly modelId?: string;
  readonly prompt?: string;
  readonly systemPrompt?: string;
  readonly choices?: readonly { readonly choice: string; readonly score: number }[];
}

/** What an evaluator checks; `kind` is the key of the evaluator tables in parse and evaluate. */
export type EvaluatorCheck =
  /** GitHub: `string: {equals|contains|startsWith|endsWith: template}`. */
  | { readonly kind: 'string'; readonly check: StringCheck; readonly value: string }
  /** Tuneloop: `regex: pattern`, optional `flags` (of i, m, s, u). */
  | { readonly kind: 'regex'; readonly pattern: string; readonly flags: string }
  /** Tuneloop: `json: true` (against the file's jsonSchema if it has one) or `json: {schema}`. */
  | { readonly kind: 'json'; readonly schema?: JsonObject }
  /** Tuneloop: `maxLength: n`, the output's length in characters (code points). */
  | { readonly kind: 'maxLength'; readonly max: number }
  /** GitHub: `uses: github/similarity` and its siblings; hosted, not run locally. */
  | { readonly kind: 'uses'; readonly uses: string }
  /** GitHub: `llm: {...}`; hosted, not run locally. */
  | { readonly kind: 'llm'; readonly llm: LlmJudge };

export type EvaluatorKind = EvaluatorCheck['kind'];

export type Evaluator = {
  readonly name: string;
  /** Tuneloop: `not: true` negates the check. */
  readonly not: boolean;
  readonly span?: Span;
} & EvaluatorCheck;

/** Tuneloop: an adapter to run the prompt on (a recipe `*.adapter.yml` or a PEFT adapter folder). */
export interface AdapterEntry {
  /** As written, relative to the prompt file unless absolute. */
  readonly path: string;
  /** Overrides the file's minPassRate for this adapter. */
  readonly minPassRate?: number;
  /** Overrides the file's maxRegressions for this adapter. */
  readonly maxRegressions?: number;
  /** Overrides the file's maxProbeFlips for this adapter. */
  readonly maxProbeFlips?: number;
  readonly span?: Span;
}

/**
 * Tuneloop: a counterfactual probe (core/probes): values swapped into each test case, so that a
 * variant's outputs under each can be compared. Each probe has *columns* (the swaps): a variable's
 * values, or a word table's columns (`he | she | they`). Column 0 is the reference the others are
 * compared with.
 */
export type Probe = { readonly name: string; readonly span?: Span } & ProbeSwap;

/** What a probe swaps; `labels` names its columns (the values, or a word table's labels). */
export type ProbeSwap =
  | { readonly kind: 'variable'; readonly variable: string; readonly values: readonly string[]; readonly labels: readonly string[] }
  /** Rows of words, one per column; `table` names a built-in table (core/probes/words.ts). */
  | { readonly kind: 'words'; readonly table?: string; readonly rows: readonly (readonly string[])[]; readonly labels: readonly string[] };

export interface PromptFile {
  readonly name?: string;
  readonly description?: string;
  /** A Hub id, a local folder, or a hosted GitHub Models id (then the configured local model runs). */
  readonly model?: string;
  /**
   * Tuneloop: the weights' dtype the model runs in (fp32, q8 or q4: core/export/dtypes.ts). A top-level
   * key, not under modelParameters, which GitHub Models reads. Absent: the setting's, else fp32.
   */
  readonly dtype?: ExportDtype;
  /** Tuneloop: `classification` turns on label metrics (core/compare/labels.ts); a top-level key. */
  readonly task?: Task;
  readonly modelParameters: ModelParameters;
  readonly responseFormat?: ResponseFormat;
  /** The schema itself; GitHub's `{name, strict, schema}` wrapper and JSON strings are unwrapped. */
  readonly jsonSchema?: JsonObject;
  readonly messages: readonly PromptMessage[];
  /** Absent when the file has none: values then come from the user at run time. */
  readonly testData?: readonly TestCase[];
  readonly evaluators: readonly Evaluator[];
  /** Tuneloop. */
  readonly adapters: readonly AdapterEntry[];
  /** Tuneloop: the share of test cases (0..1) whose evaluators must all pass, per variant. */
  readonly minPassRate?: number;
  /**
   * Tuneloop: the most regressions each adapter may have against the base model: (test case,
   * evaluator) pairs the base passes and the adapter fails (core/compare/scores.ts). Absent: no limit.
   */
  readonly maxRegressions?: number;
  /** Tuneloop: counterfactual probes (`tuneloop probe`); empty when the file has none. */
  readonly probes: readonly Probe[];
  /** Tuneloop: the most probe flips each variant may have (core/probes/report.ts). Absent: no limit. */
  readonly maxProbeFlips?: number;
  /** Tuneloop: the snapshot file, relative to the prompt file. */
  readonly snapshot?: string;
  /** Where the path-valued keys' values are written, for diagnostics about the paths. */
  readonly spans?: { readonly model?: Span; readonly snapshot?: Span };
}

export interface ParseResult {
  /** Absent when the file cannot be read as a prompt at all (YAML syntax errors, not a mapping). */
  readonly prompt?: PromptFile;
  readonly diagnostics: Diagnostic[];
}
