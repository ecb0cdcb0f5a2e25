import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import {
  hostActivationMs,
  openCodeServer,
  openFile,
  outputChannelText,
  palette,
  pickTheme,
  prepareE2e,
  ROOT,
  THEMES,
  themeSlug,
  trainCount,
  waitFor,
  webviewFrame,
} from './code-server';

/**
 * The run / compare / fine-tune panel in a real VS Code (code-server 4.100.3) with the packaged .vsix:
 * a workspace holding a prompt file and an adapter recipe on the golden llama checkpoint. From the
 * prompt's CodeLens, Compare runs base against an adapter (in the worker process) and shows both
 * outputs and the word diff; "Open in diff editor" opens VS Code's diff view; the matrix runs and its
 * outputs are accepted as the snapshot; a fine-tune is launched from the panel, its loss curve grows
 * as the detached trainer writes events; the window is reloaded while the run goes on, the panel
 * comes back and follows the run to its end; the finished run's adapter is then offered as a variant.
 *
 *   node out/test/e2e/panel.js [dist-vsix/tuneloop-linux-x64-<version>.vsix]
 * Screenshots go to test-results/e2e-panel/.
 */
const log = (s: string) => console.log(`panel e2e: ${s}`);

const PROMPT = `name: Support reply
description: Answers a customer, base model against adapters.
model: ./llama
messages:
  - role: system
    content: You answer customers politely.
  - role: user
    content: "{{customer}} asks: {{question}}"
testData:
  - customer: Ada
    question: Where is my parcel?
  - customer: Grace
    question: Can I change my order?
evaluators:
  - name: short
    maxLength: 300
adapters:
  - path: ./llama/adapter_trained
  - path: ./tone.adapter.yml
snapshot: support.snapshot.json
modelParameters:
  maxTokens: 24
probes:
  - name: names
    variable: customer
    values: [Ada, Grace, Wei]
`;

/** Two recorded runs, as tuneloop eval --record writes them (the workspace's own runs cannot record: a listed recipe is untrained at first). */
const HISTORY = ['2026-11-01T09:00:00.000Z', '2026-12-01T09:00:00.000Z']
  .map((date, i) =>
    JSON.stringify({
      version: 1,
      commit: ['1a2b3c4d5e6f7a8b', '2b3c4d5e6f7a8b9c'][i],
      dirty: false,
      date,
      file: 'support.prompt.yml',
      model: { id: './llama', sha256: null },
      variants: [
        {
          name: 'base',
          adapter: null,
          adapterSha256: null,
          dtype: 'fp32',
          passRate: 1,
          evaluators: { short: 1 },
          regressionCount: null,
          labelMetrics: null,
          ece: null,
          repeat: null,
        },
        {
          name: 'adapter_trained',
          adapter: 'llama/adapter_trained',
          adapterSha256: null,
          dtype: 'fp32',
          passRate: [0.5, 1][i],
          evaluators: { short: [0.5, 1][i] },
          regressionCount: [1, 0][i],
          labelMetrics: null,
          ece: null,
          repeat: null,
        },
      ],
      failures: [],
    }),
  )
  .join('\n');

// Long enough (tens of seconds on two cores) to reload the window while it runs.
const STEPS = 3000;
const RECIPE = `base_model: ./llama
dataset:
  path: data/colors.jsonl
  validation_split: 8
lora:
  r: 4
  lora_alpha: 8
  target_modules: all-linear
training:
  learning_rate: 0.003
  max_steps: ${STEPS}
  batch_size: 4
  schedule: constant
  seed: 3
  eval_every: 500
  checkpoint_every: 500
`;

function workspace(): string {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-cs-panel-'));
  fs.cpSync(path.join(ROOT, 'test/fixtures/golden/llama'), path.join(ws, 'llama'), { recursive: true });
  fs.writeFileSync(path.join(ws, 'support.prompt.yml'), PROMPT);
  fs.writeFileSync(path.join(ws, 'tone.adapter.yml'), RECIPE);
  fs.writeFileSync(path.join(ws, 'support.history.jsonl'), `${HISTORY}\n`);
  const words = ['red', 'blue', 'green', 'gold', 'pink', 'gray', 'teal', 'navy'];
  fs.mkdirSync(path.join(ws, 'data'));
  fs.writeFileSync(
    path.join(ws, 'data', 'colors.jsonl'),
    `${Array.from({ length: 40 }, (_, i) => JSON.stringify({ prompt: `color ${i}: ${words[i % 8]}?`, completion: ` ${words[i % 8]} is a color.` })).join('\n')}\n`,
  );
  return ws;
}

