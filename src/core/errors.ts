/**
 * Errors that reach a user. Each names where the problem is (a file, and a key, tensor or line
 * inside it) and says what to do, so that the CLI, the extension and the worker can print it
 * as is. Anything else thrown is a bug and is reported as such.
 */
export interface ErrorPlace {
  /** The file the problem is in. */
  file?: string;
  /** A key path (`rope_parameters.rope_type`), a tensor name, or another name inside the file. */
  key?: string;
  /** 1-based line and column, when the problem has a position in a text file. */
  line?: number;
  column?: number;
}

export class TuneloopError extends Error {
  readonly file: string | undefined;
  readonly key: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;
  /** What the user can do about it. */
  readonly hint: string | undefined;

  constructor(message: string, place: ErrorPlace = {}, hint?: string) {
    super(formatMessage(message, place, hint));
    this.name = 'TuneloopError';
    this.file = place.file;
    this.key = place.key;
    this.line = place.line;
    this.column = place.column;
    this.hint = hint;
  }
}

function formatMessage(message: string, place: ErrorPlace, hint: string | undefined): string {
  let where = '';
  if (place.file !== undefined) {
    where = place.file;
    if (place.line !== undefined) where += `:${place.line}${place.column !== undefined ? `:${place.column}` : ''}`;
    where += ': ';
  }
  const key = place.key !== undefined ? `${place.key}: ` : '';
  return `${where}${key}${message}${hint ? ` (${hint})` : ''}`;
}

/** A message for any thrown value; programming errors keep their stack for the log. */
export function describeError(e: unknown): string {
  if (e instanceof TuneloopError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
