import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { CODE_SERVER, installVsix, openCodeServer, openFile, outputChannelText, palette, renderedPreviewText, ROOT, runCommand, waitFor } from './code-server';

/**
 * The linux-x64 .vsix in a real VS Code (code-server 4.100.3): it installs, activates on a workspace
 * holding a prompt file, shows its Home view, describes a model folder through its worker process
 * (which loads transformers.js and onnxruntime-node's native binding inside code-server's Node), and
 * edits prompt files: the grammar's scopes, live diagnostics in the Problems panel, the CodeLens,
 * hover and completion of {{variables}}, and the rendered-prompt preview with its token count.
 *
 *   node out/test/e2e/vsix-smoke.js dist-vsix/tuneloop-linux-x64-<version>.vsix
 * Screenshots go to test-results/vsix-smoke/.
 */
const log = (s: string) => console.log(`vsix smoke: ${s}`);

/** A prompt with a mistake (an unknown role) for the Problems panel, and placeholders to hover and complete. */
const BROKEN_PROMPT = `name: Greeting
messages:
  - role: bot
    content: Say hello to {{name}} in {{language}}.
testData:
  - name: Ada
    language: French
  - name: Grace
    language: Welsh
`;

/** A prompt on the workspace's model folder, for the preview through its chat template. */
const PREVIEW_PROMPT = BROKEN_PROMPT.replace('role: bot', 'role: user').replace('name: Greeting', 'name: Greeting\nmodel: ./llama');

/** The token whose text is exactly `text` on the active editor's line holding `line` (Monaco renders a span per token). */
function token(page: Page, line: string, text: string) {
  const exactly = new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  return page
    .locator('.editor-group-container.active .monaco-editor .view-lines .view-line', { hasText: line })
    .locator('span > span', { hasText: exactly })
    .first();
}

