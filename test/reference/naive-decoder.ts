import { expectedWeights, type ModelConfig } from '../../src/core/models/config';
import type { TensorStore } from '../../src/core/safetensors/checkpoint';

/**
 * A plain float64 forward pass of the supported architectures, written from Hugging Face's modeling
 * code line by line, with no ONNX and none of the engine's graph code: loops over heads and
 * positions. It is checked against the Hugging Face goldens itself, then serves as the reference for
 * configurations the goldens do not cover (qwen3, llama3 rope scaling, sliding windows with a cache).
 */
type Vec = Float64Array<ArrayBufferLike>;

export class NaiveDecoder {
  private readonly w = new Map<string, { data: Float64Array; shape: readonly number[] }>();

  constructor(
    readonly cfg: ModelConfig,
    store: TensorStore,
  ) {
    for (const spec of expectedWeights(cfg)) this.w.set(spec.name, { data: Float64Array.from(store.readFloat32(spec.name)), shape: spec.shape });
  }

  /**
   * A copy with LoRA adapters merged into its linear layers, in float64: W + scale·B·A (PEFT's
   * merge), for A [r, in] and B [out, r] by module name (`model.layers.0.self_attn.q_proj`).
   */
  withLora(adapters: ReadonlyMap<string, { readonly a: Float64Array; readonly b: Float64Array; readonly r: number; readonly scale: number }>): NaiveDecoder {
    const copy = Object.create(NaiveDecoder.prototype) as NaiveDecoder;
    const w = new Map(this.w);
    for (const [module, { a, b, r, scale }] of adapters) {
      const W = this.get(`${module}.weight`);
      const [out, inF] = W.shape as [number, number];
      const merged = Float64Array.from(W.data);
      for (let o = 0; o < out; o++)
        for (let i = 0; i < inF; i++) {
          let s = 0;
          for (let k = 0; k < r; k++) s += b[o * r + k]! * a[k * inF + i]!;
          merged[o * inF + i] = merged[o * inF + i]! + scale * s;
        }
      w.set(`${module}.weight`, { data: merged, shape: W.shape });
    }
    Object.assign(copy, { cfg: this.cfg, w });
    return copy;
  }

  private get(name: string) {
    const t = this.w.get(name);
    if (!t) throw new Error(`no weight ${name}`);
    return t;
  }

  /** y = x·Wᵀ (+ b) for W [out, in]; with `conv` (gpt2) W is [in, out]. */
  private linear(x: Vec, name: string, bias: boolean, conv = false): Vec {
    const W = this.get(`${name}.weight`);
    const [a, b] = W.shape as [number, number];
    const out = conv ? b : a;
    const inp = conv ? a : b;
    const y = new Float64Array(out);
    for (let o = 0; o < out; o++) {
      let s = 0;
      for (let i = 0; i < inp; i++) s += x[i]! * (conv ? W.data[i * out + o]! : W.data[o * inp + i]!);
      y[o] = s + (bias ? this.get(`${name}.bias`).data[o]! : 0);
    }
    return y;
  }

  private norm(x: Vec, name: string): Vec {
    const n = x.length;
    const w = this.get(`${name}.weight`).data;
    const eps = this.cfg.norm.eps;
    if (this.cfg.norm.type === 'rms') {
      let ms = 0;
      for (const v of x) ms += v * v;
      const r = 1 / Math.sqrt(ms / n + eps);
      return Float64Array.from(x, (v, i) => v * r * w[i]!);
    }
    let mean = 0;
    for (const v of x) mean += v;
    mean /= n;
    let varc = 0;
    for (const v of x) varc += (v - mean) ** 2;
    const r = 1 / Math.sqrt(varc / n + eps);
    const b = this.get(`${name}.bias`).data;
    return Float64Array.from(x, (v, i) => (v - mean) * r * w[i]! + b[i]!);
  }

  private act(v: number): number {
    switch (this.cfg.activation) {
      case 'silu':
        return v / (1 + Math.exp(-v));
      case 'relu':
        return Math.max(0, v);
      case 'gelu':
        return 0.5 * v * (1 + erf(v / Math.SQRT2));
      default:
        return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    }
  }

  /** Inverse frequencies, from transformers' rope initialisation functions, in float64. */
  invFreq(): Float64Array {
    const c = this.cfg;
    if (c.positions.type !== 'rope') return new Float64Array(0);
    const r = c.positions.rope;
    const d = c.headDim;
    const inv = Float64Array.from({ length: d / 2 }, (_, i) => 1 / r.theta ** ((2 * i) / d));
    if (r.type === 'linear') return inv.map((f) => f / r.factor);
    if (r.type === 'llama3') {
      const low = r.originalMaxPositionEmbeddings / r.lowFreqFactor;
      const high = r.originalMaxPositionEmbeddings / r.highFreqFactor;
      return inv.map((f) => {
        const wavelen = (2 * Math.PI) / f;
        if (wavelen < high) return f;
        if (wavelen > low) return f / r.factor;
        const smooth = (r.originalMaxPositionEmbeddings / wavelen - r.lowFreqFactor) / (r.highFreqFactor - r.lowFreqFactor);
        return (1 - smooth) * (f / r.factor) + smooth * f;
      });
    }
    return inv;
  }

  private rope(x: Vec, pos: number, inv: Float64Array): Vec {
    const half = inv.length;
    const out = new Float64Array(x.length);
    for (let i = 0; i < half; i++) {
      const a = pos * inv[i]!;
      const [c, s] = [Math.cos(a), Math.sin(a)];
      out[i] = x[i]! * c - x[i + half]! * s;
      out[i + half] = x[i + half]! * c + x[i]! * s;
    }
    return out;
  }

