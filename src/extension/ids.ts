/**
 * Ids VS Code knows the extension's parts by. A leaf: main.ts (the activation entry, which must load
 * in a few milliseconds) reads them without pulling in the modules that implement the parts.
 */

/** The panel's webview type (package.json's onWebviewPanel activation event). */
export const PANEL_VIEW_TYPE = 'tuneloop.panel';

/** The Home view in the Tuneloop side bar (package.json's views). */
export const HOME_VIEW_ID = 'tuneloop.home';
