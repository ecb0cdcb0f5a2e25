/** Replaced at build time by esbuild's `define` with package.json's version. */
declare const __TUNELOOP_VERSION__: string | undefined;

export const VERSION: string = typeof __TUNELOOP_VERSION__ === 'string' ? __TUNELOOP_VERSION__ : 'dev';
