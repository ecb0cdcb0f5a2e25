import { CONTRIB_DOMAIN, type GraphBuilder, type Value } from '../../onnx/builder';
import { LOGITS_TO_KEEP } from '../../onnx/decoder-io';
import type { ModelConfig, RopeConfig } from '../config';
import type { FrozenWeights } from './frozen';
import { gatherable, gatherBlockQuantized, matMulNBits, type QuantSpec, quantizeRows } from './quantize';
import { commonPrefix, type LoraProvider, withBranch, withLora, withLoras } from './lora-branches';
import { bytes, concatColumns, type WeightReader } from './weights';

/**
 * What every causal decoder graph shares: the inputs and outputs transformers.js feeds and reads
 * (names and layouts as its exported models have them), the attention mask, rotary tables and
 * attention over a KV cache.
 *
 * Shapes: B batch, S new tokens, P past tokens, T = P + S, H hidden, nH / kvH query / kv heads,
 * d head_dim.
 */

export interface DecoderOptions {
  readonly lora?: LoraProvider;
  /**
   * Inference graphs (the default) read and return a KV cache; training graphs have none and fixed
   * [batch, seq] inputs, so that every tensor has a static shape for differentiation.
   */
  readonly training?: {
    readonly batch: number;
    readonly seq: number;
    /** Receives the logits [B, S, V] (to build the loss on); they are a graph output only with `outputLogits`. */
    readonly onLogits?: (logits: Value) => void;
    readonly outputLogits?: boolean;
    /**
     * Instead of the logits: the final hidden states [B, S, H] and the head as a function of any rows
     * [N, H] → logits [N, V], so that the loss can run over chunks of tokens and the [B·S, V] logits
     * never exist whole. The head's weights are read once, after the decoder layers have run.
     */
    readonly onHidden?: (hidden: Value, head: (rows: Value) => Value) => void;
    /** Receives each decoder layer's op calls as a range [start, end) of the builder's tape (to recompute them). */
    readonly onLayer?: (start: number, end: number) => void;
  };
  /**
   * Frozen weights as graph inputs fed from one held copy, in the copy's dtype (training processes,
   * whose sessions share them), rather than as initializers.
   */
  readonly frozen?: FrozenWeights;
  /** Every weight a graph input in its stored layout (full fine-tuning), rather than an initializer. */
  readonly weightsAsInputs?: boolean;
  /**
   * Inference graphs in standard ONNX ops only, as training graphs have them (differentiable), rather
   * than onnxruntime's fused kernels (attention-kernels.ts, FusedMatMul for linear layers); for
   * comparing the two, and for autodiff on an inference graph.
   */
  readonly plainOps?: boolean;
  /**
   * Inference exports: every linear layer and the LM head block-quantized (MatMulNBits), and the
   * token embedding too where its rows are whole blocks (GatherBlockQuantized). Norms, biases,
   * position tables and LoRA branches stay float32.
   */
  readonly quantize?: QuantSpec;
  /**
   * Inference exports: a `num_logits_to_keep` input (int64 scalar; Hugging Face's logits_to_keep),
   * the LM head run on the last that many positions only, 0 meaning all. transformers.js feeds 1
   * while generating (so a prompt's prefill computes one row of logits, not one per prompt token)
   * and 0 for a forward pass (scoring a continuation needs every position's).
   */
  readonly logitsToKeep?: boolean;
}

/** An embedding table [rows, width]: the rows of ids, the whole table, and x·tableᵀ (a tied LM head). */
export interface EmbeddingWeights {
  lookup(ids: Value): Value;
  /** The table as a float32 value (training graphs; fp32 inference). */
  table(): Value;
  /** rows [N, width] → [N, rows of the table]. */
  project(rows: Value): Value;
}

/**
 * Weights for a graph: initializers read from the checkpoint (frozen), or graph inputs of the same
 * name and layout (trainable, fed by the caller). Frozen projections that read the same input are
 * fused into one MatMul with the weights transposed to [in, out] and concatenated, since onnxruntime
 * pre-packs a constant second MatMul operand; trainable ones stay separate so that each gradient is
 * the tensor's own.
 */
