import type { z } from 'zod';
import { describeIssues } from '../../core/zod-issues';

/**
 * What both webviews' protocols share (home-protocol.ts, panel/protocol.ts): each side validates what
 * it receives and drops the rest with this line in its log or console. Imported by the page too, so
 * zod only.
 */

/** A readable line for a message that failed validation (logs and console). */
export function describeInvalid(error: z.ZodError): string {
  return describeIssues(error, '(message)');
}
