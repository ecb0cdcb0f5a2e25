import type { GraphBuilder, Value } from '../../onnx/builder';
import type { ModelConfig } from '../config';
import { attentionKernel } from './attention-kernels';
import { activation, declareDecoderInputs, type DecoderOptions, finishDecoder, Params, rmsNorm, skipRmsNorm } from './decoder';
import type { WeightReader } from './weights';

/**
 * Llama and the families built like it (mistral, qwen2, qwen3): pre-norm blocks of RMSNorm →
 * rotary attention → RMSNorm → gated MLP (down(act(gate(x)) · up(x))).
 */
export function buildLlamaGraph(g: GraphBuilder, cfg: ModelConfig, w: WeightReader, options: DecoderOptions = {}): void {
  const lora = options.lora;
  const { hiddenSize: H, numHeads: nH, numKvHeads: kvH, headDim: d, intermediateSize: I, vocabSize: V } = cfg;
  const io = declareDecoderInputs(g, cfg, options);
  const params = new Params(g, w, options);

  const embed = params.embedding('model.embed_tokens.weight', [V, H]);
  let x = embed.lookup(io.inputIds); // [B, S, H]
  const attend = attentionKernel(g, cfg, io, options);
  const present: { key: Value; value: Value }[] = [];

  // Inference exports in fused ops add each residual in the kernel of the norm that follows it
  // (skipRmsNorm): a layer's last addition, its MLP output, waits in `pending` for the next layer's
  // first norm, or the final one. Training and plain graphs add at the end of each layer, so that a
  // layer's recorded ops (recomputed under gradient checkpointing) start from its one input.
  const fuseResidual = options.training === undefined && options.plainOps !== true;
  let pending: Value | undefined; // [B, S, H]
  /** x + delta (x alone without a delta) [B, S, H], and its RMSNorm. */
  const normAfter = (x: Value, delta: Value | undefined, weight: Value): { sum: Value; normed: Value } => {
    if (!delta) return { sum: x, normed: rmsNorm(g, x, weight, cfg.norm.eps) };
    if (fuseResidual) return skipRmsNorm(g, x, delta, weight, cfg.norm.eps);
    const sum = g.add(x, delta);
    return { sum, normed: rmsNorm(g, sum, weight, cfg.norm.eps) };
  };

  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    const start = g.recorded().length;
    x = g.scope(`layers.${i}`, () => {
      const first = normAfter(x, pending, params.get(`${p}.input_layernorm.weight`, [H]));
      const input = first.sum; // [B, S, H]
      const h = first.normed; // [B, S, H]
      const qkv = params.linearsPacked(
        h,
        H,
        [
          { name: `${p}.self_attn.q_proj`, out: nH * d },
          { name: `${p}.self_attn.k_proj`, out: kvH * d },
          { name: `${p}.self_attn.v_proj`, out: kvH * d },
        ],
        cfg.attention.qkvBias,
        lora,
      );
      const qkNorm = cfg.attention.qkNorm
        ? { q: params.get(`${p}.self_attn.q_norm.weight`, [d]), k: params.get(`${p}.self_attn.k_norm.weight`, [d]), eps: cfg.norm.eps }
        : undefined;
      const [q, k, v] = qkv.outs;
      const att = attend({ layer: i, q: q!, k: k!, v: v!, ...(qkNorm ? { qkNorm } : {}), ...(qkv.packed ? { packed: qkv.packed } : {}) });
      present.push(att.present);
      const [o] = params.linears(att.out, nH * d, [{ name: `${p}.self_attn.o_proj`, out: H }], cfg.attention.outputBias, lora); // [B, S, H]
      const second = normAfter(input, o!, params.get(`${p}.post_attention_layernorm.weight`, [H]));
      const r = second.sum; // [B, S, H]

      const [gate, up] = params.linears(
        second.normed,
        H,
        [
          { name: `${p}.mlp.gate_proj`, out: I },
          { name: `${p}.mlp.up_proj`, out: I },
        ],
        cfg.mlp.bias,
        lora,
      ); // [B, S, I] each
      const act = g.mul(activation(g, gate!, cfg.activation), up!);
      const [down] = params.linears(act, I, [{ name: `${p}.mlp.down_proj`, out: H }], cfg.mlp.bias, lora);
      if (fuseResidual) {
        pending = down!;
        return r;
      }
      return g.add(r, down!);
    });
    options.training?.onLayer?.(start, g.recorded().length);
  }

  const normed = normAfter(x, pending, params.get('model.norm.weight', [H])).normed;
  const head = cfg.tieWordEmbeddings ? () => embed : () => params.embedding('lm_head.weight', [V, H]);
  finishDecoder(g, cfg, normed, head, io, present, options);
}
