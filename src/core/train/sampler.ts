import type { PreTrainedTokenizer } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import type { ModelConfig } from '../models/config';
import { buildDecoderModel } from '../models/graph';
import type { LoraProvider } from '../models/graph/lora-branches';
import type { FrozenWeights } from '../models/graph/frozen';
import { WeightReader } from '../models/graph/weights';
import { openSessionFromModel } from '../onnx/session';
import type { TensorStore } from '../safetensors/checkpoint';
import type { Example } from './data';
import { loraInputName } from './graph';
import type { LoraModuleSpec } from './lora-params';
import { frozenFeeds, TRAINING_SESSION_CONFIG } from './onnx-step';

/**
 * Sample generations during training: an inference graph with a KV cache whose trainable tensors
 * (LoRA's A and B, or every weight) are inputs, so the weights of the moment are fed at each call
 * without exporting anything. Greedy, up to `maxTokens`, stopping at the end token.
 */
export class TrainingSampler {
  private session: Promise<ort.InferenceSession> | undefined;
  private frozenTensors: Record<string, ort.Tensor> = {};

  constructor(
    private readonly cfg: ModelConfig,
    private readonly store: TensorStore,
    private readonly tok: PreTrainedTokenizer,
    private readonly lora: readonly LoraModuleSpec[] | undefined,
    private readonly options: {
      threads?: number;
      eosTokenIds: readonly number[];
      maxTokens?: number;
      /** The process's frozen weights (LoRA), shared with the training sessions; initializers when absent. */
      frozen?: FrozenWeights;
    },
  ) {}

  private open(): Promise<ort.InferenceSession> {
    this.session ??= (async () => {
      const byModule = new Map((this.lora ?? []).map((m) => [m.module.name, m]));
      const provider: LoraProvider | undefined = this.lora
        ? (g, module) => {
            const m = byModule.get(module);
            if (!m) return undefined;
            return {
              a: g.input(loraInputName(module, 'A'), 'float32', [m.r, m.module.inFeatures]),
              b: g.input(loraInputName(module, 'B'), 'float32', [m.module.outFeatures, m.r]),
              scale: m.scale,
            };
          }
        : undefined;
      const frozen = this.lora ? this.options.frozen : undefined;
      const model = buildDecoderModel(this.cfg, new WeightReader(this.cfg, this.store), {
        ...(provider ? { lora: provider } : {}),
        ...(frozen ? { frozen } : {}),
        weightsAsInputs: !this.lora,
      });
      const session = await openSessionFromModel(model, this.options.threads, TRAINING_SESSION_CONFIG);
      this.frozenTensors = frozenFeeds(frozen, session.inputNames);
      return session;
    })();
    return this.session;
  }

  /** The prompt part of an example: its tokens up to the first one the loss learns. */
  static promptOf(e: Example): number[] {
    const first = e.mask.findIndex((m, t) => m === 1 && t > 0);
    return e.ids.slice(0, first > 0 ? first : Math.max(1, Math.floor(e.ids.length / 2)));
  }

  async sample(prompt: readonly number[], params: ReadonlyMap<string, Float32Array>): Promise<{ prompt: string; output: string }> {
    const session = await this.open();
    const { numLayers: L, numKvHeads: kvH, headDim: d } = this.cfg;
    const trainable: Record<string, ort.Tensor> = { ...this.frozenTensors };
    for (const name of session.inputNames) {
      const p = params.get(name);
      if (p) trainable[name] = new ort.Tensor('float32', p, this.shapeOf(name, p.length));
    }
    let past: Record<string, ort.Tensor> = {};
    for (let i = 0; i < L; i++)
      for (const kv of ['key', 'value']) past[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, kvH, 0, d]);
    const out: number[] = [];
    let ids = [...prompt];
    let position = 0;
    const eos = new Set(this.options.eosTokenIds);
    for (let step = 0; step < (this.options.maxTokens ?? 24); step++) {
      const S = ids.length;
      const feeds: Record<string, ort.Tensor> = {
        ...trainable,
        ...past,
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, S]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(position + S).fill(1n), [1, position + S]),
        position_ids: new ort.Tensor(
          'int64',
          BigInt64Array.from({ length: S }, (_, i) => BigInt(position + i)),
          [1, S],
        ),
      };
      const r = await session.run(feeds);
      const logits = r.logits!.data as Float32Array;
      const V = this.cfg.vocabSize;
      const row = logits.subarray((S - 1) * V, S * V);
      let best = 0;
      for (let v = 1; v < V; v++) if (row[v]! > row[best]!) best = v;
      position += S;
      past = {};
      for (let i = 0; i < L; i++) for (const kv of ['key', 'value']) past[`past_key_values.${i}.${kv}`] = r[`present.${i}.${kv}`]!;
      if (eos.has(best)) break;
      out.push(best);
      ids = [best];
    }
    // A first token that ends the sequence leaves nothing to decode (the tokenizer refuses an empty list).
    return {
      prompt: this.tok.decode([...prompt], { skip_special_tokens: false }),
      output: out.length ? this.tok.decode(out, { skip_special_tokens: true }) : '',
    };
  }

  private shapeOf(name: string, length: number): number[] {
    const m = /^(.*)\.lora_([AB])$/.exec(name);
    const spec = m ? (this.lora ?? []).find((l) => l.module.name === m[1]) : undefined;
    if (spec) return m![2] === 'A' ? [spec.r, spec.module.inFeatures] : [spec.module.outFeatures, spec.r];
    return [...this.store.info(name).shape].length ? [...this.store.info(name).shape] : [length];
  }

  async dispose(): Promise<void> {
    if (this.session) await (await this.session).release();
  }
}
