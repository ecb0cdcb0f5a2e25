import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openCodeServer, openFile, palette, pickTheme, prepareE2e, ROOT, THEMES, themeSlug, waitFor, webviewFrame, waitForActivation } from './code-server';

/**
 * The Distill tab in a real VS Code (code-server 4.100.3) with the packaged .vsix, on a copy of the
 * example workspace: the distillation recipe (examples/json-answers.adapter.yml) shows a Distill
 * CodeLens; in the panel, "Distill and train" has the teacher answer the inputs, previews the rows,
 * trains (the Fine-tune tab follows the run to its end); "Compare with the teacher" then shows the
 * student (short prompt, new adapter) against the teacher (long prompt) on the held-out cases, with
 * the input-token saving and word diffs. Screenshots in three themes.
 *
 *   node out/test/e2e/distill.js [dist-vsix/tuneloop-linux-x64-<version>.vsix]
 * Screenshots go to test-results/e2e-distill/.
 */
const log = (s: string) => console.log(`distill e2e: ${s}`);

function workspace(): string {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-cs-distill-'));
  fs.cpSync(path.join(ROOT, 'examples'), path.join(ws, 'examples'), { recursive: true, filter: (p) => !p.includes('.tuneloop') });
  fs.cpSync(path.join(ROOT, 'models', 'default'), path.join(ws, 'models', 'default'), { recursive: true });
  return ws;
}

async function main(): Promise<void> {
  const { extensionsDir, shots } = prepareE2e('e2e-distill', log);
  const shot = (name: string) => s.page.screenshot({ path: path.join(shots, `${name}.png`) });
  const started = Date.now();
  const ws = workspace();
  const s = await openCodeServer(ws, extensionsDir, log);
  const page = s.page;
  try {
    await waitForActivation(s);
    // The recipe: a Distill lens (not Fine-tune), since its dataset is the teacher's answers.
    await openFile(page, 'json-answers.adapter.yml');
    const lenses = page.locator('.editor-group-container.active .codelens-decoration a');
    await lenses.first().waitFor({ timeout: 30_000 });
    const titles = (await lenses.allInnerTexts()).map((t) => t.trim());
    if (!titles.some((t) => /Distill$/.test(t)) || titles.some((t) => /Fine-tune/.test(t))) throw new Error(`recipe lenses: ${titles.join(', ')}`);
    log(`recipe lens: ${titles.join(' | ')}`);

    await palette(page, 'Tuneloop: Open Panel');
    let panel = await webviewFrame(page, 'panel');
    // The panel opens on its first tab (a message that may come after the page is up): click Distill until it stays.
    await waitFor('the Distill tab', 60_000, async () => {
      await panel.getByRole('tab', { name: 'Distill' }).click();
      await page.waitForTimeout(500);
      return (await panel.locator('#tab-distill').getAttribute('aria-selected')) === 'true' && (await panel.locator('#distill-recipe').count()) > 0
        ? true
        : undefined;
    });
    await panel.locator('#distill-recipe option').first().waitFor({ state: 'attached', timeout: 60_000 });
    const options = await panel.locator('#distill-recipe option').allInnerTexts();
    if (options.length !== 1 || !options[0]!.includes('json-answers.adapter.yml')) throw new Error(`distill recipes: ${options.join(', ')}`);
    await panel.getByRole('button', { name: 'Distill and train' }).click();
    // The rows (the teacher's answers), then the run on the Fine-tune tab, followed to its end.
    // Attached, not visible: with the teacher's answers cached, training starts (and the page moves to Fine-tune) at once.
    await panel.locator('.distill-rows').waitFor({ state: 'attached', timeout: 180_000 });
    const heading = (await panel.locator('.distill-rows h3').textContent()) ?? '';
    if (!/Rows: 238 in .*json-answers\.distilled\.jsonl/.test(heading)) throw new Error(`rows: ${heading}`);
    const answers = await panel.locator('.distill-rows tbody td:nth-child(2)').allTextContents();
    if (!answers.every((a) => /^\{"answer": "[^"]+"\}$/.test(a.trim()))) throw new Error(`the teacher's answers: ${answers.join(' | ')}`);
    log(`${heading.trim()}; first answers ${answers.slice(0, 3).join(' | ')}`);
    await shot('1-rows');
    panel = await webviewFrame(page, 'panel');
    await panel.locator('#tab-train[aria-selected="true"]').waitFor({ timeout: 60_000 });
    await panel.locator('.run-status', { hasText: /done/ }).waitFor({ timeout: 300_000 });
    log(`trained: ${(await panel.locator('.run-status').innerText()).trim()}`);
    await shot('2-trained');

    // Student against teacher on the held-out cases.
    await panel.getByRole('tab', { name: 'Distill' }).click();
    await panel.getByRole('button', { name: 'Compare with the teacher' }).click();
    await panel.locator('.distill-report').waitFor({ timeout: 180_000 });
    const saving = await panel.locator('.distill-saving').innerText();
    const figures = await panel.locator('.distill-figures li').allInnerTexts();
    log(`${saving} ${figures.join(' / ')}`);
    const fall = Number(/fall by ([\d.]+)%/.exec(saving)?.[1]);
    if (!(fall >= 50)) throw new Error(`input tokens fall by ${fall}%`);
    const student = /student ([\d.]+)% \((\d+)\/(\d+)\).*passes ([\d.]+)% of the (\d+) the teacher passes/.exec(figures[1] ?? '');
    if (!student || Number(student[3]) < 40 || Number(student[4]) < 90) throw new Error(`student: ${figures[1]}`);
    await panel.locator('.distill-report h3').scrollIntoViewIfNeeded();
    for (const theme of [...THEMES.slice(1), THEMES[0]]) {
      await pickTheme(page, theme);
      await shot(`3-report-${themeSlug(theme)}`);
    }
    log(`passed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } catch (e) {
    await shot('failure').catch(() => undefined);
    throw e;
  } finally {
    await s.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