export class Params {
  private readonly asInputs: boolean;
  private readonly frozen: FrozenWeights | undefined;
  private readonly quant: QuantSpec | undefined;
  /** Standard ONNX ops only (training graphs, `plainOps`): no FusedMatMul. */
  private readonly plain: boolean;

  constructor(
    private readonly g: GraphBuilder,
    private readonly w: WeightReader,
    options: DecoderOptions,
  ) {
    this.asInputs = options.weightsAsInputs === true;
    this.frozen = options.frozen;
    this.quant = options.quantize;
    this.plain = options.training !== undefined || options.plainOps === true;
    if (this.quant && (this.asInputs || this.frozen || options.training)) throw new Error('quantized graphs are for inference only');
  }

  get(name: string, shape: number[]): Value {
    if (this.asInputs) return this.g.input(name, 'float32', shape);
    if (this.frozen) return this.frozen.plain(this.g, name, shape, () => this.w.f32(name, shape));
    return this.g.initializer(name, 'float32', shape, bytes(this.w.f32(name, shape)));
  }

  /** A weight matrix used as stored (GPT-2's Conv1D [in, out]), applied to `use`: held in the base dtype when frozen. */
  matrix(name: string, dims: readonly [number, number], channelAxis: 0 | 1, use?: Value): Value {
    if (this.frozen && !this.asInputs) return this.frozen.matrix(this.g, name, dims, () => this.w.f32(name, dims), channelAxis, use);
    return this.get(name, [...dims]);
  }

  /**
   * An embedding table [rows, width]: `lookup` gives the rows of `ids`, `table` the whole table (a
   * tied LM head). Always float32, whatever the frozen weights' dtype (see FrozenWeights); quantized
   * in quantized exports unless `keepFloat` (a small table, such as learned positions).
   */
  embedding(name: string, dims: readonly [number, number], keepFloat = false): EmbeddingWeights {
    const g = this.g;
    const spec = keepFloat ? undefined : this.quant;
    if (spec) {
      // Quantized once; the lookup and the head each get their initializers (the head's are packed
      // by MatMulNBits, the lookup reads its own), made only when used.
      let q: ReturnType<typeof quantizeRows> | undefined;
      const quantized = () => (q ??= quantizeRows(this.w.f32(name, [...dims]), dims[0], dims[1], spec));
      let t: Value | undefined;
      const table = () => (t ??= this.get(name, [...dims]));
      return {
        lookup: (ids) => (gatherable(dims[1], spec) ? gatherBlockQuantized(g, ids, name, quantized()) : g.gather(table(), ids)),
        table,
        project: (rows) => matMulNBits(g, rows, `${name.replace(/\.weight$/, '')}.head`, quantized()),
      };
    }
    const t = this.get(name, [...dims]);
    return { lookup: (ids) => g.gather(t, ids), table: () => t, project: (rows) => g.gemmTransB(rows, t) };
  }

  /** x [.., in] · W for GPT-2's Conv1D weight W [in, out] as stored. */
  conv1d(x: Value, name: string, inF: number, outF: number): Value {
    if (this.quant) return matMulNBits(this.g, x, name.replace(/\.weight$/, ''), quantizeRows(this.w.transposed(name, inF, outF), outF, inF, this.quant));
    return this.g.matmul(x, this.matrix(name, [inF, outF], 1, x));
  }

  /**
   * Linear layers `modules` (Hugging Face Linear weights [out, in]) over the same input x [.., in]:
   * their outputs, in order, each with its LoRA branch when it has one.
   */
  linears(x: Value, inF: number, modules: readonly { readonly name: string; readonly out: number }[], bias: boolean, lora: LoraProvider | undefined): Value[] {
    return this.linearsPacked(x, inF, modules, bias, lora).outs;
  }

