import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { targetedModulesWithScale } from '../src/core/lora/adapter';
import { parseLoraConfig } from '../src/core/lora/config';
import { parameterCount, parseModelConfig } from '../src/core/models/config';
import { TensorStore } from '../src/core/safetensors/checkpoint';
import { makeBatch } from '../src/core/train/data';
import { initLora } from '../src/core/train/lora-params';
import { loraParameterCount } from '../src/core/train/lora-spec';
import { FrozenWeights } from '../src/core/models/graph/frozen';
import { OnnxStepModel } from '../src/core/train/onnx-step';
import { estimateTrainingMemory } from '../src/core/train/memory';
import { llamaConfig, makeCheckpoint, rng } from '../test/make-checkpoint';
import { matmulFlops } from './matmul';

/**
 * Training speed: LoRA r = 8 on every linear layer of a SmolLM2-135M-shaped model (random weights),
 * batch 4 × 256 tokens, and a full fine-tune of a small model. Model FLOP utilisation is
 * (4 × frozen + 6 × LoRA parameters) × tokens plus attention, per second, over the dense MatMul
 * FLOP/s onnxruntime reaches here in the same run.
 *
 *   node out/bench/train.js [--threads 2] [--steps 3] [--profile]
 *
 * --profile writes onnxruntime's per-node profile of the LoRA step and prints where the time went,
 * by op type.
 */
