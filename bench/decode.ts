import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { generate } from '../src/core/infer/generate';
import { loadCausalLM } from '../src/core/infer/load';
import { parameterCount, parseModelConfig } from '../src/core/models/config';
import { exportCheckpoint } from '../src/core/export/export';
import { GraphBuilder } from '../src/core/onnx/builder';
import { encodeModel } from '../src/core/onnx/model';
import { llamaConfig, makeCheckpoint } from '../test/make-checkpoint';
import { fastestRun } from './timing';

/**
 * Decode speed against the memory-bandwidth bound, on a model of SmolLM2-135M's shape with random
 * weights (hidden 576, 30 layers, 9 heads, 3 kv heads, intermediate 1536, vocab 49152, tied).
 *
 *   node out/bench/decode.js [--threads 2]
 *
 * Bound: bytes per token = every weight byte (the tied head once), read once per token; bandwidth =
 * a 2-thread onnxruntime ReduceSum over a 1 GiB float32 tensor, measured in the same run.
 */
const args = process.argv.slice(2);
const threads = Number(args[args.indexOf('--threads') + 1] || 2);

const SMOLLM2_135M = llamaConfig({
  hidden_size: 576,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  head_dim: 64,
  intermediate_size: 1536,
  vocab_size: 49152,
  tie_word_embeddings: true,
  max_position_embeddings: 8192,
  rope_parameters: { rope_theta: 100000.0, rope_type: 'default' },
});

async function bandwidth(): Promise<number> {
  const n = 2 ** 28; // 1 GiB of float32
  const g = new GraphBuilder('bandwidth');
  const x = g.input('x', 'float32', [n]);
  g.output(g.op('ReduceSum', [x, g.i64(0)], { keepdims: 0 }), 'y', []);
  const bytes = Buffer.concat(encodeModel(g.model({ producerName: 'tuneloop-bench', producerVersion: '0' })));
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  const data = new Float32Array(n).fill(1);
  const feeds = { x: new ort.Tensor('float32', data, [n]) };
  const best = await fastestRun(session, feeds);
  await session.release();
  return (n * 4) / best;
}

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-bench-decode-'));
  try {
    const cfg = parseModelConfig(SMOLLM2_135M);
    const params = parameterCount(cfg);
    let t = performance.now();
    makeCheckpoint(path.join(work, 'ckpt'), SMOLLM2_135M, 1, 0.02);
    console.log(
      `decode bench: model of SmolLM2-135M's shape, ${(params / 1e6).toFixed(1)}M parameters (random weights written in ${((performance.now() - t) / 1000).toFixed(1)} s), ${threads} threads`,
    );

    const exp = await exportCheckpoint(path.join(work, 'ckpt'), { cacheDir: path.join(work, 'cache') });
    console.log(`export           ${exp.seconds.toFixed(2)} s`);

    t = performance.now();
    const lm = await loadCausalLM(exp.dir, { threads });
    const loadS = (performance.now() - t) / 1000;
    console.log(`load             ${loadS.toFixed(2)} s`);

    const prompt = Array.from({ length: 512 }, (_, i) => 3 + ((i * 7919) % 49000));
    await generate(lm, { ids: prompt.slice(0, 16) }, { maxTokens: 4 }); // warm up
    const pre = await generate(lm, { ids: prompt }, { maxTokens: 1 });
    const prefill = 512 / (pre.timeToFirstTokenMs / 1000);
    console.log(`prefill          ${prefill.toFixed(0)} tokens/s (512-token prompt, ${(pre.timeToFirstTokenMs / 1000).toFixed(2)} s)`);

    const dec = await generate(lm, { ids: prompt.slice(0, 16) }, { maxTokens: 128 });
    if (dec.tokens.length !== 128) throw new Error(`generated ${dec.tokens.length} tokens, expected 128 (eos?)`);
    console.log(`decode           ${dec.tokensPerSecond.toFixed(1)} tokens/s (batch 1, 128 new tokens, greedy)`);
    await lm.dispose();

    const bw = await bandwidth();
    const bytesPerToken = params * 4;
    const bound = bw / bytesPerToken;
    console.log(`bandwidth        ${(bw / 1e9).toFixed(1)} GB/s (onnxruntime ReduceSum, 1 GiB float32, ${threads} threads)`);
    console.log(`bound            ${bound.toFixed(1)} tokens/s (${(bytesPerToken / 1e6).toFixed(0)} MB of weights per token)`);
    console.log(`decode ÷ bound   ${((dec.tokensPerSecond / bound) * 100).toFixed(0)}%`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
