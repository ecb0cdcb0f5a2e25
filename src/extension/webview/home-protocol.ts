import { z } from 'zod';

/**
 * extension ⇄ the Home view (activity bar). Both sides validate what they receive with these schemas
 * (the extension in HomeViewProvider, the page in media/home.ts); nothing else crosses. The page is
 * bundled for the browser, so this file imports zod only (no node modules, no core code). The panel
 * has its own protocol (src/extension/panel/protocol.ts).
 */

/** Commands the Home view may ask the extension to run: an allow-list, never an arbitrary id. */
export const HOME_COMMANDS = ['tuneloop.openPanel', 'tuneloop.describeModel', 'tuneloop.showLog'] as const;

export const ToHome = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('state'),
    version: z.string(),
    trusted: z.boolean(),
    hasWorkspace: z.boolean(),
    promptFiles: z.number().int().nonnegative(),
    adapterRecipes: z.number().int().nonnegative(),
  }),
]);
export type ToHome = z.infer<typeof ToHome>;

export const FromHome = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('runCommand'), command: z.enum(HOME_COMMANDS) }),
  // A count was clicked: pick one of those files to open.
  z.object({ type: z.literal('showFiles'), kind: z.enum(['prompt', 'adapter']) }),
]);
export type FromHome = z.infer<typeof FromHome>;