const args = process.argv.slice(2);
const arg = (name: string, dflt: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const threads = arg('--threads', 2);
const steps = arg('--steps', 3);
const profile = args.includes('--profile');

function randomBatch(batch: number, seq: number, vocab: number, seed: number) {
  const r = rng(seed);
  const examples = Array.from({ length: batch }, (_, b) => {
    const ids = Array.from({ length: seq }, () => 3 + Math.floor(r() * (vocab - 3)));
    return { line: b + 1, ids, mask: ids.map((_, t) => (t > 0 ? 1 : 0)) };
  });
  return makeBatch(examples, 0, seq);
}

async function timeSteps(
  model: OnnxStepModel,
  params: Map<string, Float32Array>,
  batch: ReturnType<typeof randomBatch>,
): Promise<{ first: number; perStep: number; faultsPerStep: number }> {
  let t = performance.now();
  await model.lossAndGrads(batch, params, { step: 0, micro: 0 }); // builds the graph and session
  const first = (performance.now() - t) / 1000;
  // The second run still grows onnxruntime's arena (fresh pages); from the third on, none are touched.
  await model.lossAndGrads(batch, params, { step: 1, micro: 0 });
  t = performance.now();
  const faults = process.resourceUsage().minorPageFault;
  for (let i = 0; i < steps; i++) await model.lossAndGrads(batch, params, { step: i + 2, micro: 0 });
  return { first, perStep: (performance.now() - t) / 1000 / steps, faultsPerStep: (process.resourceUsage().minorPageFault - faults) / steps };
}

/** Time per op type over the profiled runs (onnxruntime's trace events), largest first. */
function printProfile(dir: string, runs: number): void {
  const file = fs.readdirSync(dir).find((f) => f.startsWith('profile') && f.endsWith('.json'));
  if (!file) return void console.log('  (no profile written)');
  const all = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as {
    cat: string;
    name: string;
    ts: number;
    dur: number;
    args?: { op_name?: string };
  }[];
  // Steady state only: the first two runs also grow the memory arena (page faults on fresh allocations).
  const warm = all.filter((e) => e.cat === 'Session' && e.name === 'model_run')[1];
  const events = warm ? all.filter((e) => e.ts > warm.ts + warm.dur) : all;
  runs -= warm ? 2 : 0;
  const byOp = new Map<string, { us: number; n: number }>();
  const byNode = new Map<string, number>();
  let total = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    byNode.set(e.name, (byNode.get(e.name) ?? 0) + e.dur);
    const t = byOp.get(op) ?? { us: 0, n: 0 };
    t.us += e.dur;
    t.n += 1;
    byOp.set(op, t);
    total += e.dur;
  }
  console.log(`  kernel time per step by op type (the mean of ${runs} steps after two warm-up runs):`);
  for (const [op, t] of [...byOp].sort((a, b) => b[1].us - a[1].us).slice(0, 15)) {
    console.log(
      `    ${op.padEnd(22)} ${(t.us / runs / 1e6).toFixed(3)} s  ${((t.us / total) * 100).toFixed(1).padStart(5)}%  (${Math.round(t.n / runs)} nodes)`,
    );
  }
  console.log('  the slowest nodes:');
  for (const [name, us] of [...byNode].sort((a, b) => b[1] - a[1]).slice(0, 25))
    console.log(`    ${(us / runs / 1e3).toFixed(1).padStart(7)} ms  ${name.replace(/_kernel_time$/, '')}`);
}

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-bench-train-'));
  try {
    // The LoRA model's MLP shape, its attention projection, and a large square.
    const peak = await matmulFlops(
      [
        [1024, 576, 1536],
        [1024, 576, 576],
        [2048, 2048, 2048],
      ],
      threads,
    );
    const flops = peak.flops;
    console.log(
      `dense MatMul     ${(flops / 1e9).toFixed(1)} GFLOP/s (best of three shapes: [${peak.shape.join(' × ')}], weight pre-packed, ${threads} threads)`,
    );

    // LoRA on a SmolLM2-135M shape
    const smol = llamaConfig({
      hidden_size: 576,
      num_hidden_layers: 30,
      num_attention_heads: 9,
      num_key_value_heads: 3,
      head_dim: 64,
      intermediate_size: 1536,
      vocab_size: 49152,
      tie_word_embeddings: true,
      max_position_embeddings: 8192,
    });
    makeCheckpoint(path.join(work, 'smol'), smol, 1, 0.02);
    const cfg = parseModelConfig(smol);
    const store = TensorStore.openDir(path.join(work, 'smol'));
    const lcfg = parseLoraConfig({ r: 8, lora_alpha: 16, target_modules: 'all-linear' });
    const modules = targetedModulesWithScale(cfg, lcfg);
    const loraParams = loraParameterCount(modules);
    const frozen = parameterCount(cfg);
    const prefix = path.join(work, 'profile');
    // As the trainer runs LoRA: the frozen weights fed from one copy, the head and loss in chunks.
    const model = new OnnxStepModel(cfg, store, {
      spec: { mode: 'lora', lora: modules },
      frozen: new FrozenWeights('fp32'),
      seed: 1,
      threads,
      ...(profile ? { profile: prefix } : {}),
    });
    const B = 4;
    const S = 256;
    const batch = randomBatch(B, S, cfg.vocabSize, 2);
    const rssBefore = process.resourceUsage().maxRSS * 1024;
    const t = await timeSteps(model, initLora(modules, 1), batch);
    const rss = process.resourceUsage().maxRSS * 1024;
    const tokens = B * S;
    const attention = 3 * 4 * B * S * S * cfg.numHeads * cfg.headDim * cfg.numLayers;
    const modelFlops = (4 * frozen + 6 * loraParams) * tokens + attention;
    console.log(
      `LoRA r=8, all linear layers of a ${(frozen / 1e6).toFixed(1)}M-parameter model (${(loraParams / 1e6).toFixed(2)}M trained), batch ${B} × ${S}:`,
    );
    console.log(`  graph + session ${t.first.toFixed(1)} s (first step)`);
    console.log(`  step            ${t.perStep.toFixed(2)} s, ${(tokens / t.perStep).toFixed(0)} tokens/s`);
    const estimate = estimateTrainingMemory(cfg, { batchSize: B, maxSeqLen: S }, loraParams, {
      method: 'lora',
      gradientCheckpointing: false,
      baseDtype: 'fp32',
    }).total;
    console.log(
      `  peak RSS        ${(rss / 2 ** 30).toFixed(2)} GiB (${(rssBefore / 2 ** 30).toFixed(2)} before the model; the trainer's estimate for the run: ${(estimate / 2 ** 30).toFixed(2)} GiB)`,
    );
    console.log(
      `  page faults     ${Math.round(t.faultsPerStep)} per step (${((t.faultsPerStep * 4096) / 2 ** 20).toFixed(0)} MiB of 4 KiB pages touched afresh)`,
    );
    console.log(
      `  model FLOP/s    ${(modelFlops / t.perStep / 1e9).toFixed(1)} GFLOP/s = ${((modelFlops / t.perStep / flops) * 100).toFixed(0)}% of dense MatMul`,
    );
    await model.dispose();
    store.close();
    if (profile) printProfile(work, steps + 2);

    // Full fine-tuning of a small model
    const small = llamaConfig({
      hidden_size: 256,
      num_hidden_layers: 4,
      num_attention_heads: 8,
      num_key_value_heads: 4,
      head_dim: 32,
      intermediate_size: 704,
      vocab_size: 512,
    });
    makeCheckpoint(path.join(work, 'small'), small, 3, 0.05);
    const scfg = parseModelConfig(small);
    const sstore = TensorStore.openDir(path.join(work, 'small'));
    const params = new Map(sstore.names().map((n) => [n, sstore.readFloat32(n).slice()]));
    const full = new OnnxStepModel(scfg, sstore, { spec: { mode: 'full' }, seed: 1, threads });
    const fb = randomBatch(8, 128, scfg.vocabSize, 4);
    const ft = await timeSteps(full, params, fb);
    const fparams = parameterCount(scfg);
    const fflops = 6 * fparams * 8 * 128 + 3 * 4 * 8 * 128 * 128 * 256 * 4;
    console.log(`full fine-tune of a ${(fparams / 1e6).toFixed(1)}M-parameter model, batch 8 × 128:`);
    console.log(
      `  step            ${ft.perStep.toFixed(3)} s, ${((8 * 128) / ft.perStep).toFixed(0)} tokens/s, ${((fflops / ft.perStep / flops) * 100).toFixed(0)}% of dense MatMul`,
    );
    await full.dispose();
    sstore.close();
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
