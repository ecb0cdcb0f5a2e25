import { decoderShapeOf } from '../../src/core/models/config';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TuneloopError } from '../../src/core/errors';
import { loadCausalLM } from '../../src/core/infer/load';
import { generate } from '../../src/core/infer/generate';
import { clearExports, EXPORT_FORMAT, exportCheckpoint, exportKey, listExports } from '../../src/core/export/export';
import { openSession, runDecoderFull } from '../../src/core/onnx/session';
import { fromFloat32, readSafetensors, toFloat32, writeSafetensors } from '../../src/core/safetensors';
import { GOLDEN, tempDir } from '../helpers';
import { llamaConfig, makeCheckpoint } from '../make-checkpoint';

/** The logits of an exported model for a few tokens. */
async function logitsOf(dir: string): Promise<unknown> {
  const s = await openSession(path.join(dir, 'onnx/model.onnx'));
  const r = await runDecoderFull(s, decoderShapeOf(dir), BigInt64Array.from([1, 5, 9, 300], BigInt), [1, 4]);
  await s.release();
  return r.logits;
}

describe('export to a transformers.js folder', function () {
  this.timeout(60_000);

  it('writes the files transformers.js reads, with kv heads and head_dim made explicit', async () => {
    const r = await exportCheckpoint(path.join(GOLDEN, 'llama'), { cacheDir: tempDir() });
    for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'])
      assert.ok(fs.existsSync(path.join(r.dir, f)), f);
    const cfg = JSON.parse(fs.readFileSync(path.join(r.dir, 'config.json'), 'utf8'));
    assert.equal(cfg.num_key_value_heads, 2);
    assert.equal(cfg.head_dim, 16);
    assert.equal(r.cached, false);
  });

  it('is deterministic: two exports of one checkpoint are byte-identical', async () => {
    const a = await exportCheckpoint(path.join(GOLDEN, 'qwen2'), { cacheDir: tempDir() });
    const b = await exportCheckpoint(path.join(GOLDEN, 'qwen2'), { cacheDir: tempDir() });
    assert.equal(a.key, b.key);
    assert.ok(fs.readFileSync(path.join(a.dir, 'onnx/model.onnx')).equals(fs.readFileSync(path.join(b.dir, 'onnx/model.onnx'))));
  });

  it('caches by content: the second export is a lookup; changed weights make a new export; list and clear', async () => {
    const cacheDir = tempDir();
    const src = tempDir();
    makeCheckpoint(src, llamaConfig(), 1);
    const first = await exportCheckpoint(src, { cacheDir });
    const second = await exportCheckpoint(src, { cacheDir });
    assert.equal(second.cached, true);
    assert.equal(second.dir, first.dir);
    makeCheckpoint(src, llamaConfig(), 2); // same names, other weights
    const third = await exportCheckpoint(src, { cacheDir });
    assert.equal(third.cached, false);
    assert.notEqual(third.key, first.key);
    const listed = listExports(cacheDir);
    assert.equal(listed.length, 2);
    assert.ok(listed.every((e) => e.bytes > 600_000 && e.modelType === 'llama' && e.source === path.resolve(src)));
    fs.mkdirSync(path.join(cacheDir, 'exports', '.partial-leftover'));
    const { freed } = clearExports(cacheDir);
    assert.ok(freed >= listed[0]!.bytes + listed[1]!.bytes);
    assert.deepEqual(fs.readdirSync(path.join(cacheDir, 'exports')), []);
  });

  it('keys the cache by the export format, so an export of another format is never reused', async () => {
    const cacheDir = tempDir();
    const src = path.join(GOLDEN, 'llama');
    const r = await exportCheckpoint(src, { cacheDir });
    assert.equal(exportKey(src, cacheDir), r.key, 'the key exportCheckpoint used');
    assert.equal(exportKey(src, cacheDir, EXPORT_FORMAT), r.key);
    assert.notEqual(exportKey(src, cacheDir, EXPORT_FORMAT - 1), r.key);
    assert.notEqual(exportKey(src, cacheDir, EXPORT_FORMAT + 1), r.key);
  });

  it("keys a merged export by the adapter's weights: the same adapter again is a lookup, rewritten weights a new export", async () => {
    const cacheDir = tempDir();
    const base = path.join(GOLDEN, 'llama');
    const adapterDir = path.join(tempDir(), 'adapter');
    fs.cpSync(path.join(GOLDEN, 'llama', 'adapter'), adapterDir, { recursive: true });
    const first = await exportCheckpoint(base, { cacheDir, adapterDir });
    const again = await exportCheckpoint(base, { cacheDir, adapterDir });
    assert.equal(again.cached, true);
    assert.deepEqual([again.key, again.dir], [first.key, first.dir]);

    // In place, same names, shapes and size: only the values of lora_B change (negated).
    const file = path.join(adapterDir, 'adapter_model.safetensors');
    const size = fs.statSync(file).size;
    const tensors = readSafetensors(file);
    for (const [name, t] of tensors) {
      if (name.includes('lora_B'))
        tensors.set(name, {
          ...t,
          data: fromFloat32(
            t.dtype,
            toFloat32(t.dtype, t.data).map((v) => -v),
          ),
        });
    }
    writeSafetensors(file, tensors, { format: 'pt' });
    assert.equal(fs.statSync(file).size, size);

    const changed = await exportCheckpoint(base, { cacheDir, adapterDir });
    assert.equal(changed.cached, false);
    assert.notEqual(changed.key, first.key);
    assert.notEqual(changed.dir, first.dir);
    assert.notDeepEqual(await logitsOf(changed.dir), await logitsOf(first.dir), 'the merged weights differ');
  });

  it('stores weights as external data when asked (as for models over 2 GB), and both runtimes load it', async () => {
    const cacheDir = tempDir();
    const inline = await exportCheckpoint(path.join(GOLDEN, 'llama'), { cacheDir });
    const ext = await exportCheckpoint(path.join(GOLDEN, 'llama'), { cacheDir, externalDataAboveBytes: 1000 });
    assert.notEqual(ext.dir, inline.dir);
    const data = path.join(ext.dir, 'onnx/model.onnx_data');
    assert.ok(fs.statSync(data).size > 600_000);
    assert.ok(fs.statSync(path.join(ext.dir, 'onnx/model.onnx')).size < 200_000);
    assert.deepEqual(await logitsOf(ext.dir), await logitsOf(inline.dir));
    const lm = await loadCausalLM(ext.dir);
    const a = await generate(lm, { ids: [1, 5, 9] }, { maxTokens: 5 });
    await lm.dispose();
    const lm2 = await loadCausalLM(inline.dir);
    const b = await generate(lm2, { ids: [1, 5, 9] }, { maxTokens: 5 });
    await lm2.dispose();
    assert.deepEqual(
      a.tokens.map((t) => t.id),
      b.tokens.map((t) => t.id),
    );
  });
});

