import { CONTRIB_DOMAIN, type GraphBuilder, type Value } from '../../onnx/builder';
import type { ModelConfig } from '../config';
import { attention, attentionMasks, type DecoderInputs, type DecoderOptions, rmsNorm, ropeInverseFrequencies, ropeTables } from './decoder';

/**
 * Attention as a decoder layer asks for it, written one of two ways:
 *
 * - training graphs: the plain ONNX ops of `attention` (Reshape, Transpose, MatMul, Softmax, …),
 *   which have backward rules;
 * - inference exports: onnxruntime's fused kernels (com.microsoft `RotaryEmbedding` on q and k,
 *   then `GroupQueryAttention` over the cache). At the SmolLM2-135M shape a decode step ran 44
 *   nodes a layer, and their launches cost as much as the weights they did not read; the fused
 *   path is 5 a layer.
 *
 * Both give the same function. The fused path gets the same additive mask (padding, causality and
 * sliding windows) as `attention_bias`, and `seqlens_k` = T − 1 for every row, so that
 * GroupQueryAttention's own causal mask is the same one, positions counted from the start of the
 * padded row (as transformers' cache_position is), and left padding stays masked by the bias.
 */

/** What one layer hands to attention: [B, S, nH·d], [B, S, kvH·d], [B, S, kvH·d]. */
export interface LayerAttention {
  readonly layer: number;
  readonly q: Value;
  readonly k: Value;
  readonly v: Value;
  /** Per-head RMSNorm weights for q and k (qwen3). */
  readonly qkNorm?: { readonly q: Value; readonly k: Value; readonly eps: number };
  /** q, k and v as one kernel computed them, [B, S, (nH + 2·kvH)·d], where they are exactly that (see Params.linearsPacked). */
  readonly packed?: Value;
}

export type Attend = (a: LayerAttention) => { out: Value; present: { key: Value; value: Value } };

/** The attention every layer of this graph uses, with what the layers share (masks, rotary tables) built once. */
export function attentionKernel(g: GraphBuilder, cfg: ModelConfig, io: DecoderInputs, options: DecoderOptions): Attend {
  const maskFor = attentionMasks(g, io, cfg);
  if (options.training || options.plainOps) {
    const rope = cfg.positions.type === 'rope' ? ropeTables(g, cfg, io.positionIds) : undefined;
    return (a) => attention(g, { cfg, ...a, past: io.past[a.layer], mask: maskFor(a.layer), ...(rope ? { rope } : {}) });
  }
  const shared = fusedInputs(g, cfg, io);
  return (a) => fusedAttention(g, cfg, shared, a, io.past[a.layer]!, maskFor(a.layer));
}

interface FusedInputs {
  /** [B] int32: T − 1 for every row */
  readonly seqlensK: Value;
  /** scalar int32: T */
  readonly total: Value;
  /** [T, d/2] each: cos and sin of position·inv_freq for positions 0 … T − 1; [B, S] int64 the positions to rotate by */
  readonly rotary?: { readonly cos: Value; readonly sin: Value; readonly positionIds: Value };
}

function fusedInputs(g: GraphBuilder, cfg: ModelConfig, io: DecoderInputs): FusedInputs {
  return g.scope('fused', () => {
    const totalI64 = g.dim(io.attentionMask, 1); // [1] = T
    const batch = g.dim(io.inputIds, 0); // [1] = B
    const seqlensK = g.op('Expand', [g.cast(g.sub(totalI64, g.i64(1)), 'int32'), batch]); // [B]
    const total = g.squeeze(g.cast(totalI64, 'int32'), [0]); // scalar
    if (cfg.positions.type !== 'rope') return { seqlensK, total };
    const inv = ropeInverseFrequencies(cfg.positions.rope, cfg.headDim);
    const positions = g.unsqueeze(g.cast(g.range(g.scalarI(0), g.squeeze(totalI64, [0]), g.scalarI(1)), 'float32'), [1]); // [T, 1]
    const freqs = g.mul(positions, g.constant('float32', Array.from(inv), [inv.length])); // [T, d/2]
    return { seqlensK, total, rotary: { cos: g.cos(freqs), sin: g.sin(freqs), positionIds: io.positionIds } };
  });
}

function fusedAttention(
  g: GraphBuilder,
  cfg: ModelConfig,
  s: FusedInputs,
  a: LayerAttention,
  past: { readonly key: Value; readonly value: Value },
  mask: Value,
): { out: Value; present: { key: Value; value: Value } } {
  const d = cfg.headDim;
  const nH = cfg.numHeads;
  const kvH = cfg.numKvHeads;
  const normed = (x: Value, n: number, w: Value | undefined) =>
    w && a.qkNorm ? g.reshape(rmsNorm(g, g.reshape(x, [0, 0, n, d]), w, a.qkNorm.eps), [0, 0, n * d]) : x; // [B, S, n·d]
  const rotate = (x: Value, n: number) =>
    s.rotary
      ? g.node('RotaryEmbedding', [x, s.rotary.positionIds, s.rotary.cos, s.rotary.sin], { interleaved: 0, num_heads: n }, ['float32'], CONTRIB_DOMAIN)[0]!
      : x;
  const attrs = { num_heads: nH, kv_num_heads: kvH, scale: { float: cfg.attention.scale[a.layer]! } };
  if (a.packed && s.rotary && !a.qkNorm) {
    // One kernel for the lot: GroupQueryAttention splits the packed q/k/v and rotates q and k itself
    // (do_rotary, from the same cos/sin tables), where a layer otherwise ran a Split and two
    // RotaryEmbeddings before it. It rotates by the position in the padded row (from seqlens_k), not
    // by the position_ids fed: its own position_ids input takes a row's first id and counts on, which
    // a left-padded row's ids (1 under the padding, then 0, 1, …) are not. The two differ by the
    // row's padding for every real token, and rotary attention depends only on differences of
    // positions, so the real tokens' outputs are the same (the left-padded batch in the tests).
    const [out, key, value] = g.node(
      'GroupQueryAttention',
      [a.packed, undefined, undefined, past.key, past.value, s.seqlensK, s.total, s.rotary.cos, s.rotary.sin, undefined, mask],
      { ...attrs, do_rotary: 1, rotary_interleaved: 0 },
      ['float32', 'float32', 'float32'],
      CONTRIB_DOMAIN,
    );
    return { out: out!, present: { key: key!, value: value! } }; // [B, S, nH·d]; [B, kvH, T, d] each
  }
  const q = rotate(normed(a.q, nH, a.qkNorm?.q), nH); // [B, S, nH·d]
  const k = rotate(normed(a.k, kvH, a.qkNorm?.k), kvH); // [B, S, kvH·d]
  const [out, key, value] = g.node(
    'GroupQueryAttention',
    [q, k, a.v, past.key, past.value, s.seqlensK, s.total, undefined, undefined, undefined, mask],
    attrs,
    ['float32', 'float32', 'float32'],
    CONTRIB_DOMAIN,
  );
  return { out: out!, present: { key: key!, value: value! } }; // [B, S, nH·d]; [B, kvH, T, d] each
}
