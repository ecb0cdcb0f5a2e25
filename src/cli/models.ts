import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { TuneloopError } from '../core/errors';
import { formatBytes } from '../core/format';
import { defaultCacheDir as hfCacheDir, listCachedModels } from '../core/hub';
import { ADAPTER_CONFIG, readLoraConfig } from '../core/lora/config';
import { defaultCacheDir, folderBytes } from '../core/export/cache';
import { exportCheckpoint, listExports } from '../core/export/export';
import { readSpec } from '../core/train/spec';
import { defaultModelDir, dtypeHelp, parseDtypeOption } from './options';
import { DEFAULT_DTYPE, DTYPE_SPECS } from '../core/dtypes';

/** `tuneloop models` and `tuneloop export`. */

export const MODELS_USAGE = `tuneloop models [--json]

Lists the models this machine has: the embedded default model, checkpoints in the standard
Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub), and Tuneloop's
exports ($TUNELOOP_CACHE or ~/.cache/tuneloop).`;

export function modelsCommand(args: string[]): number {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(`usage: ${MODELS_USAGE}\n`);
    return 0;
  }
  const embedded = defaultModelDir();
  const hub = listCachedModels(hfCacheDir());
  const exports = listExports(defaultCacheDir());
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ default: fs.existsSync(embedded) ? embedded : null, huggingFace: hub, exports }, null, 2)}\n`);
    return 0;
  }
  const out: string[] = [];
  out.push(`default model   ${fs.existsSync(embedded) ? `${embedded} (${formatBytes(folderBytes(embedded))})` : 'not found'}`);
  out.push(`Hugging Face cache (${hfCacheDir()}): ${hub.length ? '' : 'empty'}`);
  for (const m of hub)
    out.push(`  ${m.repo.padEnd(40)} ${formatBytes(m.bytes).padStart(10)}  ${m.revisions.map((r) => `${r.name}=${r.commit.slice(0, 8)}`).join(' ')}`);
  out.push(`exports (${defaultCacheDir()}): ${exports.length ? '' : 'none'}`);
  for (const e of exports)
    out.push(`  ${e.key.slice(0, 16)}  ${e.modelType.padEnd(8)} ${formatBytes(e.bytes).padStart(10)}  ${e.source}${e.adapter ? ` + ${e.adapter}` : ''}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

export const EXPORT_USAGE = `tuneloop export CHECKPOINT --out DIR [--base MODEL] [--dtype fp32|q8|q4]

Writes a transformers.js model folder (config, tokenizer, and onnx/model.onnx,
onnx/model_quantized.onnx or onnx/model_q4.onnx by --dtype) to DIR from:
  a run's checkpoint (RUN/checkpoints/step-N) or result (RUN/adapter, RUN/model): the adapter is
    merged into the run's base model, or the fully trained weights are exported;
  a PEFT adapter folder, merged into --base (or the adapter's base_model_name_or_path);
  a Hugging Face checkpoint folder.

${dtypeHelp('the weights are written', 'fp32')}`;

/** The run folder holding `dir` (a checkpoint or a result), if any. */
function runOf(dir: string): string | undefined {
  for (let d = dir, i = 0; i < 3; i++, d = path.dirname(d)) if (fs.existsSync(path.join(d, 'spec.json'))) return d;
  return undefined;
}

export async function exportCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { out: { type: 'string' }, base: { type: 'string' }, dtype: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`usage: ${EXPORT_USAGE}\n`);
    return 0;
  }
  const dtype = parseDtypeOption(values.dtype) ?? DEFAULT_DTYPE;
  if (positionals.length !== 1 || !values.out) throw new TuneloopError('export takes a checkpoint and --out DIR');
  const src = path.resolve(positionals[0]!);
  const out = path.resolve(values.out);
  if (fs.existsSync(out) && fs.readdirSync(out).length > 0) throw new TuneloopError('the output folder is not empty', { file: out }, 'choose a new folder');
  // A checkpoint folder holds adapter/ or model/; a result folder is one of them.
  const inner = ['adapter', 'model'].map((k) => path.join(src, k)).find((p) => fs.existsSync(p)) ?? src;
  let base: string | undefined;
  let adapterDir: string | undefined;
  if (fs.existsSync(path.join(inner, ADAPTER_CONFIG))) {
    adapterDir = inner;
    const run = runOf(inner);
    base = values.base ?? (run ? readSpec(run).baseDir : (readLoraConfig(inner).baseModelNameOrPath ?? undefined));
    if (!base || !fs.existsSync(base)) throw new TuneloopError('cannot tell which base model this adapter belongs to', { file: inner }, 'pass --base DIR');
  } else if (fs.existsSync(path.join(inner, 'config.json'))) {
    base = inner;
  } else throw new TuneloopError('not a checkpoint, adapter or model folder', { file: src });
  const r = await exportCheckpoint(base, { ...(adapterDir ? { adapterDir } : {}), dtype, onProgress: (m) => process.stderr.write(`export: ${m}\n`) });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.partial-${process.pid}`;
  fs.cpSync(r.dir, tmp, { recursive: true });
  fs.rmSync(out, { recursive: true, force: true });
  fs.renameSync(tmp, out);
  process.stdout.write(
    `exported ${adapterDir ? `${base} + ${adapterDir}` : base} to ${out} as ${dtype} (onnx/${DTYPE_SPECS[dtype].file}, ${formatBytes(folderBytes(out))})\n`,
  );
  return 0;
}
