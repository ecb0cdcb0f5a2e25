import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runDecode } from '../../bench/decode';
import { readWeightBytes } from '../../bench/onnx-weights';
import type { Shape } from '../../bench/scale';
import { exportCheckpoint } from '../../src/core/export/export';
import { tempDir } from '../helpers';
import { llamaConfig, makeCheckpoint } from '../make-checkpoint';

describe('bench:decode', function () {
  this.timeout(180_000);

  it('reads the bytes a token reads from the .onnx: a tied head once, a gather-only table one row', async () => {
    const src = path.join(tempDir(), 'ckpt');
    const config = llamaConfig({
      hidden_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 16,
      intermediate_size: 128,
      vocab_size: 512,
      tie_word_embeddings: true,
    });
    makeCheckpoint(src, config);
    const cacheDir = tempDir();
    // Per layer: q, k, v (64·64 + 2·32·64), o (64·64), gate, up, down (3·64·128), two norms (2·64); the final norm; the embedding 512·64.
    const params = 2 * (64 * 64 + 2 * 32 * 64 + 64 * 64 + 3 * 64 * 128 + 2 * 64) + 64 + 512 * 64;

    const fp32 = readWeightBytes(path.join((await exportCheckpoint(src, { cacheDir })).dir, 'onnx', 'model.onnx'));
    // The tied table is one initializer, read by the Gather and the head: counted once, whole.
    assert.deepEqual(fp32.gatherOnly, []);
    const rope = fp32.storedBytes - params * 4; // any small float tables the graph keeps
    assert.ok(rope >= 0 && rope < 4096, `stored ${fp32.storedBytes} bytes for ${params} float32 parameters`);
    assert.equal(fp32.bytesPerToken, fp32.storedBytes);

    const q4 = readWeightBytes(path.join((await exportCheckpoint(src, { cacheDir, dtype: 'q4' })).dir, 'onnx', 'model_q4.onnx'));
    // q4 stores the table twice (the head's MatMulNBits and the lookup's GatherBlockQuantized): the
    // lookup's is read one row a token.
    const lookup = q4.gatherOnly.reduce((a, t) => a + t.bytes, 0);
    assert.ok(
      q4.gatherOnly.some((t) => t.name.startsWith('model.embed_tokens.weight')),
      JSON.stringify(q4.gatherOnly),
    );
    assert.ok(Math.abs(q4.bytesPerToken - (q4.storedBytes - lookup + lookup / 512)) < 1);
    assert.ok(q4.bytesPerToken < fp32.bytesPerToken / 4, `q4 ${q4.bytesPerToken} against fp32 ${fp32.bytesPerToken}`);
    assert.ok(q4.nodes.some((n) => n.opType === 'MatMulNBits'));
  });

  it('exports, loads and decodes a tiny shape in fp32, q8 and q4 in child processes, measured from outside', async () => {
    const tiny: Shape = {
      key: 'tiny',
      name: 'tiny',
      config: {
        model_type: 'llama',
        hidden_size: 64,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: 16,
        intermediate_size: 128,
        vocab_size: 1000,
        max_position_embeddings: 512,
        tie_word_embeddings: true,
        eos_token_id: 2,
        pad_token_id: 0,
      },
    };
    const work = tempDir();
    const lines: string[] = [];
    const { results, table, targets } = await runDecode({
      work,
      shapes: [tiny],
      dtypes: ['fp32', 'q8', 'q4'],
      threads: 2,
      tokens: 4,
      promptTokens: 32,
      bandwidthBytes: 16 * 2 ** 20,
      log: (l) => lines.push(l),
    });
    assert.equal(results.length, 3);
    for (const r of results) {
      assert.equal(r.status, 'done', `${r.dtype}: ${r.message}\n${lines.join('\n')}`);
      const f = r.figures!;
      assert.equal(f.decodeTokens, 4);
      assert.ok(f.decodeTokensPerSecond > 0 && f.prefillSeconds > 0 && f.firstTokenSeconds >= f.loadSeconds && f.loadSeconds > 0);
      assert.ok(r.exportSeconds! > 0);
      assert.ok(r.exportMemory!.samples > 0 && r.exportMemory!.hwm > 0, 'the export process was measured');
      assert.ok(r.processMemory!.hwm > 0, 'the inference process was measured');
      assert.ok(r.decodeMemory && r.decodeMemory.samples > 0 && r.decodeMemory.peakRss > 0, 'sampled while decoding');
      assert.ok(r.weights!.bytesPerToken > 0);
    }
    const [fp32, q8, q4] = results.map((r) => r.weights!.bytesPerToken);
    assert.ok(fp32! > q8! && q8! > q4!, `bytes per token ${fp32} > ${q8} > ${q4}`);
    assert.match(table, /^tiny\s+fp32\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+\d+%/m, table);
    assert.match(table, /^tiny\s+q4\s/m, table);
    assert.match(targets, /decode q8 ÷ fp32\s+[\d.]+×/, targets);
    assert.match(targets, /decode q4 ÷ its bound\s+\d+%/, targets);
    // The exports are removed after their run; the checkpoint stays in the work folder.
    assert.deepEqual(fs.readdirSync(path.join(work, 'cache')), []);
  });
});
