/**
 * Editor features for prompt files with no editor in sight, in one import: completion, hover,
 * CodeLens positions, live diagnostics and the rendered-prompt preview. Each lives in a module of
 * its own; the key/value machinery they share with adapter recipes is in core/yaml.
 */
export { analyzePrompt, clearLanguageCaches } from './analyze';
export { completionsAt, scanTestKeys } from './completion';
export { promptDiagnostics } from './diagnostics';
export { hoverAt, valuesMarkdown } from './hover';
export { codeLensesFor } from './lenses';
export { formatPreview, previewCases, type PreviewCase, type PreviewInput, type RenderedCase } from './preview';
export { resolvePreviewModel, type PreviewModel, type PreviewModelInput } from './preview-model';
export { promptJsonSchema } from './key-table';
export { firstContentLine, type CompletionEntry, type CompletionKind, type HoverInfo, type LensAction, type LensSpec, type TextRange } from '../yaml/editor';
