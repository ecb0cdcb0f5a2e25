import { TuneloopError } from '../errors';

/**
 * Typed access to a JSON object read from a file, with errors that name the file and the key.
 * `undefined` and `null` both count as absent (Hugging Face writes `null` for unset values).
 */
export class ConfigReader {
  constructor(
    readonly raw: Readonly<Record<string, unknown>>,
    readonly file: string,
    /** Key path prefix for nested objects, e.g. `rope_scaling.`. */
    readonly prefix = '',
  ) {}

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  private fail(key: string, message: string, hint?: string): never {
    throw new TuneloopError(message, { file: this.file, key: this.prefix + key }, hint);
  }

  private need(key: string, what: string): never {
    return this.fail(key, `missing required key (${what})`, `add "${this.prefix + key}" to the config, as the checkpoint's training code wrote it`);
  }

  int(key: string, fallback?: number, min = 0): number {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback ?? this.need(key, 'an integer');
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) this.fail(key, `must be an integer, found ${JSON.stringify(v)}`);
    if (v < min) this.fail(key, `must be at least ${min}, found ${v}`);
    return v;
  }

  optionalInt(key: string, min = 0): number | undefined {
    return this.has(key) ? this.int(key, undefined, min) : undefined;
  }

  number(key: string, fallback?: number): number {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback ?? this.need(key, 'a number');
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, `must be a finite number, found ${JSON.stringify(v)}`);
    return v;
  }

  positive(key: string, fallback?: number): number {
    const v = this.number(key, fallback);
    if (!(v > 0)) this.fail(key, `must be positive, found ${v}`);
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, found ${JSON.stringify(v)}`);
    return v;
  }

  string(key: string, fallback?: string): string {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback ?? this.need(key, 'a string');
    if (typeof v !== 'string') this.fail(key, `must be a string, found ${JSON.stringify(v)}`);
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T, what = 'value'): T {
    const v = this.string(key, fallback);
    if (!(allowed as readonly string[]).includes(v)) {
      this.fail(key, `unsupported ${what} ${JSON.stringify(v)}`, `supported: ${allowed.join(', ')}`);
    }
    return v as T;
  }

  /** An integer or a list of integers (as `eos_token_id` may be); [] when absent. */
  intList(key: string): number[] {
    const v = this.raw[key];
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
      this.fail(key, `must be a token id or a list of token ids, found ${JSON.stringify(v)}`);
    }
    return list as number[];
  }

  stringList(key: string): string[] | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) this.fail(key, `must be a list of strings, found ${JSON.stringify(v)}`);
    return v as string[];
  }

  /** A nested object as a reader of its own, or undefined when absent. */
  object(key: string): ConfigReader | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(key, `must be an object, found ${JSON.stringify(v)}`);
    return new ConfigReader(v as Record<string, unknown>, this.file, `${this.prefix}${key}.`);
  }

  /** Raise an error about `key` (for checks that span several keys). */
  error(key: string, message: string, hint?: string): never {
    return this.fail(key, message, hint);
  }
}
