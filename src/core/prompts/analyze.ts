import { parsePrompt } from './parse';
import type { ParseResult } from './types';

/**
 * The last few parses, by text. Every feature of one document version (diagnostics, CodeLens,
 * hover, completion) asks about the same text, so one parse serves them all; the text is the key
 * because it is the only thing the result depends on.
 */
class ParseMemo<T> {
  private readonly entries: { text: string; value: T }[] = [];
  constructor(
    private readonly compute: (text: string) => T,
    private readonly size = 4,
  ) {}

  get(text: string): T {
    const i = this.entries.findIndex((e) => e.text === text);
    if (i >= 0) {
      const [hit] = this.entries.splice(i, 1);
      this.entries.unshift(hit!);
      return hit!.value;
    }
    const value = this.compute(text);
    this.entries.unshift({ text, value });
    this.entries.length = Math.min(this.entries.length, this.size);
    return value;
  }

  clear(): void {
    this.entries.length = 0;
  }
}

const prompts = new ParseMemo((text) => parsePrompt(text));

/** The parse of a prompt text, shared by all features: read it, never change it. */
export function analyzePrompt(text: string): ParseResult {
  return prompts.get(text);
}

/** Forget the memoised parses (benchmarks measure a cold start with it). */
export function clearLanguageCaches(): void {
  prompts.clear();
}