  /**
   * As `linears`, and with `packed`, their outputs concatenated [.., Σ out] as one kernel computed
   * them, where that is exactly the modules' outputs: weights not fed as inputs, and no LoRA branch
   * added to any of them.
   */
  linearsPacked(
    x: Value,
    inF: number,
    modules: readonly { readonly name: string; readonly out: number }[],
    bias: boolean,
    lora: LoraProvider | undefined,
  ): { outs: Value[]; packed?: Value } {
    const g = this.g;
    let outs: Value[];
    let y: Value | undefined; // [.., Σ out]
    if (this.asInputs) {
      outs = modules.map((m) => {
        const y = g.matmul(x, g.transpose(this.get(`${m.name}.weight`, [m.out, inF]), [1, 0]));
        return bias ? g.add(y, this.get(`${m.name}.bias`, [m.out])) : y;
      });
    } else {
      const widths = modules.map((m) => m.out);
      const total = widths.reduce((a, b) => a + b, 0);
      const fusedName =
        modules.length === 1
          ? `${modules[0]!.name}.weight_t`
          : `${commonPrefix(modules.map((m) => m.name))}fused_${modules.map((m) => m.name.split('.').at(-1)).join('_')}.weight_t`;
      if (this.quant) {
        // Stored [out, in] rows are MatMulNBits' layout: no transpose.
        const rows = this.w.rowsOf(
          modules.map((m) => ({ name: `${m.name}.weight`, rows: m.out })),
          inF,
        );
        y = matMulNBits(g, x, fusedName.replace(/\.weight_t$/, ''), quantizeRows(rows, total, inF, this.quant));
      } else if (this.frozen) {
        // Fed weights stay as stored, [out, in], the modules' rows one after another (no transpose
        // to make: y = x·Wᵀ is a Gemm with transB); int8 scales are then per row.
        const rows = () =>
          this.w.rowsOf(
            modules.map((m) => ({ name: `${m.name}.weight`, rows: m.out })),
            inF,
          );
        const W = this.frozen.matrix(g, fusedName.replace(/weight_t$/, 'weight'), [total, inF], rows, 0, x); // [Σ out, in]
        y = linearRows(g, x, W, inF, total);
      } else if (this.plain) {
        // Standard ops (the golden checks' LoRA training graphs, with no fed weights): MatMul, whose
        // backward rule the autodiff has, on the weights transposed to [in, out] and concatenated.
        const fused = () =>
          concatColumns(
            modules.map((m) => this.w.transposed(`${m.name}.weight`, m.out, inF)),
            inF,
            widths,
          );
        y = g.matmul(x, g.initializer(fusedName, 'float32', [inF, total], bytes(fused())));
      } else {
        // The rows as stored, [out, in], the modules' one after another, each converted straight into
        // its place; y = x·Wᵀ by FusedMatMul with transB, whose weights onnxruntime packs as it packs
        // MatMul's. Transposing them here instead made a third of a 1B export's time.
        const rows = this.w.rowsOf(
          modules.map((m) => ({ name: `${m.name}.weight`, rows: m.out })),
          inF,
        );
        const W = g.initializer(fusedName.replace(/weight_t$/, 'weight'), 'float32', [total, inF], bytes(rows)); // [Σ out, in]
        y = g.node('FusedMatMul', [x, W], { transB: 1 }, ['float32'], CONTRIB_DOMAIN)[0]!;
      }
      if (bias) {
        const fusedBias = () => {
          const b = new Float32Array(total);
          let off = 0;
          modules.forEach((m) => {
            b.set(this.w.f32(`${m.name}.bias`, [m.out]), off);
            off += m.out;
          });
          return b;
        };
        const biasName = fusedName.replace(/weight_t$/, 'bias');
        y = g.add(y, this.frozen ? this.frozen.plain(g, biasName, [total], fusedBias) : g.initializer(biasName, 'float32', [total], bytes(fusedBias())));
      }
      outs = modules.length === 1 ? [y] : g.split(y, -1, widths);
    }
    const withBranches = withLoras(
      g,
      x,
      outs,
      modules.map((m) => m.name),
      lora,
    );
    const exact = y !== undefined && withBranches.every((v, k) => v === outs[k]);
    return exact ? { outs: withBranches, packed: y! } : { outs: withBranches };
  }
}

