import { loadTokenizer, summarizeTokenizer, type TokenizerSummary } from './tokenizer';
import { formatBytes } from '../format';
import type { ModelConfig } from '../models/config';
import { type CheckpointSummary, inspectCheckpoint } from '../models/inspect';

const int = (n: number) => n.toLocaleString('en-US');

function describeRope(cfg: ModelConfig): string {
  if (cfg.positions.type === 'learned') return `learned absolute positions (${int(cfg.maxPositionEmbeddings)})`;
  const r = cfg.positions.rope;
  const base = `RoPE theta ${r.theta}`;
  switch (r.type) {
    case 'default':
      return base;
    case 'linear':
      return `${base}, linear scaling ×${r.factor}`;
    case 'llama3':
      return `${base}, llama3 scaling ×${r.factor} (low ${r.lowFreqFactor}, high ${r.highFreqFactor}, original context ${int(r.originalMaxPositionEmbeddings)})`;
  }
}

function describeAttention(cfg: ModelConfig): string {
  const kind =
    cfg.numKvHeads === cfg.numHeads
      ? 'multi-head'
      : cfg.numKvHeads === 1
        ? 'multi-query'
        : `grouped-query (${cfg.numHeads / cfg.numKvHeads} query heads per kv head)`;
  const windows = [...new Set(cfg.attention.slidingWindow)];
  const span =
    windows.length === 1 && windows[0] === null ? 'full causal' : `sliding window ${windows.map((w) => (w === null ? 'none' : w)).join('/')} by layer`;
  const extras = [cfg.attention.qkvBias && 'q/k/v biases', cfg.attention.qkNorm && 'q/k RMSNorm'].filter(Boolean);
  return [kind, span, ...extras].join(', ');
}

/** Lines describing a checkpoint, for `tuneloop info` and the extension's log. */
export function describeCheckpoint(s: CheckpointSummary): string[] {
  const c = s.config;
  const w = s.weights;
  const lines = [
    `${s.architecture} (model_type ${c.modelType})`,
    `parameters    ${int(s.parameters)} (from config.json); on disk ${int(w.elements)} in ${w.tensors} tensors, ${w.dtypes.join('/')}, ${formatBytes(w.bytes)} in ${w.files.join(', ')}`,
    `shape         ${c.numLayers} layers, hidden ${c.hiddenSize}, ${c.numHeads} heads (${c.numKvHeads} kv, head_dim ${c.headDim}), intermediate ${c.intermediateSize}, vocab ${int(c.vocabSize)}, context ${int(c.maxPositionEmbeddings)}`,
    `positions     ${describeRope(c)}`,
    `attention     ${describeAttention(c)}`,
    `block         ${c.norm.type === 'rms' ? 'RMSNorm' : 'LayerNorm'} eps ${c.norm.eps}, ${c.mlp.gated ? 'gated ' : ''}MLP with ${c.activation}${c.mlp.bias ? ' and biases' : ''}, ${c.tieWordEmbeddings ? 'tied' : 'separate'} input/output embeddings`,
    `tokens        eos ${c.eosTokenIds.length ? c.eosTokenIds.join(', ') : 'none'}, bos ${c.bosTokenId ?? 'none'}, pad ${c.padTokenId ?? 'none'}`,
  ];
  if (s.ignored.length > 0) lines.push(`ignored       ${s.ignored.length} tensor(s) transformers also ignores, e.g. ${s.ignored[0]}`);
  return lines;
}

/** Everything `tuneloop info` shows: the checkpoint (config + weight headers) and its tokenizer. */
export async function describeModelFolder(dir: string): Promise<{ summary: CheckpointSummary; tokenizer: TokenizerSummary; lines: string[] }> {
  const summary = inspectCheckpoint(dir);
  const tokenizer = summarizeTokenizer(await loadTokenizer(dir));
  const lines = [
    ...describeCheckpoint(summary),
    `tokenizer     ${int(tokenizer.vocabSize)} tokens, special ${tokenizer.specialTokens.join(' ')}, chat template ${tokenizer.hasChatTemplate ? 'yes' : 'no'}`,
  ];
  return { summary, tokenizer, lines };
}