/** Prompt-file editing in the editor: grammar, diagnostics, CodeLens, hover, completion, preview. */
async function languageFeatures(page: Page, shots: string): Promise<void> {
  await openFile(page, 'broken.prompt.yml');
  const lens = page.locator('.editor-group-container.active .codelens-decoration');
  await lens.filter({ hasText: 'Run' }).first().waitFor({ timeout: 30_000 });
  const lensText = (await lens.first().innerText()).replace(/\s+/g, ' ').trim();
  if (!/Run \| .*Compare \| .*Preview/.test(lensText)) throw new Error(`unexpected CodeLens line: ${lensText}`);
  log(`CodeLens above the prompt: ${lensText}`);
  await page.screenshot({ path: path.join(shots, 'prompt-codelens.png') });
  await page
    .locator('.editor-group-container.active .monaco-editor')
    .first()
    .screenshot({ path: path.join(shots, 'prompt-editor.png') });

  // The grammar, through VS Code's own TextMate engine: the scopes under the cursor.
  await token(page, 'Say hello', 'name').click();
  await palette(page, 'Developer: Inspect Editor Tokens and Scopes');
  const inspect = page.locator('.token-inspect-widget');
  await inspect.getByText('variable.other.placeholder.tuneloop').first().waitFor({ timeout: 20_000 });
  await page.screenshot({ path: path.join(shots, 'placeholder-scopes.png') });
  log(`the placeholder's scopes: ${(await inspect.innerText()).replace(/\s+/g, ' ').trim()}`);
  await page.keyboard.press('Escape');

  // Live diagnostics reach the Problems panel.
  await palette(page, 'View: Focus Problems');
  const problem = page.locator('.markers-panel', { hasText: 'unknown role "bot"' });
  await problem.first().waitFor({ timeout: 30_000 });
  await page.screenshot({ path: path.join(shots, 'problems.png') });
  log('the Problems panel shows: unknown role "bot"');

  // Hover on a placeholder: its value in each test case.
  await token(page, 'Say hello', 'language').hover();
  const hover = page.locator('.monaco-hover', { hasText: 'Given by all 2 test cases' });
  await hover.first().waitFor({ timeout: 20_000 });
  const hoverText = (await hover.first().innerText()).replace(/\s+/g, ' ');
  if (!hoverText.includes('French') || !hoverText.includes('Welsh')) throw new Error(`hover lacks the test values: ${hoverText}`);
  await page.screenshot({ path: path.join(shots, 'hover.png') });
  log(`hover: ${hoverText.trim()}`);

  // Completion inside {{ }}: typing the braces opens the list of test variables.
  await token(page, 'Say hello', 'language').click();
  await page.keyboard.press('End');
  await page.keyboard.type(' {{');
  const suggest = page.locator('.suggest-widget.visible');
  await suggest.locator('.monaco-list-row', { hasText: 'language' }).first().waitFor({ timeout: 20_000 });
  const labels = (await suggest.locator('.monaco-list-row .label-name').allInnerTexts()).map((l) => l.trim());
  if (!labels.includes('name')) throw new Error(`completion lacks "name": ${labels.join(', ')}`);
  await page.screenshot({ path: path.join(shots, 'completion.png') });
  log(`completion inside {{ }}: ${labels.join(', ')}`);
  await page.keyboard.press('Escape');

  // The mistake fixed in the editor: its problem goes from the Problems panel as the text changes (no save).
  await page.keyboard.press('Control+Home');
  await token(page, 'role: bot', 'bot').dblclick();
  await page.keyboard.type('user');
  await waitFor('the fixed role to leave the Problems panel', 30_000, async () =>
    (await page.locator('.markers-panel', { hasText: 'unknown role "bot"' }).count()) === 0 ? true : undefined,
  );
  log('after the edit the Problems panel no longer shows it');

  // The Preview lens: the rendered messages, the chat template's text and the token count, from the worker.
  await openFile(page, 'greet.prompt.yml');
  await page.locator('.editor-group-container.active .codelens-decoration a', { hasText: 'Preview' }).first().click();
  // VS Code's Markdown preview, rendered: the count, and the chat template's text in a code block.
  const previewed = await renderedPreviewText(page, /Test case 1 of 2 \(line \d+\) · \d+/);
  if (!previewed.includes('<|im_start|>user')) throw new Error(`the preview lacks the chat template's text: ${previewed.slice(0, 400)}`);
  await page.screenshot({ path: path.join(shots, 'preview.png') });
  const tokens = /Test case 1 of 2 \(line \d+\) · (\d+)/.exec(previewed)?.[1];
  log(`preview of greet.prompt.yml through ./llama's chat template: test case 1 is ${tokens} tokens`);
  // An edit of the source (unsaved) renders again in the open preview.
  await page.locator('.monaco-editor .view-lines .view-line', { hasText: 'name: Ada' }).locator('span > span', { hasText: /^Ada$/ }).first().dblclick();
  await page.keyboard.type('Lovelace');
  await renderedPreviewText(page, /Say hello to Lovelace in French\./, 30_000);
  log('an edit of the source shows in the rendered preview');

  // Without a model (the GitHub sample names a hosted one, and no default is set): the messages only, and why.
  await openFile(page, 'summarize.prompt.yml');
  await page.locator('.editor-group-container.active .codelens-decoration a', { hasText: 'Preview' }).first().click();
  const noModel = await renderedPreviewText(page, /No model is configured/, 30_000);
  if (!noModel.includes('Please respond to this message appropriately')) throw new Error(`the preview lacks the messages: ${noModel.slice(0, 400)}`);
  await page.screenshot({ path: path.join(shots, 'preview-no-model.png') });
  log('preview without a model: the messages, and "No model is configured"');
}

