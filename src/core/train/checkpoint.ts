import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { TuneloopError } from '../errors';
import { assertFinite } from '../safetensors/finite';
import { describeIssues } from '../zod-issues';
import { writeFileAtomic } from '../fs/atomic';
import { SafetensorsFile, writeSafetensors } from '../safetensors';
import { fromFloat32, toFloat32 } from '../safetensors/dtype';
import type { TrainState } from './loop';

/**
 * A checkpoint folder, `checkpoints/step-N/`: the trainable tensors (a PEFT adapter for LoRA, the
 * weights for full fine-tuning: the format is the caller's), `optimizer.safetensors` (AdamW's m and v
 * per tensor) and `state.json` (step; the data position and every random draw derive from the step
 * and the seed, which are recorded). Written under a temporary name and renamed: a checkpoint is
 * complete or absent.
 */
export interface ParamsFormat {
  write(dir: string, params: ReadonlyMap<string, Float32Array>): void;
  read(dir: string): Map<string, Float32Array>;
}

export interface CheckpointState {
  readonly format: 1;
  readonly step: number;
  readonly seed: number;
  /** Examples consumed: step × batch size × gradient accumulation. */
  readonly dataPosition: number;
}

const CheckpointStateFile = z.object({
  format: z.literal(1),
  step: z.number().int().nonnegative(),
  seed: z.number().int(),
  dataPosition: z.number().int().nonnegative(),
});

export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const STATE_FILE = 'state.json';

export function saveCheckpoint(dir: string, state: TrainState, format: ParamsFormat, meta: { seed: number; examplesPerStep: number }): string {
  const tmp = `${dir}.partial-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    format.write(tmp, state.params);
    const tensors = new Map<string, { dtype: 'F32'; shape: number[]; data: Uint8Array }>();
    for (const [name, m] of state.optimizer.m) tensors.set(`m.${name}`, { dtype: 'F32', shape: [m.length], data: fromFloat32('F32', m) });
    for (const [name, v] of state.optimizer.v) tensors.set(`v.${name}`, { dtype: 'F32', shape: [v.length], data: fromFloat32('F32', v) });
    writeSafetensors(path.join(tmp, OPTIMIZER_FILE), tensors, { optimizer: 'adamw', step: String(state.optimizer.step) });
    const s: CheckpointState = { format: 1, step: state.step, seed: meta.seed, dataPosition: state.step * meta.examplesPerStep };
    writeFileAtomic(path.join(tmp, STATE_FILE), `${JSON.stringify(s, null, 2)}\n`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
    return dir;
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

export function loadCheckpoint(dir: string, format: ParamsFormat): { state: TrainState; meta: CheckpointState } {
  const stateFile = path.join(dir, STATE_FILE);
  if (!fs.existsSync(stateFile)) throw new TuneloopError('not a checkpoint (no state.json)', { file: dir }, "pick a folder under the run's checkpoints/");
  let parsed: z.infer<typeof CheckpointStateFile>;
  try {
    const r = CheckpointStateFile.safeParse(JSON.parse(fs.readFileSync(stateFile, 'utf8')));
    if (!r.success) throw new TuneloopError(`not a checkpoint state (${describeIssues(r.error)})`, { file: stateFile }, 'the checkpoint is damaged');
    parsed = r.data;
  } catch (e) {
    if (e instanceof TuneloopError) throw e;
    throw new TuneloopError(`cannot read the checkpoint state: ${(e as Error).message}`, { file: stateFile }, 'the checkpoint is damaged');
  }
  const meta: CheckpointState = parsed;
  const params = format.read(dir);
  for (const [name, p] of params) assertFinite(p, { file: dir, key: name });
  const file = path.join(dir, OPTIMIZER_FILE);
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  const opt = SafetensorsFile.open(file);
  let optimizerStep: number;
  try {
    for (const key of opt.names()) {
      const target = key.startsWith('m.') ? m : key.startsWith('v.') ? v : undefined;
      if (!target) throw new TuneloopError('unexpected optimizer tensor', { file, key });
      const t = opt.read(key);
      target.set(key.slice(2), assertFinite(toFloat32(t.dtype, t.data).slice(), { file, key }));
    }
    // AdamW's step count (for bias correction), kept in the file's metadata.
    optimizerStep = Number(opt.metadata?.step ?? 0);
  } finally {
    opt.close();
  }
  for (const name of params.keys()) {
    if (!m.has(name) || !v.has(name)) throw new TuneloopError(`optimizer state lacks "${name}"`, { file }, 'the checkpoint is incomplete');
  }
  return { state: { step: meta.step, params, optimizer: { step: optimizerStep, m, v } }, meta };
}