/** x [.., in] · Wᵀ for W [out, in] as stored: a Gemm with transB over the rows of x. */
function linearRows(g: GraphBuilder, x: Value, W: Value, inF: number, outF: number): Value {
  const shape = g.shapeOf(x);
  if (shape) return g.reshape(g.gemmTransB(g.reshape(x, [-1, inF]), W), [...shape.slice(0, -1), outF]);
  const lead = g.slice(g.shape(x), [0], [-1], [0]); // the leading dims, [rank − 1]
  return g.reshape(g.gemmTransB(g.reshape(x, [-1, inF]), W), g.concat([lead, g.i64(outF)], 0));
}

/** The most negative float32: masked scores get this (finite, so a fully masked row is uniform, not NaN). */
export const MASK_VALUE = -3.4028234663852886e38;

export interface DecoderInputs {
  /** [B, S] int64 */
  readonly inputIds: Value;
  /** [B, T] int64, 1 for real tokens */
  readonly attentionMask: Value;
  /** [B, S] int64 */
  readonly positionIds: Value;
  /** Per layer: [B, kvH, P, d] float32; empty for training graphs, which have no cache. */
  readonly past: readonly { readonly key: Value; readonly value: Value }[];
  /** [] int64: how many last positions get logits, 0 for all (DecoderOptions.logitsToKeep). */
  readonly logitsToKeep?: Value;
}

export function declareDecoderInputs(g: GraphBuilder, cfg: ModelConfig, options: DecoderOptions = {}): DecoderInputs {
  const t = options.training;
  if (t) {
    const inputIds = g.input('input_ids', 'int64', [t.batch, t.seq]);
    const attentionMask = g.input('attention_mask', 'int64', [t.batch, t.seq]);
    const positionIds = g.input('position_ids', 'int64', [t.batch, t.seq]);
    return { inputIds, attentionMask, positionIds, past: [] };
  }
  // transformers.js requires the batch dimension to be named exactly batch_size.
  const inputIds = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', 'int64', ['batch_size', 'total_sequence_length']);
  const positionIds = g.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
  const past = Array.from({ length: cfg.numLayers }, (_, i) => ({
    key: g.input(`past_key_values.${i}.key`, 'float32', ['batch_size', cfg.numKvHeads, 'past_sequence_length', cfg.headDim]),
    value: g.input(`past_key_values.${i}.value`, 'float32', ['batch_size', cfg.numKvHeads, 'past_sequence_length', cfg.headDim]),
  }));
  const logitsToKeep = options.logitsToKeep ? g.input(LOGITS_TO_KEEP, 'int64', []) : undefined;
  return { inputIds, attentionMask, positionIds, past, ...(logitsToKeep ? { logitsToKeep } : {}) };
}

export function declareDecoderOutputs(
  g: GraphBuilder,
  cfg: ModelConfig,
  logits: Value,
  present: readonly { key: Value; value: Value }[],
  options: DecoderOptions = {},
): void {
  if (options.training) {
    options.training.onLogits?.(logits);
    if (options.training.outputLogits !== false) g.output(logits, 'logits', [options.training.batch, options.training.seq, cfg.vocabSize]);
    return;
  }
  g.output(logits, 'logits', ['batch_size', options.logitsToKeep ? 'logits_length' : 'sequence_length', cfg.vocabSize]);
  present.forEach((p, i) => {
    g.output(p.key, `present.${i}.key`, ['batch_size', cfg.numKvHeads, 'total_sequence_length', cfg.headDim]);
    g.output(p.value, `present.${i}.value`, ['batch_size', cfg.numKvHeads, 'total_sequence_length', cfg.headDim]);
  });
}

/**
 * Attention biases [B, 1, S, T] (0 for allowed pairs, MASK_VALUE for the rest), one per distinct sliding window:
 * key j is visible from query i (at absolute position P + i) when j ≤ P + i, when P + i − j < window
 * (if the layer has one), and when attention_mask[b, j] is 1. Positions are absolute indices in the
 * sequence, padding included, as transformers' cache_position is.
 */