/** Adapter recipes in the editor: diagnostics (an unknown value, a missing dataset), value completion, the Fine-tune CodeLens. */
async function recipeFeatures(page: Page, shots: string): Promise<void> {
  await openFile(page, 'tone.adapter.yml');
  const lens = page.locator('.editor-group-container.active .codelens-decoration a', { hasText: 'Fine-tune' });
  await lens.first().waitFor({ timeout: 30_000 });
  log(`recipe CodeLens: ${(await lens.first().innerText()).trim()}`);
  await palette(page, 'View: Focus Problems');
  for (const text of ['dataset "train.jsonl" not found', 'lorra']) await page.locator('.markers-panel', { hasText: text }).first().waitFor({ timeout: 30_000 });
  log('recipe problems: the missing dataset and the unknown method');
  // The quick fix on the misspelt method (Ctrl+.): "did you mean" applied, the problem gone.
  await token(page, 'method:', 'lorra').click();
  await page.keyboard.press('Control+.');
  const fix = page.locator('.action-widget', { hasText: 'Change to "lora"' });
  await fix.first().waitFor({ timeout: 20_000 });
  await page.screenshot({ path: path.join(shots, 'recipe-quick-fix.png') });
  // The only fix, focused: Enter applies it.
  await page.keyboard.press('Enter');
  await token(page, 'method:', 'lora').waitFor({ timeout: 10_000 });
  await waitFor('the fixed method to leave the Problems panel', 30_000, async () =>
    (await page.locator('.markers-panel', { hasText: 'lorra' }).count()) === 0 ? true : undefined,
  );
  log('quick fix: Change to "lora" applied, its problem gone');
  // Completion of the method's values, the value deleted (with the keyboard: a click right after the
  // quick fix's menu closes can land elsewhere). The method is the file's last line.
  await page.keyboard.press('Control+End');
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('End');
  await page.keyboard.press('Control+Shift+ArrowLeft');
  await page.keyboard.press('Backspace');
  await page.keyboard.press('Control+Space');
  const suggest = page.locator('.suggest-widget.visible');
  await suggest.locator('.monaco-list-row', { hasText: 'full' }).first().waitFor({ timeout: 20_000 });
  const labels = (await suggest.locator('.monaco-list-row .label-name').allInnerTexts()).map((l) => l.trim());
  if (!labels.includes('lora')) throw new Error(`method completion lacks "lora": ${labels.join(', ')}`);
  await page.screenshot({ path: path.join(shots, 'recipe.png') });
  log(`method completion: ${labels.join(', ')}`);
  await page.keyboard.press('Escape');
}