  /** Logits [S][V] for one sequence, positions 0..S−1. */
  forward(ids: readonly number[]): Float64Array[] {
    const c = this.cfg;
    // Written from Hugging Face's two modeling files (modeling_llama, modeling_gpt2), so it branches
    // as they do; it reads nothing of the engine's FamilySpec on purpose: it is the reference.
    const gpt2 = c.family === 'gpt2';
    const H = c.hiddenSize;
    const d = c.headDim;
    const rep = c.numHeads / c.numKvHeads;
    const inv = this.invFreq();
    const embName = gpt2 ? 'transformer.wte.weight' : 'model.embed_tokens.weight';
    const E = this.get(embName).data;
    let h = ids.map((id, t) => {
      const v = E.slice(id * H, (id + 1) * H);
      if (gpt2) {
        const P = this.get('transformer.wpe.weight').data;
        for (let i = 0; i < H; i++) v[i] = v[i]! + P[t * H + i]!;
      }
      return v;
    });
    for (let l = 0; l < c.numLayers; l++) {
      const p = gpt2 ? `transformer.h.${l}` : `model.layers.${l}`;
      const xs = h.map((v) => this.norm(v, gpt2 ? `${p}.ln_1` : `${p}.input_layernorm`));
      const qs: Vec[][] = [];
      const ks: Vec[][] = [];
      const vs: Vec[][] = [];
      xs.forEach((x, t) => {
        let q: Vec, k: Vec, v: Vec;
        if (gpt2) {
          const qkv = this.linear(x, `${p}.attn.c_attn`, true, true);
          [q, k, v] = [qkv.slice(0, H), qkv.slice(H, 2 * H), qkv.slice(2 * H)];
        } else {
          q = this.linear(x, `${p}.self_attn.q_proj`, c.attention.qkvBias);
          k = this.linear(x, `${p}.self_attn.k_proj`, c.attention.qkvBias);
          v = this.linear(x, `${p}.self_attn.v_proj`, c.attention.qkvBias);
        }
        const split = (y: Vec, n: number) => Array.from({ length: n }, (_, i) => y.slice(i * d, (i + 1) * d));
        let qh: Vec[] = split(q, c.numHeads);
        let kh: Vec[] = split(k, c.numKvHeads);
        if (c.attention.qkNorm) {
          qh = qh.map((y) => this.norm(y, `${p}.self_attn.q_norm`));
          kh = kh.map((y) => this.norm(y, `${p}.self_attn.k_norm`));
        }
        if (c.positions.type === 'rope') {
          qh = qh.map((y) => this.rope(y, t, inv));
          kh = kh.map((y) => this.rope(y, t, inv));
        }
        qs.push(qh);
        ks.push(kh);
        vs.push(split(v, c.numKvHeads));
      });
      const window = c.attention.slidingWindow[l] ?? null;
      const scale = c.attention.scale[l]!;
      const attnOut = xs.map((_, i) => {
        const o = new Float64Array(c.numHeads * d);
        for (let hh = 0; hh < c.numHeads; hh++) {
          const kv = Math.floor(hh / rep);
          const js = Array.from({ length: i + 1 }, (_, j) => j).filter((j) => window === null || i - j < window);
          const s = js.map((j) => dot(qs[i]![hh]!, ks[j]![kv]!) * scale);
          const m = Math.max(...s);
          const e = s.map((x) => Math.exp(x - m));
          const z = e.reduce((a, b) => a + b, 0);
          js.forEach((j, n) => {
            for (let x = 0; x < d; x++) o[hh * d + x] = o[hh * d + x]! + (e[n]! / z) * vs[j]![kv]![x]!;
          });
        }
        return gpt2 ? this.linear(o, `${p}.attn.c_proj`, true, true) : this.linear(o, `${p}.self_attn.o_proj`, c.attention.outputBias);
      });
      h = h.map((v, t) => Float64Array.from(v, (x, i) => x + attnOut[t]![i]!));
      h = h.map((v) => {
        const x = this.norm(v, gpt2 ? `${p}.ln_2` : `${p}.post_attention_layernorm`);
        let m: Vec;
        if (gpt2)
          m = this.linear(
            this.linear(x, `${p}.mlp.c_fc`, true, true).map((y) => this.act(y)),
            `${p}.mlp.c_proj`,
            true,
            true,
          );
        else {
          const g = this.linear(x, `${p}.mlp.gate_proj`, c.mlp.bias);
          const u = this.linear(x, `${p}.mlp.up_proj`, c.mlp.bias);
          m = this.linear(
            g.map((y, i) => this.act(y) * u[i]!),
            `${p}.mlp.down_proj`,
            c.mlp.bias,
          );
        }
        return Float64Array.from(v, (y, i) => y + m[i]!);
      });
    }
    const head = c.tieWordEmbeddings ? E : this.get('lm_head.weight').data;
    return h.map((v) => {
      const x = this.norm(v, gpt2 ? 'transformer.ln_f' : 'model.norm');
      return Float64Array.from({ length: c.vocabSize }, (_, o) => {
        let s = 0;
        for (let i = 0; i < H; i++) s += x[i]! * head[o * H + i]!;
        return s;
      });
    });
  }
}

function dot(a: Vec, b: Vec): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Abramowitz–Stegun 7.1.26 is too coarse for a reference; this is the series/continued-fraction erf. */
function erf(x: number): number {
  const t = Math.abs(x);
  if (t < 2.5) {
    let sum = t;
    let term = t;
    for (let n = 1; n < 60; n++) {
      term *= (-t * t) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (t + f);
  const erfc = Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + f);
  return Math.sign(x) * (1 - erfc);
}
