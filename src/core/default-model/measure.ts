import type { PreTrainedTokenizer } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { loadTokenizer } from '../infer/tokenizer';
import { loadModelConfig } from '../models/config';
import { WeightReader } from '../models/graph/weights';
import { openSessionFromModel } from '../onnx/session';
import { TensorStore } from '../safetensors/checkpoint';
import { buildTrainingGraph } from '../train/graph';
import type { ChatTurn } from './corpus';

/**
 * How the default model does on prompts with one right output, measured in one forward pass per
 * batch (teacher forcing) instead of by generating: a prompt is answered `exact`ly when, at every
 * token of the right output and its end token, the most likely next token is that token, which is
 * exactly when greedy decoding produces the output and stops. The answer loss is the mean
 * next-token loss over those tokens.
 */
export interface Scored {
  readonly messages: readonly ChatTurn[];
  readonly expected: string;
}

export interface ScoreResult {
  readonly exact: boolean;
  /** Σ −log p over the output's tokens and its end token. */
  readonly lossSum: number;
  readonly tokens: number;
  /** Tokens of the prompt (system, examples, question, and the assistant's header). */
  readonly promptTokens: number;
}

function renderIds(tok: PreTrainedTokenizer, messages: readonly ChatTurn[], generationPrompt: boolean): number[] {
  const ids = tok.apply_chat_template(messages as ChatTurn[] as { role: string; content: string }[], {
    add_generation_prompt: generationPrompt,
    tokenize: true,
    return_dict: false,
    return_tensor: false,
  }) as unknown as (number | bigint)[];
  return ids.map(Number);
}

/** Prompt ids and the right output's ids through its end token, as the chat template renders them. */
export function scoredIds(tok: PreTrainedTokenizer, item: Scored, eos: readonly number[]): { prompt: number[]; answer: number[] } {
  const prompt = renderIds(tok, item.messages, true);
  const full = renderIds(tok, [...item.messages, { role: 'assistant', content: item.expected }], false);
  // Teacher forcing scores what greedy decoding would see only if the prompt, as generation renders
  // it, is exactly the start of the conversation with its answer.
  if (prompt.some((id, i) => full[i] !== id))
    throw new Error(`the chat template renders the prompt differently once the answer follows: ${JSON.stringify(item.expected)}`);
  const rest = full.slice(prompt.length);
  const end = rest.findIndex((id) => eos.includes(id));
  return { prompt, answer: end < 0 ? [...rest, eos[0]!] : rest.slice(0, end + 1) };
}

/** Score `items` on the model in `modelDir` (any dtype on disk; computed in float32). */
export async function scoreModel(modelDir: string, items: readonly Scored[], options: { threads?: number; batchSize?: number } = {}): Promise<ScoreResult[]> {
  const cfg = loadModelConfig(modelDir);
  const tok = await loadTokenizer(modelDir);
  // Generation stops at any end-of-sequence id: each of them ends the answer.
  const eos = cfg.eosTokenIds.length > 0 ? cfg.eosTokenIds : [2];
  const pad = cfg.padTokenId ?? eos[0]!;
  const rows = items.map((item) => scoredIds(tok, item, eos));
  const S = Math.max(...rows.map((r) => r.prompt.length + r.answer.length));
  const B = Math.min(options.batchSize ?? 32, rows.length);
  const V = cfg.vocabSize;
  const store = TensorStore.openDir(modelDir);
  let session: ort.InferenceSession | undefined;
  try {
    // Frozen weights as initializers (LoRA mode with no modules), the logits as an output, no gradients.
    const graph = buildTrainingGraph(cfg, new WeightReader(cfg, store), { batch: B, seq: S, mode: 'lora', lora: [], lossOnly: true, outputLogits: true });
    session = await openSessionFromModel(graph.model, options.threads);
    const out: ScoreResult[] = [];
    const positions = BigInt64Array.from({ length: B * S }, (_, i) => BigInt(i % S));
    for (let start = 0; start < rows.length; start += B) {
      const batch = rows.slice(start, start + B);
      const ids = new BigInt64Array(B * S).fill(BigInt(pad));
      const mask = new BigInt64Array(B * S);
      batch.forEach((r, b) => {
        [...r.prompt, ...r.answer].forEach((id, t) => {
          ids[b * S + t] = BigInt(id);
          mask[b * S + t] = 1n;
        });
      });
      const result = await session.run({
        input_ids: new ort.Tensor('int64', ids, [B, S]),
        attention_mask: new ort.Tensor('int64', mask, [B, S]),
        position_ids: new ort.Tensor('int64', positions, [B, S]),
        targets: new ort.Tensor('int64', new BigInt64Array(B * S), [B, S]),
        weights: new ort.Tensor('float32', new Float32Array(B * S), [B, S]),
      });
      const logits = result.logits!.data as Float32Array;
      batch.forEach((r, b) => {
        let exact = true;
        let lossSum = 0;
        r.answer.forEach((id, k) => {
          const t = r.prompt.length + k - 1; // the position whose logits predict this token
          const row = logits.subarray((b * S + t) * V, (b * S + t + 1) * V);
          let best = 0;
          let max = row[0]!;
          for (let v = 1; v < V; v++)
            if (row[v]! > max) {
              max = row[v]!;
              best = v;
            }
          let z = 0;
          for (let v = 0; v < V; v++) z += Math.exp(row[v]! - max);
          lossSum += Math.log(z) + max - row[id]!;
          const last = k === r.answer.length - 1;
          if (last ? !eos.includes(best) : best !== id) exact = false;
        });
        out.push({ exact, lossSum, tokens: r.answer.length, promptTokens: r.prompt.length });
      });
    }
    return out;
  } finally {
    await session?.release();
    store.close();
  }
}

/** The share of exact results, and the answer loss over all their tokens. */
export function summarise(results: readonly ScoreResult[]): { accuracy: number; answerLoss: number; count: number; tokens: number } {
  const tokens = results.reduce((a, r) => a + r.tokens, 0);
  return {
    accuracy: results.filter((r) => r.exact).length / Math.max(1, results.length),
    answerLoss: results.reduce((a, r) => a + r.lossSum, 0) / Math.max(1, tokens),
    count: results.length,
    tokens,
  };
}
