import { z } from 'zod';

/**
 * extension ⇄ webview (the Home view for now; the run/compare panel adds its messages here).
 * Both sides validate what they receive with these schemas; nothing else crosses.
 */

/** Commands a webview may ask the extension to run: an allow-list, never an arbitrary id. */
export const WEBVIEW_COMMANDS = ['tuneloop.openPanel', 'tuneloop.describeModel', 'tuneloop.showLog'] as const;

export const ToWebview = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('state'),
    version: z.string(),
    trusted: z.boolean(),
    hasWorkspace: z.boolean(),
    promptFiles: z.number().int().nonnegative(),
    adapterRecipes: z.number().int().nonnegative(),
  }),
]);
export type ToWebview = z.infer<typeof ToWebview>;

export const FromWebview = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('runCommand'), command: z.enum(WEBVIEW_COMMANDS) }),
]);
export type FromWebview = z.infer<typeof FromWebview>;
