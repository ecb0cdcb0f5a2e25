import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openCodeServer, outputChannelText, palette, pickTheme, prepareE2e, ROOT, THEMES, themeSlug, waitFor, waitForActivation } from './code-server';

/**
 * VS Code's Testing view on the example workspace, in a real VS Code (code-server 4.100.3) with the
 * packaged .vsix: the prompt file's test cases × variants are tests (file → case → variant); Run All
 * runs them in the worker; the base fails "exact answer" on every case (it does not use the
 * adapter's format) and the adapter passes most; a failure's peek shows VS Code's diff of expected
 * against the output. Screenshots in Light Modern, Dark Modern and High Contrast.
 *
 *   node out/test/e2e/testing-view.js [dist-vsix/tuneloop-linux-x64-<version>.vsix]
 * Screenshots go to test-results/e2e-testing/.
 */
const log = (s: string) => console.log(`testing view e2e: ${s}`);

/** The example, cut to its first three test cases (base and adapter: six tests). */
function workspace(): string {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-cs-testing-'));
  fs.mkdirSync(path.join(ws, 'examples'));
  fs.cpSync(path.join(ROOT, 'examples', 'adapters'), path.join(ws, 'examples', 'adapters'), { recursive: true });
  fs.cpSync(path.join(ROOT, 'models', 'default'), path.join(ws, 'models', 'default'), { recursive: true });
  const text = fs.readFileSync(path.join(ROOT, 'examples', 'answer-format.prompt.yml'), 'utf8');
  const [head, rest] = text.split('testData:\n') as [string, string];
  const cases = rest
    .split(/\n(?=evaluators:)/)[0]!
    .split(/(?=^ {2}- question:)/m)
    .slice(0, 3);
  const tail = rest.slice(rest.indexOf('evaluators:'));
  const prompt = `${head}testData:\n${cases.join('')}${tail}`
    .replace(/^snapshot: .*\n/m, '')
    .replace(/^ {2}- path: answer-format\.adapter\.yml\n/m, '  - path: adapters/answer-format\n');
  fs.writeFileSync(path.join(ws, 'examples', 'answer-format.prompt.yml'), prompt);
  return ws;
}

async function main(): Promise<void> {
  const { extensionsDir, shots } = prepareE2e('e2e-testing', log);
  const started = Date.now();
  const ws = workspace();
  const s = await openCodeServer(ws, extensionsDir, log);
  const page = s.page;
  try {
    await waitForActivation(s);
    await palette(page, 'Testing: Focus on Test Explorer View');
    const tree = page.locator('.test-explorer .monaco-list');
    await tree.locator('.monaco-list-row', { hasText: 'answer-format.prompt.yml' }).first().waitFor({ timeout: 60_000 });
    log('the prompt file is listed in the Testing view');
    await palette(page, 'Test: Run All Tests');
    // Six tests; the log says when they have all reported.
    const done = await waitFor(
      'the run to finish',
      180_000,
      () => /testing: answer-format\.prompt\.yml: (\d+) passed, (\d+) failed, (\d+) errored/.exec(outputChannelText(s.userDataDir, 'Tuneloop')) ?? undefined,
    );
    if (Number(done[3]) !== 0 || Number(done[1]) + Number(done[2]) !== 6) throw new Error(`the run: ${done[0]}`);
    const summary = (
      await page
        .locator('.test-explorer .result-summary')
        .innerText()
        .catch(() => '')
    ).trim();
    log(`${done[0]}; the view's summary: ${summary.replace(/\s+/g, ' ')}`);
    // Open the file and each case (a row, then the right arrow, as a keyboard user would).
    const expand = async (text: string) => {
      const row = tree.locator('.monaco-list-row', { hasText: text }).first();
      await row.click();
      if ((await row.getAttribute('aria-expanded')) === 'false') await page.keyboard.press('ArrowRight');
      await page.waitForTimeout(300);
    };
    await expand('answer-format.prompt.yml');
    for (const c of ['Case 1', 'Case 2', 'Case 3']) await expand(c);
    const rows = (await tree.locator('.monaco-list-row').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    log(`rows: ${rows.join(' | ')}`);
    for (const want of ['Case 1', 'Case 2', 'Case 3', 'base', 'answer-format'])
      if (!rows.some((r) => r.includes(want))) throw new Error(`no "${want}" row in the Testing view: ${rows.join(' | ')}`);
    const failed = await tree.locator('.monaco-list-row .codicon-testing-failed-icon').count();
    const passed = await tree.locator('.monaco-list-row .codicon-testing-passed-icon').count();
    log(`rows marked failed: ${failed}, passed: ${passed}`);
    if (failed === 0 || passed === 0) throw new Error('expected both failed (the base) and passed (the adapter) tests');
    // The three themes, picked as a user picks them.
    for (const theme of THEMES) {
      await pickTheme(page, theme);
      await page.screenshot({ path: path.join(shots, `1-results-${themeSlug(theme)}.png`) });
    }
    // A failure's message in the Test Results view: VS Code's diff of expected against the output.
    const message = page
      .locator('.part.panel')
      .getByRole('treeitem', { name: /exact answer: output should equal/ })
      .first();
    await message.waitFor({ timeout: 30_000 });
    await message.click();
    const diff = page.locator('.monaco-diff-editor').first();
    await diff.waitFor({ timeout: 30_000 });
    const diffText = (await diff.innerText()).replace(/\s+/g, ' ');
    log(`failure diff: ${diffText.slice(0, 200)}`);
    if (!/Answer: Milk is white\./.test(diffText) || !/Milk is white\./.test(diffText)) throw new Error('the failure diff does not show expected and output');
    await page.screenshot({ path: path.join(shots, '2-failure-diff.png') });
    log(`passed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } catch (e) {
    await page.screenshot({ path: path.join(shots, 'failure.png') }).catch(() => undefined);
    log(`log so far:\n${outputChannelText(s.userDataDir, 'Tuneloop')}`);
    throw e;
  } finally {
    await s.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
