import type { GraphBuilder, Value } from '../../onnx/builder';
import type { ModelConfig } from '../config';
import { attentionKernel } from './attention-kernels';
import { activation, declareDecoderInputs, type DecoderOptions, finishDecoder, Params } from './decoder';
import { withLora } from './lora-branches';
import type { WeightReader } from './weights';

/**
 * GPT-2: learned absolute positions, pre-LayerNorm blocks, fused q/k/v (`c_attn`), and Conv1D
 * weights stored [in, out], which is already the layout MatMul wants.
 */
export function buildGpt2Graph(g: GraphBuilder, cfg: ModelConfig, w: WeightReader, options: DecoderOptions = {}): void {
  const lora = options.lora;
  const { hiddenSize: H, intermediateSize: I, vocabSize: V } = cfg;
  const io = declareDecoderInputs(g, cfg, options);
  const params = new Params(g, w, options);
  /** Conv1D: y = x·W + b with W [in, out]; the LoRA branch as on any linear. */
  const conv = (x: Value, name: string, inF: number, outF: number) =>
    withLora(g, x, g.add(params.conv1d(x, `${name}.weight`, inF, outF), params.get(`${name}.bias`, [outF])), name, lora);

  const wte = params.embedding('transformer.wte.weight', [V, H]);
  const wpe = params.embedding('transformer.wpe.weight', [cfg.maxPositionEmbeddings, H], true);
  let x = g.add(wte.lookup(io.inputIds), wpe.lookup(io.positionIds)); // [B, S, H]
  const attend = attentionKernel(g, cfg, io, options);
  const present: { key: Value; value: Value }[] = [];
  const eps = cfg.norm.eps;

  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `transformer.h.${i}`;
    const start = g.recorded().length;
    x = g.scope(`h.${i}`, () => {
      const h = g.layerNorm(x, params.get(`${p}.ln_1.weight`, [H]), params.get(`${p}.ln_1.bias`, [H]), eps);
      const qkv = conv(h, `${p}.attn.c_attn`, H, 3 * H); // [B, S, 3H]
      const [q, k, v] = g.split(qkv, 2, [H, H, H]);
      const att = attend({ layer: i, q: q!, k: k!, v: v! });
      present.push(att.present);
      const r = g.add(x, conv(att.out, `${p}.attn.c_proj`, H, H));
      const h2 = g.layerNorm(r, params.get(`${p}.ln_2.weight`, [H]), params.get(`${p}.ln_2.bias`, [H]), eps);
      const act = activation(g, conv(h2, `${p}.mlp.c_fc`, H, I), cfg.activation); // [B, S, I]
      return g.add(r, conv(act, `${p}.mlp.c_proj`, I, H));
    });
    options.training?.onLayer?.(start, g.recorded().length);
  }
  const normed = g.layerNorm(x, params.get('transformer.ln_f.weight', [H]), params.get('transformer.ln_f.bias', [H]), eps);
  const head = cfg.tieWordEmbeddings ? () => wte : () => params.embedding('lm_head.weight', [V, H]);
  finishDecoder(g, cfg, normed, head, io, present, options);
}
