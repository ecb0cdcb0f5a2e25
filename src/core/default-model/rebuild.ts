import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { describeError } from '../errors';
import { buildDefaultModel, type BuildOptions, DEFAULT_SETTINGS, readTrainingRecord, remeasureModel } from './build';

/**
 * `node out/src/core/default-model/rebuild.js --out models/default` (npm run rebuild:default-model):
 * trains the embedded default model from scratch and writes the folder to commit. With --like DIR it
 * uses the settings recorded in DIR/training.json (a rebuild of a committed model), else the
 * defaults in build.ts.
 */
const USAGE = `usage: rebuild.js --out DIR [--like DIR] [--tokenizer DIR] [--threads N] [--steps N] [--seed N]
       rebuild.js --measure DIR

  --out DIR        where to write the model folder (replaced when done)
  --like DIR       take the settings from DIR/training.json (default: the built-in defaults)
  --tokenizer DIR  folder with tokenizer.json and tokenizer_config.json (default: test/fixtures/golden/llama)
  --threads N      onnxruntime threads (default ${DEFAULT_SETTINGS.threads}; part of the settings)
  --steps N        optimizer steps (default ${DEFAULT_SETTINGS.steps})
  --seed N         seed of the initial weights and the shuffle (default ${DEFAULT_SETTINGS.seed})
  --measure DIR    train nothing: measure the model in DIR again and rewrite its figures in
                   training.json, README.md and SHA256SUMS (after the held-out questions change)`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      like: { type: 'string' },
      tokenizer: { type: 'string' },
      threads: { type: 'string' },
      steps: { type: 'string' },
      seed: { type: 'string' },
      measure: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.measure && !values.help) {
    const r = await remeasureModel(path.resolve(values.measure));
    process.stdout.write(
      `measured ${values.measure} again: held-out accuracy ${(r.figures.heldOut.accuracy * 100).toFixed(1)}%\n${JSON.stringify(r.figures, null, 1)}\n`,
    );
    return 0;
  }
  if (values.help || !values.out) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const int = (s: string | undefined, name: string) => {
    if (s === undefined) return undefined;
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${s}`);
    return n;
  };
  const base = values.like ? readTrainingRecord(values.like).settings : {};
  const threads = int(values.threads, 'threads');
  const steps = int(values.steps, 'steps');
  const seed = int(values.seed, 'seed');
  const options: BuildOptions = {
    ...base,
    ...(threads ? { threads } : {}),
    ...(steps ? { steps } : {}),
    ...(seed ? { seed } : {}),
    ...(values.tokenizer ? { tokenizerDir: values.tokenizer } : {}),
    onEvent: (e) => {
      if (e.type === 'started') process.stdout.write(`training ${e.totalSteps} steps on ${e.trainExamples} conversations\n`);
      if (e.type === 'step' && (e.step % 25 === 0 || e.step === 1))
        process.stdout.write(`  step ${e.step}  loss ${e.loss.toFixed(3)}  ${e.tokensPerSecond.toFixed(0)} tokens/s  ETA ${Math.round(e.etaSeconds)} s\n`);
      if (e.type === 'log') process.stdout.write(`  ${e.level}: ${e.message}\n`);
    },
  };
  const started = Date.now();
  const out = path.resolve(values.out);
  const r = await buildDefaultModel(out, options);
  process.stdout.write(
    `wrote ${out}: ${r.parameters.toLocaleString('en-US')} parameters, held-out accuracy ${(r.figures.heldOut.accuracy * 100).toFixed(1)}% ` +
      `(answer loss ${r.figures.heldOut.answerLoss.toFixed(4)}), training ${r.trainSeconds.toFixed(0)} s, ${((Date.now() - started) / 1000).toFixed(0)} s in all\n` +
      `${JSON.stringify(r.figures, null, 1)}\n`,
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${describeError(e)}\n`);
    process.exit(1);
  },
);
