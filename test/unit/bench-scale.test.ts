import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { MemorySampler } from '../../bench/memory';
import { OPTIONS, runScale, type Shape } from '../../bench/scale';
import { tempDir } from '../helpers';

const MIB = 2 ** 20;

describe('bench:scale', function () {
  this.timeout(120_000);

  it('the memory sampler sees a child process touch 200 MiB, and its VmHWM', async () => {
    // The child waits, allocates 200 MiB and writes every page of it, holds it 600 ms, and exits.
    const child = spawn(
      process.execPath,
      [
        '-e',
        `process.stdout.write('ready\\n');
         process.stdin.once('data', () => {
           const b = Buffer.allocUnsafe(200 * 2 ** 20);
           b.fill(1);
           process.stdout.write('touched\\n');
           setTimeout(() => process.exit(b[12345] === 1 ? 0 : 1), 600);
         });`,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    await once(child.stdout!, 'data');
    const sampler = new MemorySampler(child.pid!, 50);
    await new Promise((r) => setTimeout(r, 300));
    const before = sampler.report();
    child.stdin!.write('go\n');
    assert.equal(await sampler.whenEnded(30_000), true, 'the child ended');
    const m = sampler.stop();
    const rise = m.peakRss - before.peakRss;
    assert.ok(before.samples >= 3, `${before.samples} samples in 300 ms`);
    assert.ok(Math.abs(rise - 200 * MIB) <= 0.04 * 200 * MIB, `the sampled peak rose ${(rise / MIB).toFixed(1)} MiB for 200 MiB touched`);
    assert.ok(m.peakRss <= m.hwm, 'no sample exceeds the kernel’s high-water mark');
    assert.ok(m.hwm - m.peakRss <= 0.02 * m.hwm, `VmHWM ${(m.hwm / MIB).toFixed(1)} MiB, sampled peak ${(m.peakRss / MIB).toFixed(1)} MiB`);
    // Every 50 ms is asked for; a busy machine delays some samples (the bench reports gaps over 100 ms).
    assert.ok(m.maxGapMs <= 1000, `the longest gap between samples was ${m.maxGapMs.toFixed(0)} ms`);
    assert.ok(m.minAvailable !== undefined && m.minAvailable > 0);
    // Writing 200 MiB takes CPU time; the rest of the machine's share is a fraction.
    assert.ok(m.cpuSeconds !== undefined && m.cpuSeconds > 0, `${m.cpuSeconds} s of CPU`);
    assert.ok(m.othersCpuShare !== undefined && m.othersCpuShare >= 0 && m.othersCpuShare <= 1, `others' share ${m.othersCpuShare}`);
  });

  it('trains a tiny shape through tuneloop train and measures the trainer process; a run it refuses is a row', async () => {
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
    // 250,000 one-wide heads: the trainer's estimate (attention scores per head) is about 1 TB, so it refuses the run.
    const wide: Shape = { key: 'wide', name: 'wide', config: { ...tiny.config, num_attention_heads: 250_000, num_key_value_heads: 1, head_dim: 1 } };
    const lines: string[] = [];
    const { results, table, markdown } = await runScale({
      work: tempDir(),
      shapes: [tiny, wide],
      options: OPTIONS.filter((o) => o.key === 'baseline'),
      steps: 2,
      threads: 2,
      matmulShapes: [[256, 64, 128]],
      log: (l) => lines.push(l),
    });
    const r = results[0]!;
    assert.equal(r.status, 'done', `${r.message}\n${lines.join('\n')}`);
    assert.equal(r.stepSeconds.length, 4, '2 warm-up steps and 2 measured');
    assert.equal(r.pidConfirmedBy, 'owner.lock');
    assert.ok(r.fullRows, 'every row filled max_seq_len');
    const m = r.memory!;
    assert.ok(m.samples > 0 && m.peakRss > 0, 'sampled');
    assert.ok(m.peakRss <= m.hwm, `sampled peak ${m.peakRss} ≤ VmHWM ${m.hwm}`);
    assert.ok(m.hwm < 8 * 2 ** 30, 'a tiny model stays far below 8 GiB');
    assert.ok(r.tokensPerSecond! > 0);
    assert.ok(r.estimateBytes! > 0);
    assert.ok(r.mfu! > 0);
    assert.ok(r.firstStepSeconds! > 0);
    assert.ok(r.validationLoss !== undefined, 'validation ran');
    assert.match(table, /^tiny\s+baseline\s+\d+/m, table);
    assert.match(markdown, /^\| tiny \| baseline \| \d+\.\d\d GiB \|/m, markdown);

    const refused = results[1]!;
    assert.equal(refused.status, 'refused', `${refused.message}\n${lines.join('\n')}`);
    assert.match(refused.message!, /training needs about/);
    assert.match(table, /^wide\s+baseline\s+refused: .*training needs about/m, table);
  });
});