describe('errors name the file and say what to do', function () {
  this.timeout(30_000);

  it('a checkpoint without tokenizer files', async () => {
    const d = tempDir();
    makeCheckpoint(d, llamaConfig());
    fs.rmSync(path.join(d, 'tokenizer_config.json'));
    await assert.rejects(
      exportCheckpoint(d, { cacheDir: tempDir() }),
      (e: unknown) => e instanceof TuneloopError && e.file === path.join(d, 'tokenizer_config.json'),
    );
  });

  it('an unsupported architecture', async () => {
    const d = tempDir();
    fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ model_type: 'bert', hidden_size: 8 }));
    await assert.rejects(loadCausalLM(d, { cacheDir: tempDir() }), /model_type: unsupported architecture "bert".*supports llama/);
  });

  it('a corrupt ONNX file', async () => {
    const r = await exportCheckpoint(path.join(GOLDEN, 'llama'), { cacheDir: tempDir() });
    const d = tempDir();
    fs.cpSync(r.dir, d, { recursive: true });
    const onnx = path.join(d, 'onnx/model.onnx');
    fs.truncateSync(onnx, Math.floor(fs.statSync(onnx).size / 2));
    await assert.rejects(
      loadCausalLM(d),
      (e: unknown) => e instanceof TuneloopError && e.file === onnx && /onnxruntime could not load the model.*export it again/.test(e.message),
    );
  });

  it('a missing folder, and a Hub id with downloading off', async () => {
    await assert.rejects(loadCausalLM('/no/such/model'), /\/no\/such\/model: no such folder/);
    await assert.rejects(loadCausalLM('someorg/some-model'), /looks like a Hub id, but downloading is not enabled/);
  });

  it('a model the machine cannot hold is refused before loading', async () => {
    const r = await exportCheckpoint(path.join(GOLDEN, 'llama'), { cacheDir: tempDir() });
    await assert.rejects(
      loadCausalLM(r.dir, { availableMemory: 1_000_000 }),
      (e: unknown) => e instanceof TuneloopError && /the model needs about .* but 976\.6 KiB is available/.test(e.message) && e.file === r.dir,
    );
  });
});
