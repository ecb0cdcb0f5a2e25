import type { GraphBuilder, Value } from '../../onnx/builder';
import type { ModelConfig } from '../config';
import { attentionKernel } from './attention-kernels';
import { activation, declareDecoderInputs, type DecoderOptions, finishDecoder, Params, rmsNorm } from './decoder';
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

  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    const start = g.recorded().length;
    x = g.scope(`layers.${i}`, () => {
      const h = rmsNorm(g, x, params.get(`${p}.input_layernorm.weight`, [H]), cfg.norm.eps); // [B, S, H]
      const [q, k, v] = params.linears(
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
      const att = attend({ layer: i, q: q!, k: k!, v: v!, ...(qkNorm ? { qkNorm } : {}) });
      present.push(att.present);
      const [o] = params.linears(att.out, nH * d, [{ name: `${p}.self_attn.o_proj`, out: H }], cfg.attention.outputBias, lora); // [B, S, H]
      const r = g.add(x, o!);

      const h2 = rmsNorm(g, r, params.get(`${p}.post_attention_layernorm.weight`, [H]), cfg.norm.eps);
      const [gate, up] = params.linears(
        h2,
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
      return g.add(r, down!);
    });
    options.training?.onLayer?.(start, g.recorded().length);
  }

  const normed = rmsNorm(g, x, params.get('model.norm.weight', [H]), cfg.norm.eps);
  const head = cfg.tieWordEmbeddings ? () => embed : () => params.embedding('lm_head.weight', [V, H]);
  finishDecoder(g, cfg, normed, head, io, present, options);
}
