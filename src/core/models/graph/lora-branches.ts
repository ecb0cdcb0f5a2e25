import type { GraphBuilder, Value } from '../../onnx/builder';

/**
 * LoRA branches on a decoder's linear layers, as every graph adds them (training graphs, exports
 * with unmerged adapters): y + scale · (x·Aᵀ)·Bᵀ per module, sharing the down-projection between
 * modules that read the same input.
 */

/** A LoRA branch on one linear module: y + scale · (x·Aᵀ)·Bᵀ, with A [r, in] and B [out, r] as PEFT stores them. */
export interface LoraBranch {
  readonly a: Value;
  readonly b: Value;
  readonly scale: number;
  /** PEFT's lora_dropout on the branch's input: a mask of 0 and 1/(1−p), fed per step. */
  readonly inputMask?: Value;
}

/** Gives the LoRA branch of a module (by Hugging Face module path), or undefined for none. */
export type LoraProvider = (g: GraphBuilder, module: string) => LoraBranch | undefined;

/**
 * Outputs ys[k] of modules[k], all computed from the same input x, each plus its LoRA branch. Branches
 * without dropout share one down-projection: x·[A₁; A₂; …]ᵀ [.., Σr], split per module, which in a
 * training graph also gives x one gradient contribution for all of them instead of one each (q, k
 * and v; gate and up).
 */
export function withLoras(g: GraphBuilder, x: Value, ys: readonly Value[], modules: readonly string[], lora: LoraProvider | undefined): Value[] {
  const branches = modules.map((m) => lora?.(g, m));
  const shared = branches.flatMap((b, k) => (b && !b.inputMask ? [k] : []));
  if (shared.length < 2) return ys.map((y, k) => withBranch(g, x, y, modules[k]!, branches[k]));
  const out = ys.map((y, k) => (shared.includes(k) ? y : withBranch(g, x, y, modules[k]!, branches[k])));
  return g.scope(`${commonPrefix(shared.map((k) => modules[k]!))}lora`, () => {
    const group = shared.map((k) => branches[k]!);
    const a = g.op(
      'Concat',
      group.map((b) => b.a),
      { axis: 0 },
    ); // [Σr, in]
    const down = g.matmul(x, g.transpose(a, [1, 0])); // [.., Σr]
    const ranks = group.map((b) => rankOf(g, b.a));
    const downs = g.split(down, -1, ranks); // [.., r] each
    shared.forEach((k, j) => (out[k] = g.add(ys[k]!, upProjection(g, downs[j]!, group[j]!))));
    return out;
  });
}

/** r of a LoRA A [r, in], known when the graph is built. */
function rankOf(g: GraphBuilder, a: Value): number {
  const r = g.shapeOf(a)?.[0];
  if (r === undefined) throw new Error(`LoRA: the rank of ${a.name} is not known when the graph is built`);
  return r;
}

export function commonPrefix(names: readonly string[]): string {
  const first = names[0]!;
  let n = first.lastIndexOf('.') + 1;
  while (n > 0 && !names.every((x) => x.startsWith(first.slice(0, n)))) n = first.lastIndexOf('.', n - 2) + 1;
  return first.slice(0, n);
}

/** y [.., out] plus the module's LoRA branch applied to its input x [.., in], when it has one. */
export function withLora(g: GraphBuilder, x: Value, y: Value, module: string, lora: LoraProvider | undefined): Value {
  return withBranch(g, x, y, module, lora?.(g, module));
}

export function withBranch(g: GraphBuilder, x: Value, y: Value, module: string, branch: LoraBranch | undefined): Value {
  if (!branch) return y;
  return g.scope(`${module}.lora`, () => {
    const xin = branch.inputMask ? g.mul(x, branch.inputMask) : x; // dropout(x)
    const down = g.matmul(xin, g.transpose(branch.a, [1, 0])); // [.., r]
    return g.add(y, upProjection(g, down, branch));
  });
}

/**
 * scale · down·Bᵀ [.., out] for down [.., r]. The scale goes on B ([out, r]), not on the product:
 * in a training graph the backward pass then scales B's small gradient instead of the [.., out]
 * gradient of every token.
 */
function upProjection(g: GraphBuilder, down: Value, branch: LoraBranch): Value {
  return g.matmul(down, g.transpose(g.mul(branch.b, g.scalarF(branch.scale)), [1, 0]));
}
