import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { datasetRows, SHAPES, writeDataset, writeRandomCheckpoint } from '../../bench/scale';
import { memAvailable } from '../../src/core/infer/memory';
import {
  CODE_SERVER,
  installVsix,
  openCodeServer,
  outputChannelText,
  palette,
  ROOT,
  trainCount,
  waitFor,
  webviewFrame,
  waitForActivation,
} from './code-server';

/**
 * A real-size fine-tune from the panel (issue 13's acceptance run, not part of CI: about 10 minutes
 * on two cores). The Qwen2.5-0.5B shape (random bf16 weights made by the bench's writer, nothing
 * downloaded), LoRA r = 8 on every linear layer at 4 × 256 tokens, with `gradient_checkpointing:
 * true` and `base_dtype: bf16`: started from the Fine-tune tab, its loss curve followed live,
 * cancelled, resumed from its checkpoint, and followed to the end of its 24 steps, while the
 * machine's MemAvailable is sampled every 100 ms and must never drop below 8 GiB.
 *
 *   node out/test/e2e/scale-panel.js [dist-vsix/tuneloop-linux-x64-<version>.vsix] [--work DIR]
 */
const log = (s: string) => console.log(`scale e2e: ${s}`);
const GIB = 2 ** 30;
const STEPS = 24;
const FLOOR = 8 * GIB;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const workAt = args.indexOf('--work');
  const work = workAt >= 0 ? path.resolve(args[workAt + 1]!) : fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-scale-e2e-'));
  const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const vsix = path.resolve(
    args.find((a, i) => a.endsWith('.vsix') && args[i - 1] !== '--work') ?? path.join(ROOT, 'dist-vsix', `tuneloop-linux-x64-${version}.vsix`),
  );
  if (!fs.existsSync(vsix)) throw new Error(`no .vsix at ${vsix}; run npm run package -- --target linux-x64 first`);
  if (!fs.existsSync(CODE_SERVER)) throw new Error('code-server is not installed; run test/e2e/setup.sh');
  const shots = path.join(ROOT, 'test-results', 'e2e-scale');
  fs.mkdirSync(shots, { recursive: true });
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(shots, `${name}.png`) });

  // The workspace: the model, its data and the recipe.
  const ws = path.join(work, 'ws');
  fs.mkdirSync(path.join(ws, 'data'), { recursive: true });
  const shape = SHAPES.find((s) => s.key === 'qwen')!;
  const w = writeRandomCheckpoint(path.join(ws, 'qwen'), shape.config);
  log(`${shape.name}: ${(w.bytes / GIB).toFixed(2)} GiB of bf16 ${w.written ? 'written' : 'already there'}`);
  writeDataset(path.join(ws, 'data', 'scale.jsonl'), datasetRows(STEPS) + 4);
  fs.writeFileSync(
    path.join(ws, 'qwen.adapter.yml'),
    `base_model: ./qwen
dataset:
  path: data/scale.jsonl
  validation_split: 4
lora:
  r: 8
  lora_alpha: 16
  target_modules: all-linear
training:
  max_steps: ${STEPS}
  batch_size: 4
  max_seq_len: 256
  learning_rate: 0.0002
  eval_every: 8
  checkpoint_every: 4
  gradient_checkpointing: true
  base_dtype: bf16
`,
  );

  // MemAvailable, every 100 ms, from now to the end.
  const available = () => memAvailable() ?? Number.NaN;
  let minAvailable = available();
  const atStart = minAvailable;
  const sampler = setInterval(() => (minAvailable = Math.min(minAvailable, available())), 100);
  const started = Date.now();
  const extensionsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-cs-ext-'));
  log(installVsix(vsix, extensionsDir).trim().split('\n').pop()!);
  const s = await openCodeServer(ws, extensionsDir, log);
  const page = s.page;
  try {
    await waitForActivation(s);
    await palette(page, 'Tuneloop: Open Panel');
    const panel = await webviewFrame(page, 'panel');
    // The page draws its state when the extension sends it, selecting its saved tab: click until it stays.
    const tab = panel.getByRole('tab', { name: 'Fine-tune' });
    await waitFor('the Fine-tune tab', 60_000, async () => {
      await tab.click();
      await page.waitForTimeout(500);
      return (await tab.getAttribute('aria-selected')) === 'true' && (await panel.locator('#recipe').isVisible()) ? true : undefined;
    });
    await panel.locator('#recipe').selectOption({ label: 'qwen.adapter.yml' });
    await panel.locator('#start-training').click();
    const memoryLine = await waitFor('the trainer to report its estimate', 120_000, async () => {
      const t = await panel
        .locator('.run-status')
        .first()
        .innerText({ timeout: 2000 })
        .catch(() => '');
      return /memory: about/.test(t) ? t : undefined;
    });
    log(`run header: ${memoryLine}`);

    // Live: the curve grows by a few steps, then the run is cancelled.
    const seen: number[] = [];
    await waitFor('the loss curve to grow', 600_000, async () => {
      const n = await trainCount(panel);
      if (n > 0 && n !== seen.at(-1)) seen.push(n);
      return n >= 6 ? true : undefined;
    });
    log(`loss curve points as the run goes: ${seen.join(' → ')} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    await shot(page, '1-training');
    await panel.locator('#cancel-run').click();
    await panel.locator('.runs-table .badge.cancelled').first().waitFor({ timeout: 300_000 });
    const atCancel = await trainCount(panel);
    log(`cancelled with ${atCancel} steps on the curve`);
    await shot(page, '2-cancelled');

    // Resume from the checkpoint and follow to the end.
    await panel.locator('#resume-run').click();
    await panel.locator('.runs-table .badge.running, .runs-table .badge.starting').first().waitFor({ timeout: 60_000 });
    await panel.locator('.runs-table .badge.done').first().waitFor({ timeout: 900_000 });
    const final = await trainCount(panel);
    const validation = Number(await panel.locator('.chart').getAttribute('data-validation'));
    await shot(page, '3-done');
    if (final !== STEPS) throw new Error(`the curve has ${final} training points, not ${STEPS}`);
    if (validation < 3) throw new Error(`only ${validation} validation points`);
    const out = outputChannelText(s.userDataDir, 'Tuneloop');
    if (!/resumed from step \d+/.test(out)) throw new Error('the log does not say the run resumed');
    if (!/finished after \d+ steps/.test(out)) throw new Error('the log does not say the run finished');
    clearInterval(sampler);
    log(
      `done: ${final} steps, ${validation} validation points; MemAvailable ${(atStart / GIB).toFixed(1)} GiB at the start, never below ${(minAvailable / GIB).toFixed(2)} GiB; ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
    if (minAvailable < FLOOR) throw new Error(`MemAvailable dropped to ${(minAvailable / GIB).toFixed(2)} GiB, below 8 GiB`);
    log('PASSED');
  } catch (e) {
    await page.screenshot({ path: path.join(shots, 'failure.png') }).catch(() => undefined);
    log(`log so far:\n${outputChannelText(s.userDataDir, 'Tuneloop')}`);
    throw e;
  } finally {
    clearInterval(sampler);
    await s.close();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`scale e2e: FAILED: ${e instanceof Error ? e.stack : String(e)}`);
    process.exit(1);
  },
);
