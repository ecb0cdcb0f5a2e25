import type { z } from 'zod';

/**
 * What both webviews' protocols share (home-protocol.ts, panel/protocol.ts): each side validates what
 * it receives and drops the rest with this line in its log or console. Imported by the page too, so
 * zod only.
 */

/** A readable line for a message that failed validation (logs and console). */
export function describeInvalid(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`)
    .join('; ');
}
