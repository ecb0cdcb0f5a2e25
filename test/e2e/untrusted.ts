import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { openCodeServer, openFile, outputChannelText, palette, prepareE2e, renderedPreviewText, ROOT, waitFor, webviewFrame } from './code-server';

/**
 * The linux-x64 .vsix in a real VS Code (code-server 4.100.3) with workspace trust on and the
 * workspace not trusted (Restricted Mode), on a copy of examples/ and the default model: the
 * Fine-tune command warns and starts no run, the rendered-prompt preview reads no model files and
 * says why, and the panel says it runs nothing. The other end-to-end tests run with trust off.
 *
 *   node out/test/e2e/untrusted.js [dist-vsix/tuneloop-linux-x64-<version>.vsix]
 * Screenshots go to test-results/e2e-untrusted/.
 */
const log = (s: string) => console.log(`untrusted e2e: ${s}`);

/** src/extension/trust.ts's UNTRUSTED_WARNING, as the user reads it. */
const WARNING = 'Tuneloop runs no model and no training in an untrusted workspace';

async function notification(page: Page, text: string, ms: number): Promise<string> {
  const toast = page.locator('.notifications-toasts .notification-toast', { hasText: text });
  await toast.first().waitFor({ timeout: ms });
  return (await toast.first().innerText()).replace(/\s+/g, ' ').trim();
}

async function main(): Promise<void> {
  const started = Date.now();
  const { extensionsDir, shots } = prepareE2e('e2e-untrusted', log);
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(shots, `${name}.png`) });

  // The example as a user clones it: examples/ beside models/default, which its files name as ../models/default.
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-cs-untrusted-'));
  fs.cpSync(path.join(ROOT, 'examples'), path.join(ws, 'examples'), { recursive: true });
  fs.cpSync(path.join(ROOT, 'models', 'default'), path.join(ws, 'models', 'default'), { recursive: true });
  const runs = path.join(ws, '.tuneloop');

  const s = await openCodeServer(ws, extensionsDir, log, { untrusted: true });
  const page = s.page;
  try {
    const activated = await waitFor(
      'the extension to activate',
      90_000,
      () => /Tuneloop \S+ activated.*/.exec(outputChannelText(s.userDataDir, 'Tuneloop'))?.[0],
    );
    log(activated);
    if (!activated.includes('(workspace untrusted)')) throw new Error(`the extension activated in a trusted workspace: ${activated}`);
    await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ timeout: 30_000 });
    log('VS Code shows Restricted Mode');
    await shot(page, '0-restricted');

    // 1. Fine-tune the example's recipe from the palette: a warning, and no run.
    await openFile(page, 'answer-format.adapter.yml');
    await palette(page, 'Tuneloop: Fine-tune Adapter');
    log(`notification: ${await notification(page, WARNING, 20_000)}`);
    await shot(page, '1-fine-tune-refused');
    // A refused command returns at once; a started run would have made its folder within this time.
    await page.waitForTimeout(3000);
    if (fs.existsSync(runs)) throw new Error(`a run folder appeared: ${fs.readdirSync(runs, { recursive: true }).join(', ')}`);
    if (/started run/.test(outputChannelText(s.userDataDir, 'Tuneloop'))) throw new Error('the log says a run started');
    log('no .tuneloop/runs folder, no run in the log');

    // 2. The preview of the example's prompt: the messages, and why there is no model text.
    await openFile(page, 'answer-format.prompt.yml');
    await palette(page, 'Tuneloop: Preview Rendered Prompt');
    // VS Code's Markdown preview, rendered (not the Markdown source in an editor).
    const previewed = await renderedPreviewText(page, /The workspace is not trusted/, 30_000);
    // The first test case's question, rendered (read from the example, which is generated).
    const question = /^ {2}- question: "(.*)"$/m.exec(fs.readFileSync(path.join(ROOT, 'examples', 'answer-format.prompt.yml'), 'utf8'))?.[1];
    if (!question) throw new Error('no question in examples/answer-format.prompt.yml');
    if (!previewed.includes(question)) throw new Error(`the preview lacks the first question "${question}": ${previewed.slice(0, 400)}`);
    if (previewed.includes('<|im_start|>')) throw new Error('the preview shows the chat template text');
    log('preview: "The workspace is not trusted, so the preview reads no model files."');
    await shot(page, '2-preview');

    // 3. The panel: its banner says it runs nothing, and its run and fine-tune buttons are off.
    await palette(page, 'Tuneloop: Open Panel');
    const panel = await webviewFrame(page, 'panel');
    const banner = panel.getByText('This workspace is not trusted: Tuneloop reads and checks its files, but runs no model and no training');
    await banner.first().waitFor({ timeout: 30_000 });
    log(`panel: ${(await banner.first().innerText()).trim()}`);
    await shot(page, '3-panel');
    await panel.getByRole('tab', { name: 'Fine-tune' }).click();
    const start = panel.locator('#start-training');
    await start.waitFor({ timeout: 10_000 });
    if (!(await start.isDisabled())) throw new Error('the Fine-tune button is enabled in an untrusted workspace');
    log(`panel: the Fine-tune button is disabled (${await start.getAttribute('title')})`);
    await shot(page, '4-panel-fine-tune');
    // The banner's button: VS Code's own trust editor.
    await panel.getByRole('button', { name: 'Manage Workspace Trust' }).first().click();
    await page.locator('.tabs-container .tab', { hasText: 'Workspace Trust' }).first().waitFor({ timeout: 20_000 });
    log('panel: "Manage Workspace Trust" opened the Workspace Trust editor');
    await shot(page, '5-trust-editor');
    if (fs.existsSync(runs)) throw new Error('a run folder appeared');
    log(`PASSED in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } catch (e) {
    await shot(page, 'failure').catch(() => undefined);
    log(`log so far:\n${outputChannelText(s.userDataDir, 'Tuneloop')}`);
    throw e;
  } finally {
    await s.close();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`untrusted e2e: FAILED: ${e instanceof Error ? e.stack : String(e)}`);
    process.exit(1);
  },
);
