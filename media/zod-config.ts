import { z } from 'zod';

/**
 * Imported first by main.ts, before any schema is built: zod compiles validators with `new Function`
 * unless told not to, and probes for it when a schema is constructed. The page's CSP allows no eval
 * (and reports even a caught probe as a violation), so it validates without compiling.
 */
z.config({ jitless: true });
