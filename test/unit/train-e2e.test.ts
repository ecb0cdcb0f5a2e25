import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readAdapter } from '../../src/core/lora/adapter';
import { loadModelConfig } from '../../src/core/models/config';
import { followEvents, type RunEvent } from '../../src/core/train/events';
import { EVENTS, inspectRun, isProcessAlive, ownerAlive, requestCancel } from '../../src/core/train/run';
import { latestCheckpoint, resumeRun, startRun } from '../../src/core/train/start';
import { GOLDEN, goldenCopy, ROOT, tempDir } from '../helpers';

/**
 * A LoRA run from a recipe, in the detached trainer process (dist/trainer.js), on the golden llama
 * checkpoint and a small JSONL dataset made here: it lowers the validation loss; cancelled and
 * resumed, it gives the loss trace of an uninterrupted run; this test process follows it through
 * events.jsonl all the while.
 */
const TRAINER = path.join(ROOT, 'dist', 'trainer.js');

function workspace(): string {
  const d = tempDir();
  const words = ['red', 'blue', 'green', 'gold', 'pink', 'gray', 'teal', 'navy'];
  const rows = Array.from({ length: 40 }, (_, i) => {
    const w = words[i % words.length]!;
    return JSON.stringify({ prompt: `color ${i}: ${w}?`, completion: ` ${w} is a color.` });
  });
  fs.mkdirSync(path.join(d, 'data'));
  fs.writeFileSync(path.join(d, 'data', 'colors.jsonl'), `${rows.join('\n')}\n`);
  goldenCopy(d);
  fs.writeFileSync(
    path.join(d, 'colors.adapter.yml'),
    `base_model: models/llama
dataset:
  path: data/colors.jsonl
  validation_split: 8
lora:
  r: 4
  lora_alpha: 8
  target_modules: all-linear
training:
  learning_rate: 0.01
  max_steps: 24
  batch_size: 4
  schedule: constant
  seed: 3
  eval_every: 8
  checkpoint_every: 8
output: adapters/colors
`,
  );
  return d;
}

async function follow(runDir: string, onEvent: (e: RunEvent) => void = () => undefined, offset = 0): Promise<RunEvent[]> {
  const seen: RunEvent[] = [];
  // Until the trainer has written its lock, "owner not alive" only means "not started yet".
  let started = false;
  await followEvents(
    path.join(runDir, EVENTS),
    (e) => {
      seen.push(e);
      onEvent(e);
    },
    { pollMs: 20, offset, isOwnerAlive: () => (ownerAlive(runDir) ? (started = true) : !started) },
  );
  return seen;
}

const steps = (evs: RunEvent[]) => evs.filter((e): e is Extract<RunEvent, { type: 'step' }> => e.type === 'step');

