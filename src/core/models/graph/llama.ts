import type { GraphBuilder, Value } from '../../onnx/builder';
import type { ModelConfig } from '../config';
import { activation, attention, attentionMasks, declareDecoderInputs, declareDecoderOutputs, type DecoderOptions, headFromRows, rmsNorm, ropeTables, withLora } from './decoder';
import { bytes, concatColumns, type WeightReader } from './weights';

/**
 * Llama and the families built like it (mistral, qwen2, qwen3): pre-norm blocks of RMSNorm →
 * rotary attention → RMSNorm → gated MLP. Projections that read the same input are fused into one
 * MatMul (q/k/v, gate/up) with the weights transposed to [in, out] and concatenated, since
 * onnxruntime pre-packs a constant second MatMul operand.
 */
export function buildLlamaGraph(g: GraphBuilder, cfg: ModelConfig, w: WeightReader, options: DecoderOptions = {}): void {
  const lora = options.lora;
  const { hiddenSize: H, numHeads: nH, numKvHeads: kvH, headDim: d, intermediateSize: I, vocabSize: V } = cfg;
  const io = declareDecoderInputs(g, cfg);
  const f32 = (name: string, shape: number[]) => g.initializer(name, 'float32', shape, bytes(w.f32(name, shape)));

  const embed = f32('model.embed_tokens.weight', [V, H]);
  let x = g.gather(embed, io.inputIds); // [B, S, H]
  const rope = ropeTables(g, cfg, io.positionIds);
  const maskFor = attentionMasks(g, io, cfg);
  const present: { key: Value; value: Value }[] = [];

  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    x = g.scope(`layers.${i}`, () => {
      // attention
      const h = rmsNorm(g, x, f32(`${p}.input_layernorm.weight`, [H]), cfg.norm.eps);
      const widths = [nH * d, kvH * d, kvH * d];
      const qkvW = concatColumns(
        ['q_proj', 'k_proj', 'v_proj'].map((m, k) => w.transposed(`${p}.self_attn.${m}.weight`, widths[k]!, H)),
        H,
        widths,
      );
      let qkv = g.matmul(h, g.initializer(`${p}.self_attn.qkv_proj.weight_t`, 'float32', [H, nH * d + 2 * kvH * d], bytes(qkvW))); // [B, S, (nH + 2kvH)·d]
      if (cfg.attention.qkvBias) {
        const b = new Float32Array(nH * d + 2 * kvH * d);
        let off = 0;
        ['q_proj', 'k_proj', 'v_proj'].forEach((m, k) => {
          b.set(w.f32(`${p}.self_attn.${m}.bias`, [widths[k]!]), off);
          off += widths[k]!;
        });
        qkv = g.add(qkv, g.initializer(`${p}.self_attn.qkv_proj.bias`, 'float32', [b.length], bytes(b)));
      }
      const [q0, k0, v0] = g.split(qkv, 2, widths);
      const q = withLora(g, h, q0!, `${p}.self_attn.q_proj`, lora);
      const k = withLora(g, h, k0!, `${p}.self_attn.k_proj`, lora);
      const v = withLora(g, h, v0!, `${p}.self_attn.v_proj`, lora);
      const qkNorm = cfg.attention.qkNorm ? { q: f32(`${p}.self_attn.q_norm.weight`, [d]), k: f32(`${p}.self_attn.k_norm.weight`, [d]), eps: cfg.norm.eps } : undefined;
      const att = attention(g, { cfg, layer: i, q, k, v, past: io.past[i]!, mask: maskFor(i), rope, ...(qkNorm ? { qkNorm } : {}) });
      present.push(att.present);
      let o = g.matmul(att.out, g.initializer(`${p}.self_attn.o_proj.weight_t`, 'float32', [nH * d, H], bytes(w.transposed(`${p}.self_attn.o_proj.weight`, H, nH * d))));
      if (cfg.attention.outputBias) o = g.add(o, f32(`${p}.self_attn.o_proj.bias`, [H]));
      o = withLora(g, att.out, o, `${p}.self_attn.o_proj`, lora);
      const r = g.add(x, o);

      // gated MLP: down(act(gate(x)) · up(x))
      const h2 = rmsNorm(g, r, f32(`${p}.post_attention_layernorm.weight`, [H]), cfg.norm.eps);
      const guW = concatColumns([w.transposed(`${p}.mlp.gate_proj.weight`, I, H), w.transposed(`${p}.mlp.up_proj.weight`, I, H)], H, [I, I]);
      let gu = g.matmul(h2, g.initializer(`${p}.mlp.gate_up_proj.weight_t`, 'float32', [H, 2 * I], bytes(guW))); // [B, S, 2I]
      if (cfg.mlp.bias) {
        const b = new Float32Array(2 * I);
        b.set(w.f32(`${p}.mlp.gate_proj.bias`, [I]), 0);
        b.set(w.f32(`${p}.mlp.up_proj.bias`, [I]), I);
        gu = g.add(gu, g.initializer(`${p}.mlp.gate_up_proj.bias`, 'float32', [2 * I], bytes(b)));
      }
      const [gate0, up0] = g.split(gu, 2, [I, I]);
      const gate = withLora(g, h2, gate0!, `${p}.mlp.gate_proj`, lora);
      const up = withLora(g, h2, up0!, `${p}.mlp.up_proj`, lora);
      const act = g.mul(activation(g, gate, cfg.activation), up);
      let down = g.matmul(act, g.initializer(`${p}.mlp.down_proj.weight_t`, 'float32', [I, H], bytes(w.transposed(`${p}.mlp.down_proj.weight`, H, I))));
      if (cfg.mlp.bias) down = g.add(down, f32(`${p}.mlp.down_proj.bias`, [H]));
      down = withLora(g, act, down, `${p}.mlp.down_proj`, lora);
      return g.add(r, down);
    });
  }

  const normed = rmsNorm(g, x, f32('model.norm.weight', [H]), cfg.norm.eps);
  const table = cfg.tieWordEmbeddings ? embed : f32('lm_head.weight', [V, H]);
  declareDecoderOutputs(g, cfg, withLora(g, normed, headFromRows(g, normed, table, io, V, H), 'lm_head', lora), present);
}
