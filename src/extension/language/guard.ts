import type { Log } from '../log';

/**
 * Runs a language feature so that nothing it throws reaches the extension host: a bug in one
 * feature is logged and answered with `fallback` (no items, no hover), and typing goes on.
 */
export function guarded<T>(log: Log, what: string, fallback: T, run: () => T): T {
  try {
    return run();
  } catch (e) {
    log.error(`${what} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return fallback;
  }
}