async function main(): Promise<void> {
  const vsix = path.resolve(process.argv[2] ?? '');
  if (!fs.existsSync(vsix)) throw new Error(`no .vsix at ${vsix}; run npm run package -- --target linux-x64 first`);
  if (!fs.existsSync(CODE_SERVER)) throw new Error('code-server is not installed; run test/e2e/setup.sh');
  const shots = path.join(ROOT, 'test-results', 'vsix-smoke');
  fs.mkdirSync(shots, { recursive: true });

  const extensionsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-cs-ext-'));
  log(installVsix(vsix, extensionsDir).trim().split('\n').pop()!);
  const installed = fs.readdirSync(extensionsDir).find((d) => d.startsWith('tuneloop.tuneloop-'));
  if (!installed) throw new Error(`the extension is not in ${extensionsDir}`);
  const binding = path.join(extensionsDir, installed, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node');
  if (!fs.existsSync(binding)) throw new Error(`installed extension lacks ${binding}`);

  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-cs-ws-'));
  fs.copyFileSync(path.join(ROOT, 'test/fixtures/examples/github/sample_prompt.yml'), path.join(workspace, 'summarize.prompt.yml'));
  fs.writeFileSync(path.join(workspace, 'broken.prompt.yml'), BROKEN_PROMPT);
  fs.writeFileSync(path.join(workspace, 'greet.prompt.yml'), PREVIEW_PROMPT);
  fs.writeFileSync(path.join(workspace, 'tone.adapter.yml'), 'base_model: HuggingFaceTB/SmolLM2-135M\ndataset:\n  path: train.jsonl\nmethod: lorra\n');
  const model = path.join(workspace, 'llama');
  fs.cpSync(path.join(ROOT, 'test/fixtures/golden/llama'), model, { recursive: true });

  const s = await openCodeServer(workspace, extensionsDir, log);
  try {
    const activated = await waitFor('the extension to activate', 90_000, () => {
      const text = outputChannelText(s.userDataDir, 'Tuneloop');
      return /Tuneloop \S+ activated/.test(text) ? text : undefined;
    });
    log(
      `activated: ${activated
        .trim()
        .split('\n')
        .find((l) => l.includes('activated'))}`,
    );

    // The Home view in the activity bar renders the empty state from validated messages.
    await s.page.locator('.activitybar [aria-label^="Tuneloop"]').first().click();
    const home = s.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    await home.getByText('This workspace has 3 prompt files').waitFor({ timeout: 60_000 });
    await s.page.screenshot({ path: path.join(shots, 'home-view.png') });
    // The count opens a pick of those files; the one picked opens in the editor.
    await home.getByRole('link', { name: '3 prompt files' }).click();
    await s.page.locator('.quick-input-widget .monaco-list-row', { hasText: 'prompt.yml' }).first().waitFor({ timeout: 20_000 });
    const pickedFile = (await s.page.locator('.quick-input-widget .monaco-list-row .label-name').first().innerText()).trim();
    await s.page.keyboard.press('Enter');
    await s.page.locator('.tabs-container .tab.active', { hasText: path.basename(pickedFile) }).waitFor({ timeout: 20_000 });
    log(`home view shows the workspace state; its count opened ${pickedFile}`);

    // Describe a model folder: the command's folder picker is code-server's simple dialog, which fills
    // itself in asynchronously and can swallow input on a loaded machine: try up to three times.
    const describeOnce = async (): Promise<string | undefined> => {
      await runCommand(s.page, 'Tuneloop: Describe Model Folder');
      const input = s.page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible' });
      await waitFor('the folder dialog to settle', 20_000, async () => ((await input.inputValue()).endsWith('/') ? true : undefined));
      await s.page.waitForTimeout(300);
      await input.fill(`${model}/`);
      // A folder dialog lists folders only: the fixture's adapter_trained/ shows it has entered llama/.
      await s.page.locator('.quick-input-widget .monaco-list-row', { hasText: 'adapter_trained' }).first().waitFor({ timeout: 20_000 });
      await s.page.locator('.quick-input-widget').getByRole('button', { name: 'Describe model' }).click();
      return waitFor('the model description in the log', 20_000, () => {
        const text = outputChannelText(s.userDataDir, 'Tuneloop');
        return text.includes('LlamaForCausalLM (model_type llama)') ? text : undefined;
      }).catch(() => undefined);
    };
    let described: string | undefined;
    for (let attempt = 1; attempt <= 3 && described === undefined; attempt++) {
      described = await describeOnce().catch((e: unknown) => {
        log(`describe attempt ${attempt} failed: ${(e as Error).message.split('\n')[0]}`);
        return undefined;
      });
      if (described === undefined) await s.page.keyboard.press('Escape');
    }
    if (described === undefined) throw new Error('the model description never reached the log');
    await s.page.screenshot({ path: path.join(shots, 'describe-model.png') });
    log(
      `described through the worker: ${described
        .split('\n')
        .find((l) => l.includes('parameters'))
        ?.trim()}`,
    );

    await languageFeatures(s.page, shots);
    await recipeFeatures(s.page, shots);
    log('PASSED');
  } catch (e) {
    await s.page.screenshot({ path: path.join(shots, 'failure.png') }).catch(() => undefined);
    log(`log so far:\n${outputChannelText(s.userDataDir, 'Tuneloop')}`);
    throw e;
  } finally {
    await s.close();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`vsix smoke: FAILED: ${e instanceof Error ? e.stack : String(e)}`);
    process.exit(1);
  },
);
