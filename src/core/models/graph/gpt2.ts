import type { GraphBuilder, Value } from '../../onnx/builder';
import type { ModelConfig } from '../config';
import { activation, attention, attentionMasks, declareDecoderInputs, declareDecoderOutputs, type DecoderOptions, headFromRows, withLora } from './decoder';
import { bytes, type WeightReader } from './weights';

/**
 * GPT-2: learned absolute positions, pre-LayerNorm blocks, fused q/k/v (`c_attn`), and Conv1D
 * weights stored [in, out], which is already the layout MatMul wants.
 */
export function buildGpt2Graph(g: GraphBuilder, cfg: ModelConfig, w: WeightReader, options: DecoderOptions = {}): void {
  const lora = options.lora;
  const { hiddenSize: H, intermediateSize: I, vocabSize: V } = cfg;
  const io = declareDecoderInputs(g, cfg);
  const f32 = (name: string, shape: number[]) => g.initializer(name, 'float32', shape, bytes(w.f32(name, shape)));

  const wte = f32('transformer.wte.weight', [V, H]);
  const wpe = f32('transformer.wpe.weight', [cfg.maxPositionEmbeddings, H]);
  let x = g.add(g.gather(wte, io.inputIds), g.gather(wpe, io.positionIds)); // [B, S, H]
  const maskFor = attentionMasks(g, io, cfg);
  const present: { key: Value; value: Value }[] = [];
  const eps = cfg.norm.eps;

  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `transformer.h.${i}`;
    x = g.scope(`h.${i}`, () => {
      const h = g.layerNorm(x, f32(`${p}.ln_1.weight`, [H]), f32(`${p}.ln_1.bias`, [H]), eps);
      const qkv = withLora(g, h, g.add(g.matmul(h, f32(`${p}.attn.c_attn.weight`, [H, 3 * H])), f32(`${p}.attn.c_attn.bias`, [3 * H])), `${p}.attn.c_attn`, lora); // [B, S, 3H]
      const [q, k, v] = g.split(qkv, 2, [H, H, H]);
      const att = attention(g, { cfg, layer: i, q: q!, k: k!, v: v!, past: io.past[i]!, mask: maskFor(i) });
      present.push(att.present);
      const o = withLora(g, att.out, g.add(g.matmul(att.out, f32(`${p}.attn.c_proj.weight`, [H, H])), f32(`${p}.attn.c_proj.bias`, [H])), `${p}.attn.c_proj`, lora);
      const r = g.add(x, o);
      const h2 = g.layerNorm(r, f32(`${p}.ln_2.weight`, [H]), f32(`${p}.ln_2.bias`, [H]), eps);
      const fc = withLora(g, h2, g.add(g.matmul(h2, f32(`${p}.mlp.c_fc.weight`, [H, I])), f32(`${p}.mlp.c_fc.bias`, [I])), `${p}.mlp.c_fc`, lora);
      const act = activation(g, fc, cfg.activation);
      const proj = withLora(g, act, g.add(g.matmul(act, f32(`${p}.mlp.c_proj.weight`, [I, H])), f32(`${p}.mlp.c_proj.bias`, [H])), `${p}.mlp.c_proj`, lora);
      return g.add(r, proj);
    });
  }
  const normed = g.layerNorm(x, f32('transformer.ln_f.weight', [H]), f32('transformer.ln_f.bias', [H]), eps);
  const table = cfg.tieWordEmbeddings ? wte : f32('lm_head.weight', [V, H]);
  declareDecoderOutputs(g, cfg, withLora(g, normed, headFromRows(g, normed, table, io, V, H), 'lm_head', lora), present);
}