export function attentionMasks(g: GraphBuilder, io: DecoderInputs, cfg: ModelConfig): (layer: number) => Value {
  return g.scope('mask', () => {
    const zero = g.scalarI(0);
    const one = g.scalarI(1);
    const past = io.past[0] ? g.squeeze(g.dim(io.past[0].key, 2), [0]) : zero; // P, scalar
    const total = g.squeeze(g.dim(io.attentionMask, 1), [0]); // T, scalar
    const kvIdx = g.unsqueeze(g.range(zero, total, one), [0]); // [1, T]
    const qIdx = g.unsqueeze(g.range(past, total, one), [1]); // [S, 1]
    const causal = g.lessOrEqual(kvIdx, qIdx); // [S, T]
    const padding = g.unsqueeze(g.equal(io.attentionMask, one), [1, 2]); // [B, 1, 1, T]
    const byWindow = new Map<number | null, Value>();
    const maskFor = (window: number | null): Value => {
      let m = byWindow.get(window);
      if (!m) {
        let allowed = causal;
        if (window !== null) allowed = g.and(causal, g.greater(kvIdx, g.sub(qIdx, g.scalarI(window)))); // [S, T]
        // An additive bias, 0 where allowed and the most negative float32 elsewhere, made once and
        // added to every layer's scores: a broadcast Add is much cheaper than a Where per layer (and
        // its gradient is the identity). A fully masked row stays finite, so softmax makes it uniform.
        m = g.where(g.and(padding, allowed), g.scalarF(0), g.scalarF(MASK_VALUE)); // [B, 1, S, T]
        byWindow.set(window, m);
      }
      return m;
    };
    for (const w of cfg.attention.slidingWindow) maskFor(w);
    return (layer: number) => maskFor(cfg.attention.slidingWindow[layer] ?? null);
  });
}

/** Inverse frequencies of the rotary embedding, as transformers computes them (float32 at the end). */
export function ropeInverseFrequencies(rope: RopeConfig, headDim: number): Float32Array {
  const half = headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    // torch: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), in float32
    const exponent = Math.fround((2 * i) / headDim);
    inv[i] = Math.fround(1 / Math.fround(rope.theta ** exponent));
  }
  if (rope.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] = Math.fround(inv[i]! / rope.factor);
  } else if (rope.type === 'llama3') {
    // transformers' _compute_llama3_parameters
    const lowFreqWavelen = rope.originalMaxPositionEmbeddings / rope.lowFreqFactor;
    const highFreqWavelen = rope.originalMaxPositionEmbeddings / rope.highFreqFactor;
    for (let i = 0; i < half; i++) {
      const f = inv[i]!;
      const wavelen = (2 * Math.PI) / f;
      let out = wavelen > lowFreqWavelen ? f / rope.factor : f;
      const isMedium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
      if (isMedium) {
        const smooth = (rope.originalMaxPositionEmbeddings / wavelen - rope.lowFreqFactor) / (rope.highFreqFactor - rope.lowFreqFactor);
        out = ((1 - smooth) * out) / rope.factor + smooth * out;
      }
      inv[i] = Math.fround(out);
    }
  }
  return inv;
}

/** cos and sin tables for the given positions, [B, 1, S, d], shared by every layer. */
export function ropeTables(g: GraphBuilder, cfg: ModelConfig, positionIds: Value): { cos: Value; sin: Value } {
  if (cfg.positions.type !== 'rope') throw new Error('ropeTables on a model without rotary embeddings');
  const rope = cfg.positions.rope;
  return g.scope('rope', () => {
    const inv = ropeInverseFrequencies(rope, cfg.headDim);
    const invFreq = g.constant('float32', Array.from(inv), [inv.length]); // [d/2]
    const pos = g.unsqueeze(g.cast(positionIds, 'float32'), [2]); // [B, S, 1]
    const freqs = g.mul(pos, invFreq); // [B, S, d/2]
    const emb = g.concat([freqs, freqs], 2); // [B, S, d]
    return { cos: g.unsqueeze(g.cos(emb), [1]), sin: g.unsqueeze(g.sin(emb), [1]) }; // [B, 1, S, d]
  });
}