async function main(): Promise<void> {
  const { extensionsDir, shots } = prepareE2e('e2e-panel', log);
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(shots, `${name}.png`) });
  const started = Date.now();

  const ws = workspace();
  const s = await openCodeServer(ws, extensionsDir, log);
  const page = s.page;
  try {
    const activated = await waitFor(
      'the extension to activate',
      90_000,
      () => /Tuneloop \S+ activated .* in (\d+) ms/.exec(outputChannelText(s.userDataDir, 'Tuneloop'))?.[1],
    );
    // Issue 16: VS Code's own figure, from loading the entry to activate() returning, under 50 ms.
    const host = await hostActivationMs(page);
    log(`activated: VS Code's activation time ${host} ms (activate() itself ${activated} ms; goal: under 50 ms)`);
    if (host >= 50) throw new Error(`VS Code reports Tuneloop's activation took ${host} ms (the goal is under 50 ms)`);

    // 1. Compare from the second test case's CodeLens: base and the adapter the file lists, streamed
    // side by side, on that case (not case 1).
    await openFile(page, 'support.prompt.yml');
    await page.locator('.editor-group-container.active .codelens-decoration a', { hasText: 'Compare case 2' }).first().click({ timeout: 30_000 });
    let panel = await webviewFrame(page, 'panel');
    const outputs = panel.locator('.output[data-state="done"]');
    await waitFor('both columns to finish', 120_000, async () => ((await outputs.count()) === 2 ? true : undefined));
    const picked = await panel.locator('select#case').inputValue();
    if (picked !== '1') throw new Error(`the lens on case 2 compared case index ${picked}`);
    const columns = await panel.locator('.column header strong').allInnerTexts();
    if (columns.join(',') !== 'base,adapter_trained') throw new Error(`columns: ${columns.join(', ')}`);
    const stats = await panel.locator('.column .stats').allInnerTexts();
    for (const st of stats) if (!/first token \d+ ms · [\d.,]+ tokens\/s/.test(st)) throw new Error(`no timing in a column: ${st}`);
    const marks = await panel.locator(`.output[data-variant="adapter:${path.join(ws, 'llama', 'adapter_trained')}"] :is(ins.added, del.removed)`).count();
    if (marks === 0) throw new Error('the adapter column shows no word diff against base');
    // The recipe is listed too, not trained yet.
    const tone = panel.locator('label.chip', { hasText: 'tone' });
    if (!(await tone.getAttribute('class'))?.includes('unavailable')) throw new Error('the untrained recipe should be offered as unavailable');
    log(`compare: ${stats.join(' | ')}; ${marks} diff mark(s)`);
    // Where the adapter leaves the base's tokens: both models' five most likely tokens there.
    const parts = panel.locator('article.column section.divergence');
    await parts.first().waitFor({ timeout: 10_000 });
    const sides = await parts.first().locator('.divergence-side').count();
    const alternatives = await parts.first().locator('.divergence-side li').count();
    if (sides !== 2 || alternatives !== 10) throw new Error(`the divergence view shows ${sides} side(s), ${alternatives} alternative(s)`);
    log(`divergence: ${(await parts.first().locator('p').first().innerText()).trim()}`);
    await shot(page, '1-compare');
    // The adapter's column (word diff, the divergence block) in each theme, ending in the first.
    await parts.first().scrollIntoViewIfNeeded();
    for (const theme of [...THEMES.slice(1), THEMES[0]]) {
      await pickTheme(page, theme);
      await shot(page, `1-compare-${themeSlug(theme)}`);
    }

    // "Open in diff editor": VS Code's own diff view of the two outputs.
    await panel.getByRole('button', { name: 'Open in diff editor' }).click();
    await page.locator('.monaco-diff-editor').first().waitFor({ timeout: 30_000 });
    await page.locator('.tabs-container .tab', { hasText: '↔' }).first().waitFor({ timeout: 10_000 });
    log(`diff editor: ${(await page.locator('.tabs-container .tab', { hasText: '↔' }).first().innerText()).trim()}`);
    await shot(page, '2-diff-editor');
    await page.keyboard.press('Control+W');

    // The case under the cursor: Compare from the palette with the cursor in case 1's lines.
    panel = await webviewFrame(page, 'panel');
    const case2 = (await panel.locator('.output').allInnerTexts()).join('\n');
    await page.locator('.monaco-editor .view-lines .view-line', { hasText: 'Where is my parcel?' }).first().click();
    await palette(page, 'Tuneloop: Compare Base and Adapters');
    panel = await webviewFrame(page, 'panel');
    await waitFor('the panel on case 1', 60_000, async () => ((await panel.locator('select#case').inputValue()) === '0' ? true : undefined));
    // Finished: both columns done, with case 1's outputs (not the case 2 outputs still shown before it starts).
    await waitFor('the compare of case 1 to finish', 120_000, async () =>
      (await panel.locator('.output[data-state="done"]').count()) === 2 &&
      (await panel.locator('.output').allInnerTexts()).join('\n') !== case2 &&
      (await panel.getByRole('button', { name: 'Stop' }).isDisabled())
        ? true
        : undefined,
    );
    log('Compare from the palette, the cursor in case 1: the panel compared case 1');

    // 2. The matrix: every case × variant with the evaluators' results. Not yet a snapshot: the file
    // also lists tone.adapter.yml, which is not trained, so `tuneloop eval` could not reproduce it.
    panel = await webviewFrame(page, 'panel');
    await panel.getByRole('tab', { name: 'Matrix' }).click();
    await panel.getByRole('button', { name: 'Run matrix' }).click();
    await panel.locator('table.matrix tfoot td.pass').nth(1).waitFor({ timeout: 120_000 });
    // maxLength 300 on 24 tokens: every output passes, on both variants (the run ends with both rates).
    const overall = panel.locator('table.matrix tfoot tr.overall td');
    const rates = await waitFor('both variants’ pass rates', 120_000, async () => {
      const r = (await overall.allInnerTexts()).map((t) => t.trim());
      return r.length === 2 && r.every((t) => t !== '—') ? r : undefined;
    });
    log(`matrix pass rates: ${rates.join(' | ')}`);
    if (!rates.every((r) => /^✓ 100% \(2\/2, needs 100%\)$/.test(r))) throw new Error(`matrix pass rates: ${rates.join(' | ')}`);
    if (!(await panel.locator('#accept-snapshot').isDisabled())) throw new Error('accept should wait for every listed adapter');
    log(`accept as snapshot: ${await panel.locator('#accept-note').innerText()}`);
    await shot(page, '3-matrix');

    // Probes: each case under each name swap, on base and the adapter, in the worker.
    await panel.getByRole('tab', { name: 'Probes' }).click();
    await panel.getByRole('button', { name: 'Run probes' }).click();
    const totals = panel.locator('ul.probe-totals li');
    await totals.first().waitFor({ timeout: 120_000 });
    const totalTexts = await totals.allInnerTexts();
    if (
      totalTexts.length !== 2 ||
      !/^base: \d+ flips? over all probes/.test(totalTexts[0]!) ||
      !/^adapter_trained: \d+ flips? over all probes, \d+ new against base/.test(totalTexts[1]!)
    )
      throw new Error(`probe totals: ${totalTexts.join(' | ')}`);
    const swapRows = await panel.locator('section.probe[data-probe="names"] tbody tr th').allInnerTexts();
    if (swapRows.join(',') !== 'Grace,Wei') throw new Error(`probe swaps: ${swapRows.join(', ')}`);
    log(`probes: ${totalTexts.join(' | ')}`);
    await shot(page, '3b-probes');

    // History: the recorded runs, plotted.
    await panel.getByRole('tab', { name: 'History' }).click();
    const historyChart = panel.locator('.history-chart');
    await historyChart.locator('canvas').waitFor({ timeout: 30_000 });
    const points = await historyChart.getAttribute('data-points');
    const series = await historyChart.getAttribute('data-series');
    if (points !== '2' || series !== '2') throw new Error(`history chart: ${points} point(s), ${series} series`);
    const newest = await panel.locator('table.history-table tbody tr').first().locator('td').allInnerTexts();
    if (newest[2] !== '2b3c4d5e' || newest[4] !== '100%') throw new Error(`history newest run: ${newest.join(' | ')}`);
    log(`history: ${points} recorded runs; newest ${newest.join(' | ')}`);
    await shot(page, '3c-history');

    // 3. Fine-tune from the panel: the detached trainer, the loss curve growing as it writes events.
    await panel.getByRole('tab', { name: 'Fine-tune' }).click();
    await panel.locator('#recipe').selectOption({ label: 'tone.adapter.yml' });
    await panel.locator('#start-training').click();
    const seen: number[] = [];
    await waitFor('the loss curve to grow', 120_000, async () => {
      const n = await trainCount(panel);
      if (n > 0 && n !== seen.at(-1)) seen.push(n);
      return seen.length >= 3 ? true : undefined;
    });
    // Growing: each count above the one before.
    if (seen.some((n, i) => i > 0 && n <= seen[i - 1]!)) throw new Error(`the curve's point counts did not increase: ${seen.join(' → ')}`);
    log(`loss curve points as the run goes: ${seen.join(' → ')}`);
    await shot(page, '4-training');

    // 4. Reload the window while the run goes on: the panel comes back, reads the run from its folder
    // and follows it again.
    const beforeReload = await trainCount(panel);
    if (beforeReload >= STEPS) throw new Error('the run finished before the reload; make it longer');
    await palette(page, 'Developer: Reload Window');
    await page.waitForTimeout(1000);
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    // VS Code must restore the panel itself (through its serializer): no reopening from the palette.
    panel = await webviewFrame(page, 'panel', 60_000);
    log('after the reload the panel was restored by VS Code');
    if (!(await panel.getByRole('tab', { name: 'Fine-tune' }).getAttribute('aria-selected'))?.includes('true'))
      await panel.getByRole('tab', { name: 'Fine-tune' }).click();
    const afterReload = await waitFor('the run read back from its folder', 60_000, async () => {
      const n = await trainCount(panel);
      return n > 0 ? n : undefined;
    });
    log(`after the reload the curve holds ${afterReload} points (${beforeReload} before)`);
    await shot(page, '5-after-reload');
    await panel.locator('.runs-table .badge.done').first().waitFor({ timeout: 240_000 });
    const final = await trainCount(panel);
    const validation = Number(await panel.locator('.chart').getAttribute('data-validation'));
    if (final !== STEPS) throw new Error(`the curve has ${final} training points, not ${STEPS}`);
    if (validation !== STEPS / 500) throw new Error(`the curve has ${validation} validation points`);
    const samples = await panel.locator('pre.sample').count();
    log(`run done: ${final} training and ${validation} validation points, ${samples} sample generation(s)`);
    // The Output channel says how the run ended (the window reloaded during it: the follower after the reload says it).
    const finished = await waitFor(
      'the log to say the run finished',
      // VS Code writes an output channel's file in batches: on a loaded machine a line may take a while.
      60_000,
      () => /-tone: finished after \d+ steps; the adapter is in /.exec(outputChannelText(s.userDataDir, 'Tuneloop'))?.[0],
    );
    log(`log: ${finished}`);
    await shot(page, '6-run-done');

    // 5. The finished run's adapter is a variant to compare: the recipe's (its newest run) and the run's.
    await panel.getByRole('tab', { name: 'Run & compare' }).click();
    const toneChip = panel.locator('label.chip', { hasText: 'tone' }).first();
    await waitFor('the recipe variant to become available', 30_000, async () =>
      !(await toneChip.getAttribute('class'))?.includes('unavailable') ? true : undefined,
    );
    await panel.locator('details.more-variants summary').click();
    const runVariants = await panel.locator('details.more-variants label.chip:not(.unavailable) .chip-name').allInnerTexts();
    log(`variants from runs: ${runVariants.join(', ')}`);
    if (!runVariants.some((v) => /-tone$/.test(v))) throw new Error('the finished run is not offered as a variant');
    if (!runVariants.some((v) => /-tone@2500$/.test(v))) throw new Error("the run's checkpoints are not offered as variants");
    await toneChip.locator('input').check();
    await panel.getByRole('button', { name: 'Run', exact: true }).click();
    await waitFor('three columns to finish', 120_000, async () => ((await panel.locator('.output[data-state="done"]').count()) === 3 ? true : undefined));
    const tuned = await panel.locator('.column header strong').allInnerTexts();
    log(`compare: ${tuned.join(' | ')}`);
    if (tuned.join(',') !== 'base,adapter_trained,tone') throw new Error(`columns with the tuned recipe: ${tuned.join(', ')}`);
    await shot(page, '7-tuned-variant');

    // 6. The matrix on base and every adapter the file lists, accepted as the snapshot CI compares with.
    await panel.getByRole('tab', { name: 'Matrix' }).click();
    await panel.getByRole('button', { name: 'Run matrix' }).click();
    await panel.locator('#accept-snapshot:not([disabled])').waitFor({ timeout: 120_000 });
    await panel.locator('#accept-snapshot').click();
    await waitFor('the snapshot file', 20_000, () => (fs.existsSync(path.join(ws, 'support.snapshot.json')) ? true : undefined));
    const snap = JSON.parse(fs.readFileSync(path.join(ws, 'support.snapshot.json'), 'utf8')) as { outputs: Record<string, Record<string, string>> };
    if (Object.keys(snap.outputs).join(',') !== 'adapter_trained,base,tone') throw new Error(`snapshot variants: ${Object.keys(snap.outputs).join(', ')}`);
    await panel.getByText('Snapshot written to support.snapshot.json.').first().waitFor({ timeout: 10_000 });
    log(
      `snapshot written: ${Object.entries(snap.outputs)
        .map(([v, c]) => `${v} × ${Object.keys(c).length}`)
        .join(', ')}`,
    );
    await shot(page, '8-snapshot');
    log(`PASSED in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } catch (e) {
    await page.screenshot({ path: path.join(shots, 'failure.png') }).catch(() => undefined);
    log(`log so far:\n${outputChannelText(s.userDataDir, 'Tuneloop')}`);
    throw e;
  } finally {
    await s.close();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`panel e2e: FAILED: ${e instanceof Error ? e.stack : String(e)}`);
    process.exit(1);
  },
);
