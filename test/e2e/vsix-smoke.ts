import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CODE_SERVER, installVsix, openCodeServer, outputChannelText, ROOT, runCommand, waitFor } from './code-server';

/**
 * The linux-x64 .vsix in a real VS Code (code-server 4.100.3): it installs, activates on a workspace
 * holding a prompt file, shows its Home view, and describes a model folder through its worker process
 * (which loads transformers.js and onnxruntime-node's native binding inside code-server's Node).
 *
 *   node out/test/e2e/vsix-smoke.js dist-vsix/tuneloop-linux-x64-<version>.vsix
 * Screenshots go to test-results/vsix-smoke/.
 */
const log = (s: string) => console.log(`vsix smoke: ${s}`);

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
  const model = path.join(workspace, 'llama');
  fs.cpSync(path.join(ROOT, 'test/fixtures/golden/llama'), model, { recursive: true });

  const s = await openCodeServer(workspace, extensionsDir, log);
  try {
    const activated = await waitFor('the extension to activate', 90_000, () => {
      const text = outputChannelText(s.userDataDir, 'Tuneloop');
      return /Tuneloop \S+ activated/.test(text) ? text : undefined;
    });
    log(`activated: ${activated.trim().split('\n').find((l) => l.includes('activated'))}`);

    // The Home view in the activity bar renders the empty state from validated messages.
    await s.page.locator('.activitybar [aria-label^="Tuneloop"]').first().click();
    const home = s.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    await home.getByText('This workspace has 1 prompt file(s)').waitFor({ timeout: 60_000 });
    await s.page.screenshot({ path: path.join(shots, 'home-view.png') });
    log('home view shows the workspace state');

    // Describe a model folder: the command's folder picker is code-server's simple dialog, which fills
    // itself in asynchronously and can swallow input on a loaded machine: try up to three times.
    const describeOnce = async (): Promise<string | undefined> => {
      await runCommand(s.page, 'Tuneloop: Describe Model Folder');
      const input = s.page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible' });
      await waitFor('the folder dialog to settle', 20_000, async () => ((await input.inputValue()).endsWith('/') ? true : undefined));
      await s.page.waitForTimeout(300);
      await input.fill(model + '/');
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
    log(`described through the worker: ${described.split('\n').find((l) => l.includes('parameters'))?.trim()}`);
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
