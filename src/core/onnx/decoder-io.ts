/**
 * Names in an exported decoder's interface that more than one side spells: the graph that declares
 * them (models/graph/decoder.ts) and the code that feeds exports directly (session.ts, benchmarks).
 */

/** The input that says how many last positions get logits, 0 for all (Hugging Face's logits_to_keep), as transformers.js feeds it: 1 while generating, 0 for a forward pass. */
export const LOGITS_TO_KEEP = 'num_logits_to_keep';
