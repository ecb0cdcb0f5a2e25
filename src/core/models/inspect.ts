import * as path from 'node:path';
import { TuneloopError } from '../errors';
import { TensorStore } from '../safetensors/checkpoint';
import { numel } from '../safetensors/dtype';
import { architectureOf, expectedWeights, loadModelConfig, matchWeights, type ModelConfig, parameterCount } from './config';

export interface CheckpointSummary {
  readonly dir: string;
  readonly config: ModelConfig;
  readonly architecture: string;
  /** From the config: what the architecture's weights add up to. */
  readonly parameters: number;
  /** From the files: tensors, their bytes and element types. */
  /** Tensors in the files that transformers ignores too (old buffers, a tied head saved anyway). */
  readonly ignored: readonly string[];
  readonly weights: {
    readonly tensors: number;
    readonly elements: number;
    readonly bytes: number;
    readonly dtypes: readonly string[];
    readonly files: readonly string[];
  };
}

/**
 * Read a checkpoint folder's config and weight headers (no weight data), and check that the weights
 * on disk are exactly those the config implies: every expected tensor present with its shape, and
 * nothing unexpected. A mismatch is an error naming the tensor.
 */
export function inspectCheckpoint(dir: string): CheckpointSummary {
  const config = loadModelConfig(dir);
  const store = TensorStore.openDir(dir);
  try {
    const expected = expectedWeights(config);
    const match = matchWeights(config, store.names());
    const firstMissing = match.missing[0];
    if (firstMissing) {
      throw new TuneloopError(
        `weight missing from the checkpoint${match.missing.length > 1 ? ` (and ${match.missing.length - 1} more)` : ''}`,
        { file: store.source, key: firstMissing.name },
        `config.json describes a ${architectureOf(config)} that needs it; is the config from another checkpoint?`,
      );
    }
    for (const w of expected) {
      const name = match.names.get(w.name)!;
      const actual = store.info(name).shape;
      if (actual.length !== w.shape.length || actual.some((d, i) => d !== w.shape[i])) {
        throw new TuneloopError(`has shape [${actual.join(', ')}] but config.json implies [${w.shape.join(', ')}]`, { file: store.info(name).file, key: name });
      }
    }
    if (match.unexpected.length > 0) {
      throw new TuneloopError(
        `${match.unexpected.length} tensor(s) that a ${architectureOf(config)} does not have, first "${match.unexpected[0]}"`,
        { file: store.source },
        'check that config.json belongs to these weights',
      );
    }
    let elements = 0;
    const dtypes = new Set<string>();
    for (const n of store.names()) {
      const info = store.info(n);
      elements += numel(info.shape);
      dtypes.add(info.dtype);
    }
    return {
      dir,
      config,
      architecture: architectureOf(config),
      parameters: parameterCount(config),
      ignored: match.ignored,
      weights: {
        tensors: store.names().length,
        elements,
        bytes: store.totalBytes(),
        dtypes: [...dtypes].sort(),
        files: store.files.map((f) => path.basename(f.path)),
      },
    };
  } finally {
    store.close();
  }
}