describe('LoRA training from a recipe, in the detached trainer', function () {
  this.timeout(180_000);
  let uninterrupted: RunEvent[];

  it('trains to the end, lowering the validation loss, and writes a PEFT adapter', async () => {
    const ws = workspace();
    const { runDir, pid } = await startRun(path.join(ws, 'colors.adapter.yml'), {
      runsDir: path.join(ws, '.tuneloop', 'runs'),
      trainerEntry: TRAINER,
      threads: 2,
    });
    assert.ok(pid > 0);
    uninterrupted = await follow(runDir);
    const last = uninterrupted.at(-1)!;
    assert.equal(last.type, 'done', JSON.stringify(last));
    assert.equal(steps(uninterrupted).length, 24);
    const evals = uninterrupted.filter((e): e is Extract<RunEvent, { type: 'eval' }> => e.type === 'eval');
    assert.equal(evals.length, 3);
    assert.ok(evals.at(-1)!.loss < evals[0]!.loss * 0.8, `validation loss ${evals.map((e) => e.loss.toFixed(3)).join(' → ')}`);
    const samples = uninterrupted.filter((e): e is Extract<RunEvent, { type: 'sample' }> => e.type === 'sample');
    assert.equal(samples.length, 3, 'a sample generation at each evaluation');
    assert.match(samples[0]!.prompt, /^color \d+: \w+\?$/);
    // Each evaluation samples the next validation row, shown as the row's prompt (a user message).
    assert.equal(new Set(samples.map((s) => s.line)).size, 3, `sampled rows at lines ${samples.map((s) => s.line).join(', ')}`);
    const rows = fs.readFileSync(path.join(ws, 'data', 'colors.jsonl'), 'utf8').split('\n');
    for (const s of samples) {
      const row = JSON.parse(rows[s.line! - 1]!) as { prompt: string };
      assert.deepEqual(s.messages, [{ role: 'user', content: row.prompt }]);
      assert.equal(s.prompt, row.prompt);
    }
    assert.match(samples.at(-1)!.output, /a color/, `the tuned model continues the pattern: ${JSON.stringify(samples.map((s) => s.output))}`);
    const started = uninterrupted[0]!;
    assert.ok(started.type === 'started' && started.trainExamples === 32 && started.validationExamples === 8);
    // The adapter is PEFT's format, for the base model, and was copied to the recipe's output.
    const adapter = readAdapter(path.join(runDir, 'adapter'), loadModelConfig(path.join(GOLDEN, 'llama')));
    assert.equal(adapter.modules.size, 14);
    assert.ok(fs.existsSync(path.join(ws, 'adapters', 'colors', 'adapter_model.safetensors')));
    assert.match(
      fs.readFileSync(path.join(runDir, 'recipe.yml'), 'utf8'),
      /base_model_sha256: [0-9a-f]{64}\n {2}dataset: .*\n {2}dataset_sha256: [0-9a-f]{64}/,
    );
    assert.equal(inspectRun(runDir).state, 'done');
  });

  it('cancelled mid-run and resumed, finishes with the loss trace of the uninterrupted run', async () => {
    const ws = workspace();
    const { runDir, pid } = await startRun(path.join(ws, 'colors.adapter.yml'), {
      runsDir: path.join(ws, '.tuneloop', 'runs'),
      trainerEntry: TRAINER,
      threads: 2,
    });
    let cancelled = false;
    const first = await follow(runDir, (e) => {
      if (e.type === 'step' && e.step >= 10 && !cancelled) {
        cancelled = true;
        requestCancel(runDir);
      }
    });
    const end = first.at(-1)!;
    assert.equal(end.type, 'cancelled', JSON.stringify(end));
    const stoppedAt = (end as { step: number }).step;
    assert.ok(stoppedAt >= 10 && stoppedAt < 24, `stopped at ${stoppedAt}`);
    for (let i = 0; i < 100 && isProcessAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(latestCheckpoint(runDir), path.join(runDir, 'checkpoints', `step-${stoppedAt}`));

    const before = fs.statSync(path.join(runDir, EVENTS)).size;
    const resumed = resumeRun(runDir, { trainerEntry: TRAINER });
    assert.equal(resumed.checkpoint, path.join(runDir, 'checkpoints', `step-${stoppedAt}`));
    const second = await follow(runDir, undefined, before);
    assert.equal(second.at(-1)!.type, 'done', JSON.stringify(second.at(-1)));
    const restarted = second[0]!;
    assert.ok(restarted.type === 'started' && restarted.resumedFrom === stoppedAt);
    const trace = [...steps(first), ...steps(second)].map((e) => [e.step, e.loss] as const);
    const want = steps(uninterrupted).map((e) => [e.step, e.loss] as const);
    assert.deepEqual(
      trace.map((t) => t[0]),
      want.map((t) => t[0]),
      'every step once, in order',
    );
    trace.forEach(([s, loss], i) => assert.ok(Math.abs(loss - want[i]![1]) < 1e-5, `step ${s}: ${loss} vs ${want[i]![1]}`));
    // The samples after the resume are of the rows the uninterrupted run sampled at those steps.
    const sampled = (evs: RunEvent[]) => evs.flatMap((e) => (e.type === 'sample' ? [`${e.step}@${e.line}`] : []));
    assert.deepEqual(sampled([...first, ...second]), sampled(uninterrupted));
  });
});
