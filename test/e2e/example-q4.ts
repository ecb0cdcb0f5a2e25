import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openCodeServer, openFile, prepareE2e, ROOT, waitFor, webviewFrame, waitForActivation } from './code-server';

/**
 * The example workspace's compare view on a q4 base, in a real VS Code (code-server 4.100.3) with the
 * packaged .vsix: a copy of examples/ and models/default with `dtype: q4` added to the prompt file.
 * Compare on the second test case runs base against the example's adapter; both columns must finish,
 * carry the q4 tag, and the adapter must answer in its format ("Answer: …").
 *
 *   node out/test/e2e/example-q4.js [dist-vsix/tuneloop-linux-x64-<version>.vsix]
 * Screenshots go to test-results/e2e-example-q4/.
 */
const log = (s: string) => console.log(`example q4 e2e: ${s}`);

function workspace(): string {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-cs-q4-'));
  fs.cpSync(path.join(ROOT, 'examples'), path.join(ws, 'examples'), { recursive: true });
  fs.cpSync(path.join(ROOT, 'models', 'default'), path.join(ws, 'models', 'default'), { recursive: true });
  const file = path.join(ws, 'examples', 'answer-format.prompt.yml');
  const text = fs.readFileSync(file, 'utf8');
  if (!/^model: \.\.\/models\/default$/m.test(text)) throw new Error('the example no longer names ../models/default');
  fs.writeFileSync(file, text.replace(/^model: \.\.\/models\/default$/m, 'model: ../models/default\ndtype: q4'));
  return ws;
}

async function main(): Promise<void> {
  const { extensionsDir, shots } = prepareE2e('e2e-example-q4', log);
  const started = Date.now();
  const ws = workspace();
  const s = await openCodeServer(ws, extensionsDir, log);
  const page = s.page;
  try {
    await waitForActivation(s);
    await openFile(page, 'answer-format.prompt.yml');
    await page.locator('.editor-group-container.active .codelens-decoration a', { hasText: 'Compare case 2' }).first().click({ timeout: 30_000 });
    const panel = await webviewFrame(page, 'panel');
    const outputs = panel.locator('.output[data-state="done"]');
    // The first compare exports the base and the adapter in q4 (a few seconds at this size).
    await waitFor('both columns to finish', 180_000, async () => ((await outputs.count()) === 2 ? true : undefined));
    const names = await panel.locator('.column header strong').allInnerTexts();
    const tags = await panel.locator('.column header .chip-dtype').allInnerTexts();
    const texts = await outputs.allInnerTexts();
    log(`columns: ${names.join(' | ')}; dtype tags: ${tags.join(' | ')}`);
    texts.forEach((t, i) => log(`${names[i]}: ${JSON.stringify(t.trim())}`));
    await page.screenshot({ path: path.join(shots, '1-compare-q4.png') });
    if (names.join(',') !== 'base,answer-format') throw new Error(`columns: ${names.join(', ')}`);
    if (tags.join(',') !== 'q4,q4') throw new Error(`dtype tags: ${tags.join(', ')}`);
    if (!/^Answer: /.test(texts[1]!.trim())) throw new Error(`the adapter on q4 did not answer in its format: ${texts[1]}`);
    if (/^Answer: /.test(texts[0]!.trim())) throw new Error(`the base answered in the adapter's format: ${texts[0]}`);
    log(`passed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await s.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