/** x·cos + rotate_half(x)·sin, with rotate_half(x) = [−x₂, x₁]; x is [B, h, S, d]. */
export function applyRope(g: GraphBuilder, x: Value, cos: Value, sin: Value, headDim: number): Value {
  const half = headDim / 2;
  const [x1, x2] = g.split(x, 3, [half, half]);
  const rotated = g.concat([g.neg(x2!), x1!], 3);
  return g.add(g.mul(x, cos), g.mul(rotated, sin));
}

/**
 * RMSNorm over the last axis: x / sqrt(mean(x²) + eps) · w, written as Pow → ReduceMean → Add → Sqrt →
 * Div → Mul, the pattern onnxruntime fuses into one SimplifiedLayerNormalization kernel.
 */
export function rmsNorm(g: GraphBuilder, x: Value, weight: Value, eps: number): Value {
  const variance = g.reduceMean(g.op('Pow', [x, g.scalarF(2)]), [-1]);
  return g.mul(g.div(x, g.sqrt(g.add(variance, g.scalarF(eps)))), weight);
}

/**
 * The residual stream's next value, x + delta [B, S, H], and its RMSNorm, in one onnxruntime kernel
 * (com.microsoft SkipSimplifiedLayerNormalization, whose fourth output is the sum): what an
 * inference export's decoder layer does twice, for the Add and the norm's kernel it replaces.
 */
export function skipRmsNorm(g: GraphBuilder, x: Value, delta: Value, weight: Value, eps: number): { sum: Value; normed: Value } {
  const [normed, sum] = g.node(
    'SkipSimplifiedLayerNormalization',
    [x, delta, weight],
    { epsilon: { float: eps } },
    ['float32', null, null, 'float32'],
    CONTRIB_DOMAIN,
  );
  return { sum: sum!, normed: normed! };
}

export function activation(g: GraphBuilder, x: Value, act: ModelConfig['activation']): Value {
  switch (act) {
    case 'silu':
      return g.mul(x, g.sigmoid(x));
    case 'relu':
      return g.op('Relu', [x]);
    case 'gelu': // 0.5·x·(1 + erf(x/√2)); ONNX's Gelu op needs opset 20
      return g.mul(g.mul(x, g.scalarF(0.5)), g.add(g.op('Erf', [g.mul(x, g.scalarF(Math.SQRT1_2))]), g.scalarF(1)));
    case 'gelu_new':
    case 'gelu_pytorch_tanh': {
      // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
      const x3 = g.mul(g.mul(x, x), x);
      const inner = g.mul(g.add(x, g.mul(x3, g.scalarF(0.044715))), g.scalarF(Math.sqrt(2 / Math.PI)));
      return g.mul(g.mul(x, g.scalarF(0.5)), g.add(g.tanh(inner), g.scalarF(1)));
    }
  }
}

export interface AttentionArgs {
  readonly cfg: ModelConfig;
  readonly layer: number;
  /** [B, S, nH·d], [B, S, kvH·d], [B, S, kvH·d] */
  readonly q: Value;
  readonly k: Value;
  readonly v: Value;
  /** The layer's cache; absent in training graphs. */
  readonly past: { readonly key: Value; readonly value: Value } | undefined;
  /** [B, 1, S, T] float: 0 where attention is allowed, MASK_VALUE elsewhere */
  readonly mask: Value;
  readonly rope?: { readonly cos: Value; readonly sin: Value };
  /** Per-head RMSNorm weights for q and k (qwen3). */
  readonly qkNorm?: { readonly q: Value; readonly k: Value; readonly eps: number };
}

/**
 * Scaled dot-product attention over the cache, with grouped-query heads handled without copying
 * keys and values: the nH query heads are viewed as kvH groups of (nH/kvH)·S rows.
 * Returns the attended values [B, S, nH·d] and the new cache entries [B, kvH, T, d].
 */
