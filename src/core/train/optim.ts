/**
 * AdamW and global-norm clipping with PyTorch's semantics (torch.optim.AdamW, clip_grad_norm_), over
 * named float32 tensors. State is kept as float32 arrays, as PyTorch keeps it for float32 parameters.
 */
export interface AdamWConfig {
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weightDecay: number;
}

export interface AdamWState {
  /** Optimizer steps taken (PyTorch's per-parameter `step`, shared here). */
  step: number;
  readonly m: Map<string, Float32Array>;
  readonly v: Map<string, Float32Array>;
}

export function newAdamWState(): AdamWState {
  return { step: 0, m: new Map(), v: new Map() };
}

/**
 * One step, in place: p ← p·(1 − lr·wd); m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
 * p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + eps).
 */
export function adamwStep(
  params: ReadonlyMap<string, Float32Array>,
  grads: ReadonlyMap<string, Float32Array>,
  state: AdamWState,
  lr: number,
  cfg: AdamWConfig,
): void {
  state.step += 1;
  const [b1, b2] = cfg.betas;
  const bc1 = 1 - b1 ** state.step;
  const bc2Sqrt = Math.sqrt(1 - b2 ** state.step);
  const stepSize = lr / bc1;
  const decay = 1 - lr * cfg.weightDecay;
  for (const [name, p] of params) {
    const g = grads.get(name);
    if (!g) throw new Error(`no gradient for ${name}`);
    let m = state.m.get(name);
    let v = state.v.get(name);
    if (!m || !v) {
      m = new Float32Array(p.length);
      v = new Float32Array(p.length);
      state.m.set(name, m);
      state.v.set(name, v);
    }
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]!;
      const pi = cfg.weightDecay !== 0 ? Math.fround(p[i]! * decay) : p[i]!;
      const mi = (m[i] = Math.fround(m[i]! + (gi - m[i]!) * (1 - b1))); // torch: exp_avg.lerp_(grad, 1 - beta1)
      const vi = (v[i] = Math.fround(v[i]! * b2 + gi * gi * (1 - b2)));
      const denom = Math.fround(Math.sqrt(vi) / bc2Sqrt + cfg.eps);
      p[i] = pi - Math.fround(stepSize * (mi / denom));
    }
  }
}

/** The global L2 norm of all gradients (the norm of the per-tensor norms, as clip_grad_norm_ computes it). */
export function globalNorm(grads: Iterable<Float32Array>): number {
  let total = 0;
  for (const g of grads) {
    let s = 0;
    for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
    total += s;
  }
  return Math.sqrt(total);
}

/** clip_grad_norm_(max_norm): scale every gradient by min(1, max / (norm + 1e-6)); returns the norm before clipping. */
export function clipGradNorm(grads: ReadonlyMap<string, Float32Array>, maxNorm: number): number {
  const norm = globalNorm(grads.values());
  const coef = Math.min(1, maxNorm / (norm + 1e-6));
  if (coef < 1) for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] = g[i]! * coef;
  return norm;
}