export function attention(g: GraphBuilder, a: AttentionArgs): { out: Value; present: { key: Value; value: Value } } {
  const { cfg } = a;
  const d = cfg.headDim;
  const nH = cfg.numHeads;
  const kvH = cfg.numKvHeads;
  const heads = (x: Value, n: number, norm?: Value) => {
    let h = g.reshape(x, [0, 0, n, d]); // [B, S, n, d]
    if (norm && a.qkNorm) h = rmsNorm(g, h, norm, a.qkNorm.eps);
    return g.transpose(h, [0, 2, 1, 3]); // [B, n, S, d]
  };
  let q = heads(a.q, nH, a.qkNorm?.q);
  let k = heads(a.k, kvH, a.qkNorm?.k);
  const v = heads(a.v, kvH);
  if (a.rope) {
    q = applyRope(g, q, a.rope.cos, a.rope.sin, d);
    k = applyRope(g, k, a.rope.cos, a.rope.sin, d);
  }
  const key = a.past ? g.concat([a.past.key, k], 2) : k; // [B, kvH, T, d]
  const value = a.past ? g.concat([a.past.value, v], 2) : v; // [B, kvH, T, d]

  const qGroups = g.reshape(q, [0, kvH, -1, d]); // [B, kvH, rep·S, d]
  const scores = g.matmul(qGroups, g.transpose(key, [0, 1, 3, 2])); // [B, kvH, rep·S, T]
  const scaled = g.mul(g.reshape(scores, [0, nH, -1, 0]), g.scalarF(cfg.attention.scale[a.layer]!)); // [B, nH, S, T]
  const masked = g.add(scaled, a.mask); // masked scores: score + MASK_VALUE rounds to MASK_VALUE
  const probs = g.reshape(g.softmax(masked, -1), [0, kvH, -1, 0]); // [B, kvH, rep·S, T]
  const ctx = g.reshape(g.matmul(probs, value), [0, nH, -1, d]); // [B, nH, S, d]
  const out = g.reshape(g.transpose(ctx, [0, 2, 1, 3]), [0, 0, nH * d]); // [B, S, nH·d]
  return { out, present: { key, value } };
}

/**
 * The end of every decoder: the LM head on the final hidden states x [B, S, H] (with its LoRA branch
 * when it has one) and the graph's outputs. `table` gives the head's [V, H] matrix; it is asked for
 * once. With `training.onHidden`, the caller gets x and the head as a function of rows instead.
 */
export function finishDecoder(
  g: GraphBuilder,
  cfg: ModelConfig,
  x: Value,
  head: () => EmbeddingWeights,
  io: DecoderInputs,
  present: readonly { key: Value; value: Value }[],
  options: DecoderOptions,
): void {
  const { vocabSize: V, hiddenSize: H } = cfg;
  const onHidden = options.training?.onHidden;
  if (onHidden) {
    const branch = options.lora?.(g, 'lm_head');
    const E = head().table();
    onHidden(x, (rows) => withBranch(g, rows, g.gemmTransB(rows, E), 'lm_head', branch)); // [N, V]
    return;
  }
  // The last k positions, [B, k, H] (x[:, −k:], all of them when k is 0, whose start −0 is the first).
  const rows = io.logitsToKeep ? g.slice(x, g.neg(g.unsqueeze(io.logitsToKeep, [0])), g.i64(Number.MAX_SAFE_INTEGER), [1]) : x;
  declareDecoderOutputs(g, cfg, withLora(g, rows, headFromRows(g, rows, head(), V, H, options), 'lm_head', options.lora), present, options);
}

/** logits [B, S, V] = x [B, S, H] · Eᵀ with E [V, H] kept as stored (a tied embedding is not copied). */
export function headFromRows(g: GraphBuilder, x: Value, head: EmbeddingWeights, vocab: number, hidden: number, options: DecoderOptions = {}): Value {
  if (options.training) return g.matmul(x, g.transpose(head.table(), [1, 0])); // static shapes: plain MatMul
  const flat = g.reshape(x, [-1, hidden]); // [B·S, H]
  const logits = head.project(flat); // [B·S, V]
  return g.reshape(logits, g.concat([g.shape(x, 0, 2), g.i64(vocab)], 0));
}
