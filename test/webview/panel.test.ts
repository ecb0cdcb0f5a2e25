import * as assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import type { CellInfo, PromptInfo, RunHeader, ToPanel, TrainEvent } from '../../src/extension/panel/protocol';
import { type Host, launch, startHost, WebviewPage } from './host';
import type { ThemeName } from './themes';

/**
 * The webview app in headless Chromium (Debian's chromium, driven by playwright-core) against a
 * stand-in host: the page under the real Content Security Policy, host messages replayed into it,
 * what it posts back validated with the shared protocol. Screenshots in light, dark and high
 * contrast at 800 px go to test-results/webview/.
 */
const FILE = '/ws/support.prompt.yml';
const ADAPTER = 'adapter:/ws/tone.adapter.yml';
const CHECKPOINT = 'checkpoint:/ws/.tuneloop/runs/20250101T000000Z-tone/checkpoints/step-8';

const INFO: PromptInfo = {
  file: FILE,
  label: 'support.prompt.yml',
  name: 'Support reply',
  description: 'Answers a customer in two sentences.',
  problems: [],
  variables: ['customer', 'question'],
  hasTestData: true,
  cases: [
    { index: 0, label: 'Case 1: customer = Ada', values: { customer: 'Ada', question: 'Where is my parcel?' } },
    { index: 1, label: 'Case 2: customer = Grace', values: { customer: 'Grace', question: 'Can I change my order?' } },
  ],
  params: { maxTokens: 64, temperature: 0 },
  models: [{ id: '/ws/llama', label: 'llama', from: 'prompt' }],
  model: '/ws/llama',
  variants: [
    { id: 'base', name: 'base', kind: 'base', detail: 'llama', available: true, listed: true },
    { id: ADAPTER, name: 'tone', kind: 'recipe', detail: 'tone.adapter.yml → .tuneloop/runs/…/adapter', available: true, listed: true },
    { id: CHECKPOINT, name: '20250101T000000Z-tone@8', kind: 'checkpoint', detail: 'checkpoints/step-8', available: true, listed: false },
    {
      id: 'adapter:/ws/other',
      name: 'other',
      kind: 'adapter',
      detail: 'other',
      available: false,
      listed: false,
      reason: 'trained on gpt2, not on the selected model',
    },
  ],
  evaluators: [
    { name: 'polite', kind: 'string', local: true },
    { name: 'short', kind: 'maxLength', local: true },
  ],
  snapshot: { label: 'support.snapshot.json', exists: false },
  probes: [
    { name: 'names', swaps: 'variable customer', labels: ['Ada', 'Grace', 'Wei'] },
    { name: 'pronouns', swaps: 'words (pronouns)', labels: ['he', 'she', 'they'] },
  ],
};

/** A probes report as the worker computes it (core/probes/report.ts): the adapter flips "polite" when Grace asks. */
const PROBES_REPORT = {
  probes: [
    {
      name: 'names',
      kind: 'variable' as const,
      swaps: 'variable customer',
      labels: ['Ada', 'Grace', 'Wei'],
      applies: 2,
      cases: 2,
      variants: [
        {
          variant: 'base',
          flips: 0,
          swaps: [
            { label: 'Grace', applies: 2, changed: [], flips: [], deltaLogProb: -0.02, divergence: 0 },
            { label: 'Wei', applies: 2, changed: [], flips: [], deltaLogProb: 0.01, divergence: 0 },
          ],
        },
        {
          variant: 'tone',
          flips: 1,
          swaps: [
            {
              label: 'Grace',
              applies: 2,
              changed: [{ caseIndex: 0, reference: 'Your parcel is on its way, Ada.', output: 'Parcel shipped.' }],
              flips: [{ caseIndex: 0, evaluator: 'polite', reference: true, swapped: false, new: true }],
              deltaLogProb: -1.84,
              divergence: 0.6,
            },
            { label: 'Wei', applies: 2, changed: [], flips: [], deltaLogProb: 0.03, divergence: 0 },
          ],
        },
      ],
    },
    {
      name: 'pronouns',
      kind: 'words' as const,
      swaps: 'words (pronouns)',
      labels: ['he', 'she', 'they'],
      applies: 0,
      cases: 2,
      variants: [
        {
          variant: 'base',
          flips: 0,
          swaps: [0, 1].map((i) => ({ label: ['she', 'they'][i]!, applies: 0, changed: [], flips: [], deltaLogProb: null, divergence: null })),
        },
        {
          variant: 'tone',
          flips: 0,
          swaps: [0, 1].map((i) => ({ label: ['she', 'they'][i]!, applies: 0, changed: [], flips: [], deltaLogProb: null, divergence: null })),
        },
      ],
    },
  ],
  flips: { base: { total: 0, new: null }, tone: { total: 1, new: 1 } },
};

/** Three recorded runs (tuneloop eval --record): the adapter climbs, then one line is unreadable. */
const HISTORY: ToPanel = {
  type: 'history/data',
  file: FILE,
  historyLabel: 'support.history.jsonl',
  unreadable: 1,
  points: [
    {
      kind: 'eval',
      date: '2026-11-01T10:00:00.000Z',
      commit: 'a1b2c3d4e5f6',
      dirty: false,
      failures: 1,
      variants: [
        { name: 'base', passRate: 0.5, regressionCount: null, accuracy: null, ece: null, probeFlips: null },
        { name: 'tone', passRate: 0.5, regressionCount: 1, accuracy: null, ece: null, probeFlips: null },
      ],
    },
    {
      kind: 'eval',
      date: '2026-11-15T10:00:00.000Z',
      commit: 'b2c3d4e5f6a1',
      dirty: false,
      failures: 0,
      variants: [
        { name: 'base', passRate: 0.5, regressionCount: null, accuracy: null, ece: null, probeFlips: null },
        { name: 'tone', passRate: 0.75, regressionCount: 0, accuracy: null, ece: null, probeFlips: null },
      ],
    },
    {
      kind: 'eval',
      date: '2026-12-01T10:00:00.000Z',
      commit: 'c3d4e5f6a1b2',
      dirty: true,
      failures: 0,
      variants: [
        { name: 'base', passRate: 0.5, regressionCount: null, accuracy: null, ece: null, probeFlips: null },
        { name: 'tone', passRate: 1, regressionCount: 0, accuracy: null, ece: null, probeFlips: null },
      ],
    },
    {
      kind: 'probe',
      date: '2026-12-02T10:00:00.000Z',
      commit: 'c3d4e5f6a1b2',
      dirty: false,
      failures: 1,
      variants: [
        { name: 'base', passRate: null, regressionCount: null, accuracy: null, ece: null, probeFlips: 0 },
        { name: 'tone', passRate: null, regressionCount: null, accuracy: null, ece: null, probeFlips: 2 },
      ],
    },
  ],
};

const INIT: ToPanel = {
  type: 'panel/init',
  version: '0.1.0',
  trusted: true,
  hasWorkspace: true,
  prompts: [
    { file: FILE, label: 'support.prompt.yml' },
    { file: '/ws/other.prompt.yml', label: 'other.prompt.yml' },
  ],
  recipes: [{ file: '/ws/tone.adapter.yml', label: 'tone.adapter.yml' }],
};

const tokens = (text: string, logprobs: number[]) => text.split(/(?<= )/).map((t, i) => ({ text: t, logprob: logprobs[i % logprobs.length]! }));

function cell(text: string, extra: Partial<CellInfo> = {}): CellInfo {
  return {
    text,
    tokens: tokens(text, [-0.01, -0.5, -1.6, -0.2, -3]),
    evaluations: [
      { name: 'polite', passed: /please|thank/i.test(text), detail: 'contains "please"' },
      { name: 'short', passed: true, detail: 'at most 400 characters' },
    ],
    passed: /please|thank/i.test(text),
    timeToFirstTokenMs: 84,
    tokensPerSecond: 41.5,
    finish: 'eos',
    ...extra,
  };
}

const BASE_TEXT = 'Your parcel is on its way and should arrive tomorrow.';
const TUNED_TEXT = 'Thank you for asking, Ada! Your parcel is on its way and arrives tomorrow.';

function compareHeader(runId = 'run-1'): RunHeader {
  return {
    runId,
    mode: 'compare',
    file: FILE,
    fileLabel: 'support.prompt.yml',
    modelLabel: 'llama',
    variants: [
      { id: 'base', name: 'base', kind: 'base', minPassRate: 1, dtype: 'q4' },
      { id: ADAPTER, name: 'tone', kind: 'recipe', minPassRate: 0.5, dtype: 'q4' },
    ],
    dtypeFrom: 'prompt',
    cases: [{ index: 0, label: 'Case 1: customer = Ada' }],
    hasSnapshot: true,
  };
}

const STEPS: TrainEvent[] = [
  { type: 'started', time: 't', totalSteps: 24, trainExamples: 32, validationExamples: 8 },
  ...Array.from(
    { length: 12 },
    (_, i): TrainEvent => ({ type: 'step', time: 't', step: i + 1, loss: 3.2 * Math.exp(-i / 6) + 0.4, lr: 0.01, tokensPerSecond: 900, etaSeconds: 30 - i }),
  ),
  { type: 'eval', time: 't', step: 4, loss: 2.9 },
  {
    type: 'sample',
    time: 't',
    step: 4,
    prompt: '<|im_start|>system\nAnswer briefly.<|im_end|>\n<|im_start|>user\ncolor 3: gold?<|im_end|>\n<|im_start|>assistant\n',
    messages: [
      { role: 'system', content: 'Answer briefly.' },
      { role: 'user', content: 'color 3: gold?' },
    ],
    line: 27,
    output: ' gold gold is',
  },
  { type: 'eval', time: 't', step: 8, loss: 1.9 },
  { type: 'sample', time: 't', step: 8, prompt: 'color 5: teal?', line: 31, output: ' teal is a color.' },
];

const RUNS: ToPanel = {
  type: 'runs/list',
  runsFolder: '.tuneloop/runs',
  runs: [
    {
      dir: '/ws/.tuneloop/runs/20250102T000000Z-tone',
      name: '20250102T000000Z-tone',
      recipe: 'tone.adapter.yml',
      state: 'running',
      lastStep: 12,
      totalSteps: 24,
      lastLoss: 0.84,
      resumable: false,
    },
    {
      dir: '/ws/.tuneloop/runs/20250101T000000Z-tone',
      name: '20250101T000000Z-tone',
      recipe: 'tone.adapter.yml',
      state: 'cancelled',
      lastStep: 8,
      totalSteps: 24,
      lastLoss: 1.2,
      resumable: true,
    },
  ],
};

describe('webview app in headless Chromium', function () {
  this.timeout(60_000);
  let host: Host;
  let browser: Browser;
  const pages: WebviewPage[] = [];

  before(async () => {
    host = await startHost();
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await host?.close();
  });
  afterEach(async function () {
    for (const p of pages.splice(0)) {
      // Every page ran without script errors and without a single CSP violation.
      assert.deepEqual(p.errors, [], `${this.currentTest?.title}: ${p.errors.join('\n')}`);
      assert.deepEqual(await p.cspViolations(), []);
      await p.page.close();
    }
  });

  const open = async (options: { theme?: ThemeName; view?: 'home' | 'panel'; width?: number } = {}) => {
    const p = await WebviewPage.open(browser, host, options);
    pages.push(p);
    return p;
  };

  async function comparePage(theme: ThemeName = 'dark', width = 800): Promise<WebviewPage> {
    const p = await open({ theme, width });
    await p.waitPosted('panel/ready');
    await p.send(INIT, { type: 'panel/prompt', info: INFO, autorun: 'compare' });
    return p;
  }

  async function streamCompare(p: WebviewPage): Promise<void> {
    const h = compareHeader();
    await p.send(
      { type: 'run/start', header: h },
      { type: 'run/progress', runId: h.runId, message: 'base: loading the model' },
      { type: 'run/cellStart', runId: h.runId, variant: 'base', caseIndex: 0 },
    );
    await p.send({ type: 'run/tokens', runId: h.runId, variant: 'base', caseIndex: 0, tokens: tokens('Your parcel is ', [-0.1]) });
  }

  it('shows a first-time user what to do when the workspace has no prompt file', async () => {
    for (const theme of ['light', 'dark'] as const) {
      const p = await open({ theme });
      await p.waitPosted('panel/ready');
      await p.send({ ...INIT, prompts: [], recipes: [] });
      await p.page.getByRole('heading', { name: 'No prompt file in this workspace yet' }).waitFor();
      assert.ok(await p.page.getByText('NAME.prompt.yml').first().isVisible());
      await p.shot(`empty-${theme}`);
      await p.page.getByRole('tab', { name: 'Fine-tune' }).click();
      await p.page.getByText('No adapter recipe in this workspace yet.').waitFor();
    }
  });

  it('compare: autoruns base and adapter, streams into columns, shades tokens, diffs words, opens the diff editor, stops', async () => {
    const p = await comparePage();
    const run = (await p.waitPosted('run/start'))[0]!;
    assert.deepEqual(run, { type: 'run/start', mode: 'compare', file: FILE, model: '/ws/llama', variants: ['base', ADAPTER], params: {}, cases: [0] });

    await streamCompare(p);
    const base = p.page.locator('.output[data-variant="base"]');
    assert.match(await base.innerText(), /^Your parcel is/);
    assert.equal(await base.getAttribute('data-state'), 'running');
    assert.match(await p.page.locator('.column[data-variant="base"] .stats').innerText(), /streaming · 3 token/);
    // Stop: every running column at once, from the button or Escape.
    await p.page.getByRole('button', { name: 'Stop' }).first().click();
    await p.page.keyboard.press('Escape');
    assert.equal((await p.postedOf('run/stop')).length, 2);

    const h = compareHeader();
    await p.send(
      { type: 'run/cell', runId: h.runId, variant: 'base', caseIndex: 0, cell: cell(BASE_TEXT) },
      { type: 'run/cellStart', runId: h.runId, variant: ADAPTER, caseIndex: 0 },
      { type: 'run/tokens', runId: h.runId, variant: ADAPTER, caseIndex: 0, tokens: tokens('Thank you for asking, ', [-0.2]) },
    );
    await p.shot('compare-streaming-dark');
    await p.send(
      { type: 'run/cell', runId: h.runId, variant: ADAPTER, caseIndex: 0, cell: cell(TUNED_TEXT, { timeToFirstTokenMs: 97, tokensPerSecond: 38.2 }) },
      { type: 'run/end', runId: h.runId, status: 'done', passRates: { base: 0, [ADAPTER]: 1 } },
    );

    // Each column says which dtype its model ran in, and where that was chosen.
    const tag = p.page.locator('.column[data-variant="base"] header .chip-dtype');
    assert.equal(await tag.innerText(), 'q4');
    assert.match((await tag.getAttribute('title'))!, /4-bit quantized weights .*the prompt file's dtype/);
    assert.deepEqual(await p.page.locator('.column header .chip-dtype').allInnerTexts(), ['q4', 'q4']);
    // Time to first token and tokens per second, per column; evaluator results.
    const stats = await p.page.locator('.column .stats').allInnerTexts();
    assert.match(stats[0]!, /first token 84 ms · 41\.5 tokens\/s · \d+ tokens · end of text/);
    assert.match(stats[1]!, /first token 97 ms · 38\.2 tokens\/s/);
    assert.match(await p.page.locator('.column[data-variant="base"] .evals').innerText(), /✗ polite[\s\S]*✓ short/);

    // The word diff against base (on by default): what the adapter added and removed.
    const tuned = p.page.locator(`.output[data-variant="${ADAPTER}"]`);
    const added = await tuned.locator('ins.added').allInnerTexts();
    const removed = await tuned.locator('del.removed').allInnerTexts();
    assert.equal(added[0], 'Thank you for asking, Ada! ');
    assert.ok(added.includes('arrives') && removed.includes('should'), `added ${JSON.stringify(added)}, removed ${JSON.stringify(removed)}`);
    assert.equal(await p.page.locator('.output[data-variant="base"] ins, .output[data-variant="base"] del').count(), 0, 'the base column is not diffed');
    // "should" deleted and "arrives" inserted meet with no space: a gap keeps them apart.
    const arrives = tuned.locator('ins.added', { hasText: /^arrives$/ });
    assert.equal(await arrives.getAttribute('class'), 'added joined');
    assert.ok(Number.parseFloat(await arrives.evaluate((e) => e.ownerDocument.defaultView!.getComputedStyle(e).marginLeft)) > 2, 'a visible gap');
    assert.equal(await tuned.locator('ins.joined, del.joined').count(), 1, `only where a change meets a change inside a word: ${await tuned.innerHTML()}`);
    await p.shot('compare-diff-dark');

    // Shading and the word diff at once: tokens keep their probability class inside insertions (as an
    // underline there), and the text is unchanged.
    await p.page.getByLabel('Shade tokens by probability').check();
    assert.ok((await tuned.locator('ins.added span.tok').count()) > 0, 'shaded tokens inside the insertions');
    assert.ok((await tuned.locator(':scope > span.tok').count()) > 0, 'and in the unchanged text');
    const kept = await tuned.evaluate((e) =>
      [...e.childNodes]
        .filter((n) => n.nodeName !== 'DEL')
        .map((n) => n.textContent)
        .join(''),
    );
    assert.equal(kept, TUNED_TEXT, 'the shown text (deletions aside) is the output');
    const underline = await tuned
      .locator('ins.added span.tok.p5')
      .first()
      .evaluate((e) => {
        const style = e.ownerDocument.defaultView!.getComputedStyle(e);
        return [style.backgroundColor, style.borderBottomStyle];
      });
    assert.deepEqual(underline, ['rgba(0, 0, 0, 0)', 'solid']);
    await p.shot('compare-diff-shaded-dark');

    // Shading by probability: one span per token, classed by its probability.
    await p.page.getByLabel(/Word diff against/).uncheck();
    const spans = p.page.locator('.output[data-variant="base"] span.tok');
    assert.equal(await spans.count(), BASE_TEXT.split(' ').length);
    assert.deepEqual((await spans.evaluateAll((es) => es.map((e) => e.className))).slice(0, 5), ['tok p0', 'tok p2', 'tok p4', 'tok p1', 'tok p5']);
    assert.equal(await spans.first().getAttribute('title'), 'p = 0.990');
    await p.shot('compare-shaded-dark');

    // Any two outputs in VS Code's diff editor.
    await p.page.getByRole('button', { name: 'Open in diff editor' }).click();
    const diff = (await p.waitPosted('run/openDiff'))[0];
    assert.deepEqual(diff, { type: 'run/openDiff', runId: 'run-1', left: { variant: 'base', caseIndex: 0 }, right: { variant: ADAPTER, caseIndex: 0 } });
    await p.page.locator(`.column[data-variant="${ADAPTER}"]`).getByRole('button', { name: 'Diff editor' }).click();
    assert.equal((await p.postedOf('run/openDiff')).length, 2);
  });

  it('screenshots of the compare view in light, dark and high contrast at 800 px', async () => {
    for (const theme of ['light', 'dark', 'high-contrast'] as const) {
      const p = await comparePage(theme);
      await p.waitPosted('run/start');
      const h = compareHeader();
      await p.send(
        { type: 'run/start', header: h },
        { type: 'run/cell', runId: h.runId, variant: 'base', caseIndex: 0, cell: cell(BASE_TEXT) },
        { type: 'run/cell', runId: h.runId, variant: ADAPTER, caseIndex: 0, cell: cell(TUNED_TEXT) },
        { type: 'run/end', runId: h.runId, status: 'done', passRates: {} },
      );
      await p.page.getByLabel('Shade tokens by probability').check();
      // Usable at 800 px: nothing wider than the window.
      const overflow = (await p.page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
      assert.ok(overflow <= 0, `${theme}: the page is ${overflow} px wider than 800 px`);
      await p.shot(`compare-${theme}`);
    }
  });

  it('sends overridden generation settings and typed values; refuses invalid settings', async () => {
    const p = await open();
    await p.waitPosted('panel/ready');
    await p.send(INIT, { type: 'panel/prompt', info: INFO });
    await p.page.getByText(/Generation settings/).click();
    await p.page.getByLabel('Max tokens').fill('16');
    await p.page.getByLabel('Max tokens').blur();
    await p.page.getByLabel('Temperature').fill('5');
    await p.page.getByLabel('Temperature').blur();
    assert.equal(await p.page.getByLabel('Temperature').getAttribute('aria-invalid'), 'true');
    assert.match(await p.page.getByRole('alert').innerText(), /Temperature/);
    await p.page.getByLabel('Temperature').fill('0.7');
    await p.page.getByLabel('Temperature').blur();
    await p.page.getByLabel('Stop strings (separated by |)').fill('\\n\\n | END');
    await p.page.getByLabel('Stop strings (separated by |)').blur();
    await p.page.getByLabel('Test case').selectOption('typed');
    await p.page.getByLabel('{{customer}}').fill('Linus');
    // Keyboard: Ctrl+Enter runs.
    await p.page.getByLabel('{{question}}').focus();
    await p.page.keyboard.press('Control+Enter');
    const run = (await p.waitPosted('run/start'))[0]!;
    assert.deepEqual(run.params, { maxTokens: 16, temperature: 0.7, stop: ['\\n\\n', 'END'] });
    assert.deepEqual(run.values, { customer: 'Linus', question: 'Where is my parcel?' });
    assert.equal(run.cases, undefined);
    await p.shot('settings-dark');
  });

  it('matrix: every case × variant with evaluators and pass rates, the differing-rows filter, accept as snapshot', async () => {
    const p = await open({ theme: 'light' });
    await p.waitPosted('panel/ready');
    await p.send(INIT, { type: 'panel/prompt', info: INFO }, { type: 'panel/show', tab: 'matrix' });
    await p.page.getByRole('button', { name: 'Run matrix' }).click();
    const req = (await p.waitPosted('run/start'))[0]!;
    assert.equal(req.mode, 'matrix');
    assert.equal(req.cases, undefined);
    const h: RunHeader = { ...compareHeader('run-2'), mode: 'matrix', cases: INFO.cases.map((c) => ({ index: c.index, label: c.label })) };
    await p.send(
      { type: 'run/start', header: h },
      { type: 'run/cell', runId: 'run-2', variant: 'base', caseIndex: 0, cell: cell(BASE_TEXT, { snapshot: 'new' }) },
      { type: 'run/cell', runId: 'run-2', variant: ADAPTER, caseIndex: 0, cell: cell(TUNED_TEXT, { snapshot: 'new' }) },
      { type: 'run/cell', runId: 'run-2', variant: 'base', caseIndex: 1, cell: cell('Yes, please reply with the new address.', { snapshot: 'new' }) },
      { type: 'run/cell', runId: 'run-2', variant: ADAPTER, caseIndex: 1, cell: cell('Yes, please reply with the new address.', { snapshot: 'new' }) },
    );
    assert.equal(await p.page.getByRole('button', { name: 'Accept as snapshot' }).isDisabled(), true, 'not before the run ends');
    await p.send({ type: 'run/end', runId: 'run-2', status: 'done', passRates: { base: 0.5, [ADAPTER]: 1 } });
    const foot = await p.page.locator('table.matrix tfoot tr.overall td').allInnerTexts();
    assert.match(foot[0]!, /✗ 50% \(1\/2, needs 100%\)/);
    assert.match(foot[1]!, /✓ 100% \(2\/2, needs 50%\)/);
    // Each evaluator's rate comes first, then the regressions against the base (none: the adapter only gained).
    assert.deepEqual(await p.page.locator('table.matrix tfoot tr.evaluator-rate').allInnerTexts(), [
      'polite\t50% (1/2)\t100% (2/2)',
      'short\t100% (2/2)\t100% (2/2)',
    ]);
    assert.deepEqual(await p.page.locator('table.matrix tfoot tr.regressions td').allInnerTexts(), ['—', '0']);
    assert.equal(await p.page.locator('table.matrix tbody tr').count(), 2);
    assert.deepEqual(await p.page.locator('table.matrix thead th .chip-dtype').allInnerTexts(), ['q4', 'q4']);
    await p.shot('matrix-light');
    await p.page.getByLabel('Only rows where the variants differ').check();
    assert.deepEqual(await p.page.locator('table.matrix tbody tr:visible th').allInnerTexts(), ['Case 1: customer = Ada']);
    await p.page.getByRole('button', { name: 'Accept as snapshot' }).click();
    assert.deepEqual(await p.waitPosted('snapshot/accept'), [{ type: 'snapshot/accept', runId: 'run-2' }]);
    await p.send({ type: 'snapshot/written', runId: 'run-2', label: 'support.snapshot.json' });
    await p.page.getByText('Snapshot written to support.snapshot.json.').first().waitFor();
  });

  it('expected beside the outputs: compare shows the value and marks each finished column; the matrix shows it under its case', async () => {
    const p = await open({ theme: 'dark' });
    await p.waitPosted('panel/ready');
    await p.send(INIT, { type: 'panel/prompt', info: INFO });
    const h: RunHeader = { ...compareHeader(), cases: [{ index: 0, label: 'Case 1: customer = Ada', expected: TUNED_TEXT }] };
    await p.send(
      { type: 'run/start', header: h },
      { type: 'run/cellStart', runId: h.runId, variant: 'base', caseIndex: 0 },
      { type: 'run/cell', runId: h.runId, variant: 'base', caseIndex: 0, cell: cell(BASE_TEXT) },
      { type: 'run/cellStart', runId: h.runId, variant: ADAPTER, caseIndex: 0 },
      { type: 'run/tokens', runId: h.runId, variant: ADAPTER, caseIndex: 0, tokens: tokens('Thank you', [-0.2]) },
    );
    assert.equal(await p.page.locator('.compare-results > .expected .expected-text').innerText(), TUNED_TEXT);
    const marks = () => p.page.locator('.compare-results .expected-mark').allInnerTexts();
    assert.deepEqual(await marks(), ['✗ differs from expected'], 'no mark while a column streams');
    await p.send(
      { type: 'run/cell', runId: h.runId, variant: ADAPTER, caseIndex: 0, cell: cell(` ${TUNED_TEXT}\n`) },
      { type: 'run/end', runId: h.runId, status: 'done', passRates: {} },
    );
    assert.deepEqual(await p.page.locator(`.column[data-variant="${ADAPTER}"] .expected-mark`).allInnerTexts(), ['✓ equals expected']);
    assert.deepEqual(await p.page.locator('.column[data-variant="base"] .expected-mark.fail').allInnerTexts(), ['✗ differs from expected']);
    await p.shot('compare-expected-dark');

    // The matrix: under each case that has one; a case without it shows none.
    const m: RunHeader = {
      ...compareHeader('run-9'),
      mode: 'matrix',
      cases: [
        { index: 0, label: 'Case 1: customer = Ada', expected: BASE_TEXT },
        { index: 1, label: 'Case 2: customer = Grace' },
      ],
    };
    await p.send({ type: 'panel/show', tab: 'matrix' }, { type: 'run/start', header: m });
    for (const [i, text] of [BASE_TEXT, TUNED_TEXT].entries())
      await p.send(
        { type: 'run/cellStart', runId: 'run-9', variant: 'base', caseIndex: i },
        { type: 'run/cell', runId: 'run-9', variant: 'base', caseIndex: i, cell: cell(text) },
      );
    assert.deepEqual(await p.page.locator('table.matrix tbody th .expected-text').allInnerTexts(), [BASE_TEXT]);
    assert.deepEqual(await p.page.locator('table.matrix tbody td[data-variant="base"] .expected-mark').allInnerTexts(), ['✓ equals expected']);
  });

  it('regressions: a case the base passed and the adapter failed is marked, with the base output beside it, and can be shown alone', async () => {
    const p = await open({ theme: 'dark' });
    await p.waitPosted('panel/ready');
    await p.send(INIT, { type: 'panel/prompt', info: INFO }, { type: 'panel/show', tab: 'matrix' });
    await p.page.getByRole('button', { name: 'Run matrix' }).click();
    await p.waitPosted('run/start');
    const h: RunHeader = { ...compareHeader('run-3'), mode: 'matrix', cases: INFO.cases.map((c) => ({ index: c.index, label: c.label })) };
    const polite = 'Thank you, please reply with the new address.';
    const curt = 'Reply with the new address.';
    await p.send(
      { type: 'run/start', header: h },
      { type: 'run/cell', runId: 'run-3', variant: 'base', caseIndex: 0, cell: cell(BASE_TEXT) },
      { type: 'run/cell', runId: 'run-3', variant: ADAPTER, caseIndex: 0, cell: cell(TUNED_TEXT) },
      { type: 'run/cell', runId: 'run-3', variant: 'base', caseIndex: 1, cell: cell(polite) },
      { type: 'run/cell', runId: 'run-3', variant: ADAPTER, caseIndex: 1, cell: cell(curt) },
      { type: 'run/end', runId: 'run-3', status: 'done', passRates: { base: 0.5, [ADAPTER]: 0.5 } },
    );
    const regressed = p.page.locator('table.matrix td.regressed');
    assert.equal(await regressed.count(), 1);
    assert.equal(await regressed.getAttribute('data-variant'), ADAPTER);
    assert.match(await regressed.innerText(), /polite · regression: the base passes it[\s\S]*base: Thank you, please reply/);
    assert.deepEqual(await p.page.locator('table.matrix tfoot tr.regressions td').allInnerTexts(), ['—', '1']);
    await p.page.getByLabel('Only regressions against the base').check();
    assert.deepEqual(await p.page.locator('table.matrix tbody tr:visible th').allInnerTexts(), [INFO.cases[1]!.label]);
    await p.shot('matrix-regression-dark');
  });

  it('fine-tune: launches from a recipe, lists runs, draws the live loss curve with samples, cancels and resumes', async () => {
    const p = await open({ theme: 'dark' });
    await p.waitPosted('panel/ready');
    await p.send(INIT, { type: 'panel/prompt', info: INFO }, { type: 'panel/show', tab: 'train' });
    await p.page.getByRole('button', { name: 'Fine-tune' }).click();
    assert.deepEqual(await p.waitPosted('train/start'), [{ type: 'train/start', recipe: '/ws/tone.adapter.yml' }]);
    await p.send(RUNS);
    // The live run is selected by itself, and its events asked for.
    const sel = (await p.waitPosted('train/select'))[0]!;
    assert.equal(sel.dir, RUNS.runs[0]!.dir);
    await p.send({ type: 'runs/events', dir: sel.dir, reset: true, events: STEPS.slice(0, 8) });
    const chart = p.page.locator('.chart');
    assert.equal(await chart.getAttribute('data-train'), '7');
    await p.send({ type: 'runs/events', dir: sel.dir, reset: false, events: STEPS.slice(8) });
    assert.equal(await chart.getAttribute('data-train'), '12');
    assert.equal(await chart.getAttribute('data-validation'), '2');
    assert.equal(await p.page.locator('.chart canvas').count(), 1);
    assert.match(await p.page.locator('.chart-summary').innerText(), /12 steps, training loss 0\.\d{4}; 2 evaluations, validation loss 1\.9000/);
    assert.deepEqual(await p.page.locator('pre.sample').allInnerTexts(), [' teal is a color.', ' gold gold is']);
    // A chat row's sample shows its messages, not the chat template; a row without messages its prompt.
    assert.deepEqual(await p.page.locator('.sample-prompt .sample-message').allInnerTexts(), ['SYSTEM Answer briefly.', 'USER color 3: gold?']);
    assert.equal(await p.page.locator('.samples').getByText('<|im_start|>').count(), 0);
    assert.match(await p.page.locator('.samples li').first().innerText(), /step 8 · validation row at line 31\s+color 5: teal\?/);
    assert.match(await p.page.locator('.run-status').innerText(), /running\s+step 12 of 24 · ETA 19 s/);
    await p.shot('train-dark');
    await p.page.getByRole('button', { name: 'Cancel run' }).click();
    assert.deepEqual(await p.waitPosted('train/cancel'), [{ type: 'train/cancel', dir: sel.dir }]);
    await p.page.getByRole('button', { name: `Resume ${RUNS.runs[1]!.name}` }).click();
    assert.deepEqual(await p.waitPosted('train/resume'), [{ type: 'train/resume', dir: RUNS.runs[1]!.dir }]);
    // Polling updates rows in place: the focused button keeps the focus.
    await p.page.getByRole('button', { name: `Resume ${RUNS.runs[1]!.name}` }).focus();
    await p.send({ ...RUNS, runs: [{ ...RUNS.runs[0]!, lastStep: 13, lastLoss: 0.8 }, RUNS.runs[1]!] });
    assert.equal(await p.page.evaluate("document.activeElement?.getAttribute('aria-label')"), `Resume ${RUNS.runs[1]!.name}`);
    await p.send(
      { ...RUNS, runs: [{ ...RUNS.runs[0]!, state: 'done', lastStep: 24 }, RUNS.runs[1]!] },
      { type: 'runs/events', dir: sel.dir, reset: false, events: [{ type: 'done', time: 't', step: 24 }] },
    );
    await p.page.getByText('Its adapter is listed among the variants to compare.').waitFor();
    const light = await open({ theme: 'light', width: 800 });
    await light.waitPosted('panel/ready');
    await light.send(INIT, { type: 'panel/show', tab: 'train' }, RUNS, { type: 'runs/events', dir: sel.dir, reset: true, events: STEPS });
    await light.shot('train-light');
  });

  it('where base and tuned part ways: at the first differing token, both models’ five most likely tokens with probabilities, the chosen one marked', async () => {
    for (const theme of ['light', 'dark', 'high-contrast'] as const) {
      const p = await comparePage(theme);
      await p.waitPosted('run/start');
      const h = compareHeader();
      const tok = (id: number, text: string, top: [string, number][]) => ({
        id,
        text,
        logprob: Math.log(top.find(([t]) => t === text)?.[1] ?? 0.01),
        top: top.map(([t, pr]) => ({ text: t, logprob: Math.log(pr) })),
      });
      const same1 = tok(1, 'Your', [
        ['Your', 0.9],
        ['The', 0.05],
        ['Hi', 0.02],
        ['Dear', 0.01],
        ['A', 0.01],
      ]);
      const same2 = tok(2, ' parcel', [
        [' parcel', 0.8],
        [' order', 0.1],
        [' package', 0.05],
        [' item', 0.02],
        [' box', 0.01],
      ]);
      const baseCell = {
        ...cell('Your parcel is late.'),
        tokens: [
          same1,
          same2,
          tok(3, ' is', [
            [' is', 0.6],
            [' has', 0.3],
            [' will', 0.05],
            [' was', 0.03],
            [' should', 0.01],
          ]),
          tok(4, ' late.', [
            [' late.', 0.5],
            [' here.', 0.4],
            [' lost.', 0.05],
            [' gone.', 0.03],
            [' ok.', 0.01],
          ]),
        ],
      };
      const tunedCell = {
        ...cell('Your parcel has shipped.'),
        tokens: [
          same1,
          same2,
          tok(5, ' has', [
            [' has', 0.7],
            [' is', 0.2],
            [' will', 0.05],
            [' was', 0.03],
            [' should', 0.01],
          ]),
          tok(6, ' shipped.', [
            [' shipped.', 0.9],
            [' left.', 0.05],
            [' gone.', 0.03],
            [' arrived.', 0.01],
            [' moved.', 0.01],
          ]),
        ],
      };
      await p.send(
        { type: 'run/start', header: h },
        { type: 'run/cell', runId: h.runId, variant: 'base', caseIndex: 0, cell: baseCell },
        { type: 'run/cell', runId: h.runId, variant: ADAPTER, caseIndex: 0, cell: tunedCell },
        { type: 'run/end', runId: h.runId, status: 'done', passRates: {} },
      );
      const block = p.page.locator(`article.column[data-variant="${ADAPTER}"] section.divergence`);
      await block.waitFor();
      assert.match(await block.locator('p').first().innerText(), /^Part ways at token 3, after "Your parcel":$/);
      assert.deepEqual(await block.locator('.divergence-side').first().locator('li').allInnerTexts(), [
        '" is" 60.0% ← chosen',
        '" has" 30.0%',
        '" will" 5.0%',
        '" was" 3.0%',
        '" should" 1.0%',
      ]);
      assert.deepEqual(await block.locator('.divergence-side').last().locator('li.chosen').allInnerTexts(), ['" has" 70.0% ← chosen']);
      // The base column itself shows none.
      assert.equal(await p.page.locator('article.column[data-variant="base"] section.divergence').count(), 0);
      await p.shot(`divergence-${theme}`);
    }
  });

  it('where they part ways: a chosen token that decodes alone differently ("" in the output, "�" in the list) is still marked chosen, by id', async () => {
    const p = await comparePage('dark');
    await p.waitPosted('run/start');
    const h = compareHeader();
    const alternatives = [
      { id: 7, text: '�', logprob: Math.log(0.016) },
      { id: 8, text: 'st', logprob: Math.log(0.014) },
    ];
    const baseCell = { ...cell('é'), tokens: [{ id: 7, text: '', logprob: Math.log(0.016), top: alternatives }] };
    const tunedCell = { ...cell('st'), tokens: [{ id: 8, text: 'st', logprob: Math.log(0.021), top: alternatives }] };
    await p.send(
      { type: 'run/start', header: h },
      { type: 'run/cell', runId: h.runId, variant: 'base', caseIndex: 0, cell: baseCell },
      { type: 'run/cell', runId: h.runId, variant: ADAPTER, caseIndex: 0, cell: tunedCell },
      { type: 'run/end', runId: h.runId, status: 'done', passRates: {} },
    );
    const block = p.page.locator(`article.column[data-variant="${ADAPTER}"] section.divergence`);
    await block.waitFor();
    assert.deepEqual(await block.locator('.divergence-side').first().locator('li.chosen').allInnerTexts(), ['"�" 1.6% ← chosen']);
    assert.equal(await block.getByText('outside its top').count(), 0);
  });

  it('matrix figures: label metrics for a classification, each answer’s confidence, calibration per variant, rows sorted least sure first', async () => {
    const p = await open({ theme: 'dark' });
    await p.waitPosted('panel/ready');
    await p.send(INIT, { type: 'panel/prompt', info: INFO }, { type: 'panel/show', tab: 'matrix' });
    const h: RunHeader = {
      ...compareHeader('run-7'),
      mode: 'matrix',
      task: 'classification',
      cases: [0, 1, 2, 3].map((i) => ({ index: i, label: `Case ${i + 1}`, expected: i % 2 ? 'negative' : 'positive' })),
    };
    const answer = (text: string, logprob: number, passed: boolean): CellInfo => ({ ...cell(text), tokens: [{ text, logprob }], passed, evaluations: [] });
    await p.send(
      { type: 'run/start', header: h },
      // The base says positive to everything, surely; the adapter is right but for case 4, where it is least sure.
      ...[0, 1, 2, 3].map((i) => ({ type: 'run/cell' as const, runId: 'run-7', variant: 'base', caseIndex: i, cell: answer('positive', -0.05, i % 2 === 0) })),
      { type: 'run/cell', runId: 'run-7', variant: ADAPTER, caseIndex: 0, cell: answer('positive', -0.1, true) },
      { type: 'run/cell', runId: 'run-7', variant: ADAPTER, caseIndex: 1, cell: answer('Negative.', -0.2, true) },
      { type: 'run/cell', runId: 'run-7', variant: ADAPTER, caseIndex: 2, cell: answer('positive', -0.3, true) },
      { type: 'run/cell', runId: 'run-7', variant: ADAPTER, caseIndex: 3, cell: answer('positive', -1.2, false) },
      { type: 'run/end', runId: 'run-7', status: 'done', passRates: { base: 0.5, [ADAPTER]: 0.75 } },
    );
    // Accuracy 2/4 and 3/4; macro-F1: base (0.67 + 0) / 2 = 0.33, the adapter (0.8 + 0.67) / 2 = 0.73.
    assert.deepEqual(await p.page.locator('table.matrix tfoot tr.label-accuracy td').allInnerTexts(), ['50%', '75%']);
    assert.deepEqual(await p.page.locator('table.matrix tfoot tr.label-f1 td').allInnerTexts(), ['0.33', '0.73']);
    // Confidence on passing / failing answers: e^-0.05 = 0.95 both for the base; the adapter 0.82 / 0.30.
    assert.deepEqual(await p.page.locator('table.matrix tfoot tr.confidence td').allInnerTexts(), ['0.95 / 0.95; ECE 0.45', '0.82 / 0.30; ECE 0.21']);
    assert.match(await p.page.locator(`table.matrix tbody tr[data-case="3"] td[data-variant="${ADAPTER}"]`).innerText(), /p 0\.30 \(lowest 0\.30\)/);
    // In label mode the mark reads the output as a label, as the accuracy does: "Negative." is the label negative.
    assert.match(await p.page.locator(`table.matrix tbody tr[data-case="1"] td[data-variant="${ADAPTER}"] .expected-mark`).innerText(), /✓ the expected label/);
    assert.match(await p.page.locator(`table.matrix tbody tr[data-case="3"] td[data-variant="${ADAPTER}"] .expected-mark`).innerText(), /✗ read as positive/);
    // Per label and the confusion matrices, under the table.
    await p.page.locator('details.label-details summary').click();
    assert.deepEqual(await p.page.locator('table.label-table tbody tr[data-label="negative"] td').allInnerTexts(), [
      '0.00 / 0.00 / 0.00',
      '1.00 / 0.50 / 0.67',
    ]);
    assert.deepEqual(await p.page.locator(`table.confusion[data-variant="${ADAPTER}"] tbody tr`).allInnerTexts(), ['negative\t1\t1', 'positive\t0\t2']);
    await p.page.locator('#sort-confidence').selectOption({ label: 'Least confident first: tone' });
    assert.deepEqual(await p.page.locator('table.matrix tbody tr[data-case]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-case'))), [
      '3',
      '2',
      '1',
      '0',
    ]);
    await p.shot('matrix-figures-dark');
    await p.page.locator('#sort-confidence').selectOption({ label: 'In file order' });
    assert.deepEqual(await p.page.locator('table.matrix tbody tr[data-case]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-case'))), [
      '0',
      '1',
      '2',
      '3',
    ]);
  });

  it('probes: runs the file’s probes on the selected variants, shows each swap’s figures, the flips with word diffs, and the totals against maxProbeFlips', async () => {
    for (const theme of ['light', 'dark', 'high-contrast'] as const) {
      const p = await open({ theme });
      await p.waitPosted('panel/ready');
      await p.send(INIT, { type: 'panel/prompt', info: INFO }, { type: 'panel/show', tab: 'probes' });
      assert.deepEqual(await p.page.locator('ul.probe-list li').allInnerTexts(), [
        'names — variable customer: Ada | Grace | Wei (reference Ada)',
        'pronouns — words (pronouns): he | she | they (reference he)',
      ]);
      await p.page.getByRole('button', { name: 'Run probes' }).click();
      const [req] = await p.waitPosted('probes/run');
      assert.deepEqual(req, { type: 'probes/run', file: FILE, model: '/ws/llama', variants: ['base', ADAPTER] });
      await p.send(
        {
          type: 'probes/start',
          file: FILE,
          fileLabel: 'support.prompt.yml',
          modelLabel: 'llama',
          variants: [
            { id: 'base', name: 'base' },
            { id: ADAPTER, name: 'tone' },
          ],
        },
        { type: 'probes/progress', message: 'tone: 10 of 12 runs' },
      );
      await p.page.getByText('tone: 10 of 12 runs').waitFor();
      assert.equal(await p.page.getByRole('button', { name: 'Run probes' }).isDisabled(), true, 'one run at a time');
      await p.send({ type: 'probes/end', status: 'done', report: PROBES_REPORT, limits: { base: 0, tone: 0 } });
      const names = p.page.locator('section.probe[data-probe="names"]');
      assert.deepEqual(await names.locator('tbody tr').first().locator('td').allInnerTexts(), [
        '0 flips\n0/2 changed · Δ log p −0.02 · divergence 0.00',
        '1 flip (1 new)\n1/2 changed · Δ log p −1.84 · divergence 0.60',
      ]);
      assert.equal(await names.locator('td.fail').count(), 1);
      assert.match(await names.locator('li.probe-flip').innerText(), /tone case 1, Ada → Grace: "polite" pass → fail\s*new against base/);
      // The reference's words struck out, the swapped output's inserted.
      assert.deepEqual(await names.locator('li.probe-flip del').allInnerTexts(), ['Your', 'parcel is on its way, Ada']);
      assert.deepEqual(await names.locator('li.probe-flip ins').allInnerTexts(), ['Parcel', 'shipped']);
      assert.deepEqual(await p.page.locator('ul.probe-totals li').allInnerTexts(), [
        'base: 0 flips over all probes (allowed 0)',
        'tone: 1 flip over all probes, 1 new against base (allowed 0) over maxProbeFlips',
      ]);
      const overflow = (await p.page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
      assert.ok(overflow <= 0, `${theme}: the page is ${overflow} px wider than 800 px`);
      await p.shot(`probes-${theme}`);
      await p.page.getByRole('button', { name: 'Run probes' }).waitFor();
      assert.equal(await p.page.getByRole('button', { name: 'Stop' }).first().isDisabled(), true);
    }
  });

  it('probes: a file without probes says how to add them', async () => {
    const p = await open({ theme: 'dark' });
    await p.waitPosted('panel/ready');
    await p.send(INIT, { type: 'panel/prompt', info: { ...INFO, probes: [] } }, { type: 'panel/show', tab: 'probes' });
    await p.page.getByText('This prompt file has no probes.').waitFor();
    assert.equal(await p.page.getByRole('button', { name: 'Run probes' }).count(), 0);
  });

  it('history: asks for the file’s history when the tab is shown, plots each variant’s pass rate over the recorded runs, lists them newest first', async () => {
    for (const theme of ['light', 'dark', 'high-contrast'] as const) {
      const p = await open({ theme });
      await p.waitPosted('panel/ready');
      await p.send(INIT, { type: 'panel/prompt', info: INFO });
      await p.page.getByRole('tab', { name: 'History' }).click();
      assert.deepEqual(await p.waitPosted('history/load'), [{ type: 'history/load', file: FILE }]);
      await p.send(HISTORY);
      const chart = p.page.locator('.history-chart');
      await chart.locator('canvas').waitFor();
      assert.deepEqual([await chart.getAttribute('data-points'), await chart.getAttribute('data-series')], ['3', '2']);
      assert.equal(await chart.locator('.chart-box').getAttribute('aria-label'), 'Pass rates over 3 recorded runs; latest: base 50%, tone 100%');
      assert.deepEqual(await p.page.locator('.u-legend .u-series th').allInnerTexts(), ['run', 'base', 'tone']);
      // The probe run is a row of the table (newest first), not a point of the plot.
      assert.deepEqual(await p.page.locator('table.history-table tbody tr').first().locator('td').allInnerTexts(), [
        '4 (probes)',
        '2026-12-02 10:00:00',
        'c3d4e5f6',
        '0 probe flips',
        '2 probe flips',
        '1',
      ]);
      assert.deepEqual(await p.page.locator('table.history-table tbody tr').nth(1).locator('td').allInnerTexts(), [
        '3',
        '2026-12-01 10:00:00',
        'c3d4e5f6 (changed)',
        '50%',
        '100%',
        '0',
      ]);
      assert.match(await p.page.locator('table.history-table tbody tr').last().innerText(), /a1b2c3d4.*75%|a1b2c3d4.*50%, 1 regression/);
      await p.page.getByText('1 line of support.history.jsonl could not be read').waitFor();
      await p.shot(`history-${theme}`);
    }
  });

  it('history: none recorded yet says how to record', async () => {
    const p = await open({ theme: 'light' });
    await p.waitPosted('panel/ready');
    await p.send(INIT, { type: 'panel/prompt', info: INFO }, { type: 'panel/show', tab: 'history' });
    await p.waitPosted('history/load');
    await p.send({ type: 'history/data', file: FILE, historyLabel: 'support.history.jsonl', points: [], unreadable: 0 });
    await p.page.getByText('No recorded runs in support.history.jsonl yet.').waitFor();
  });

  it('is keyboard reachable: tabs with the arrow keys, every control focusable', async () => {
    const p = await open();
    await p.waitPosted('panel/ready');
    await p.send(INIT, { type: 'panel/prompt', info: INFO });
    await p.page.getByRole('tab', { name: 'Run & compare' }).focus();
    await p.page.keyboard.press('ArrowRight');
    assert.equal(await p.page.getByRole('tab', { name: 'Matrix' }).getAttribute('aria-selected'), 'true');
    await p.page.keyboard.press('ArrowRight');
    assert.equal(await p.page.getByRole('tab', { name: 'Probes' }).getAttribute('aria-selected'), 'true');
    await p.page.keyboard.press('End');
    assert.equal(await p.page.getByRole('tab', { name: 'Distill' }).getAttribute('aria-selected'), 'true');
    await p.page.keyboard.press('ArrowLeft');
    assert.equal(await p.page.getByRole('tab', { name: 'Fine-tune' }).getAttribute('aria-selected'), 'true');
    await p.page.keyboard.press('ArrowLeft');
    assert.equal(await p.page.getByRole('tab', { name: 'History' }).getAttribute('aria-selected'), 'true');
    await p.page.keyboard.press('Home');
    assert.equal(await p.page.getByRole('tab', { name: 'Run & compare' }).getAttribute('aria-selected'), 'true');
    // Tabbing from the tab list reaches the Run button.
    const reached: string[] = [];
    for (let i = 0; i < 30; i++) {
      await p.page.keyboard.press('Tab');
      reached.push((await p.page.evaluate("document.activeElement?.id || document.activeElement?.textContent?.trim() || ''")) as string);
      if (reached.at(-1) === 'run') break;
    }
    assert.equal(reached.at(-1), 'run', reached.join(' → '));
    assert.ok(reached.includes('prompt-file') && reached.includes('model') && reached.includes('case'), reached.join(' → '));
    await p.page.keyboard.press('Enter');
    await p.waitPosted('run/start');
    // A focused element shows the theme's focus border.
    const outline = await p.page.evaluate('getComputedStyle(document.activeElement).outlineColor');
    assert.equal(outline, 'rgb(0, 120, 212)');
  });

  it('a CodeLens on test case 2 (or the cursor in it): compare runs case 2, and the case picker shows it', async () => {
    const p = await open();
    await p.waitPosted('panel/ready');
    await p.send(INIT, { type: 'panel/prompt', info: INFO, autorun: 'compare', caseIndex: 1 });
    const run = (await p.waitPosted('run/start'))[0]!;
    assert.deepEqual(run.cases, [1]);
    assert.equal(await p.page.locator('select#case').inputValue(), '1');
    // Later, the same file without a case: the page keeps its choice.
    await p.send({ type: 'panel/prompt', info: INFO });
    assert.equal(await p.page.locator('select#case').inputValue(), '1');
  });

  it('an untrusted workspace: a banner, and nothing to run', async () => {
    const p = await open({ theme: 'light' });
    await p.waitPosted('panel/ready');
    await p.send({ ...INIT, trusted: false }, { type: 'panel/prompt', info: INFO, autorun: 'run' });
    await p.page.getByText('This workspace is not trusted').waitFor();
    assert.equal(await p.page.getByRole('button', { name: 'Run', exact: true }).isDisabled(), true);
    assert.equal((await p.postedOf('run/start')).length, 0, 'no autorun');
    await p.page.getByRole('tab', { name: 'Fine-tune' }).click();
    assert.equal(await p.page.getByRole('button', { name: 'Fine-tune' }).isDisabled(), true);
    await p.shot('untrusted-light');
    // The banner opens VS Code's trust editor.
    await p.page.getByRole('button', { name: 'Manage Workspace Trust' }).click();
    assert.deepEqual(await p.waitPosted('panel/manageTrust'), [{ type: 'panel/manageTrust' }]);
  });

  it('the runs table keeps each run name and "step / total" whole on a wide panel (two columns)', async () => {
    const p = await open({ theme: 'light', width: 1000 });
    await p.waitPosted('panel/ready');
    await p.send(INIT, { type: 'panel/prompt', info: INFO }, { type: 'panel/show', tab: 'train' });
    await p.send({ ...RUNS, runs: RUNS.runs.map((r) => ({ ...r, lastStep: 1200, totalSteps: 1200 })) });
    await p.page.locator('.runs-table .run-name').first().waitFor();
    // How many lines each text node of a cell is drawn on: a word broken inside shows as two.
    const lines = (selector: string) =>
      p.page.locator(selector).evaluateAll((cells) =>
        cells.flatMap((cell) => {
          const out: [string, number][] = [];
          const walk = cell.ownerDocument.createTreeWalker(cell, 4);
          for (let n = walk.nextNode(); n; n = walk.nextNode()) {
            const range = cell.ownerDocument.createRange();
            range.selectNodeContents(n);
            const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
            out.push([n.textContent ?? '', tops.size]);
          }
          return out;
        }),
      );
    for (const [text, n] of [...(await lines('.runs-table .run-name')), ...(await lines('.runs-table td.step'))])
      assert.equal(n, 1, `"${text}" drawn on ${n} lines`);
    await p.shot('train-runs-wide-light');
  });

  it('drops messages that fail validation and keeps working', async () => {
    const p = await open();
    await p.waitPosted('panel/ready');
    await p.send(INIT, { type: 'panel/prompt', info: INFO });
    const warnings: string[] = [];
    p.page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
    await p.send(
      { type: 'run/start', header: { runId: 1 } },
      { type: 'panel/prompt', info: { ...INFO, variants: 'all' } },
      { type: 'eval', code: 'alert(1)' },
      { type: 'run/cell', runId: 'x', variant: 'base', caseIndex: -1, cell: {} },
    );
    assert.equal(warnings.filter((w) => /ignored an invalid message/.test(w)).length, 4);
    assert.equal(await p.page.locator('.column').count(), 0);
    assert.equal(await p.page.getByLabel('Test case').isVisible(), true);
  });

  it('distill: the recipe’s rows previewed (the dataset opens to edit), then student against teacher with word diffs and the input-token saving', async () => {
    const RECIPE = '/ws/json.adapter.yml';
    const side = (name: string, outputs: string[], passed: boolean[], tokens: number, agreement?: boolean) => ({
      name,
      passRate: passed.filter(Boolean).length / passed.length,
      passed: passed.filter(Boolean).length,
      cases: passed.length,
      meanPromptTokens: tokens,
      meanSeconds: tokens / 4000,
      ...(agreement ? { agreement: { exact: 0.5, passedWhereTeacherPassed: 1, teacherPassed: 1 } } : {}),
      outputs,
      casePassed: passed,
    });
    for (const theme of ['light', 'dark', 'high-contrast'] as const) {
      const p = await open({ theme });
      await p.waitPosted('panel/ready');
      await p.send({ ...INIT, recipes: [...(INIT as { recipes: object[] }).recipes, { file: RECIPE, label: 'json.adapter.yml', distill: true }] } as ToPanel, {
        type: 'panel/show',
        tab: 'distill',
      });
      // Only distillation recipes are offered.
      assert.deepEqual(await p.page.locator('#distill-recipe option').allInnerTexts(), ['json.adapter.yml']);
      await p.page.getByRole('button', { name: 'Distill and train' }).click();
      assert.deepEqual(await p.waitPosted('distill/run'), [{ type: 'distill/run', recipe: RECIPE }]);
      await p.send({ type: 'distill/progress', message: 'teacher: 120/238 answers' });
      assert.equal(await p.page.locator('#distill-status').innerText(), 'teacher: 120/238 answers');
      assert.equal(await p.page.getByRole('button', { name: 'Distill and train' }).isDisabled(), true);
      await p.send(
        {
          type: 'distill/data',
          recipe: RECIPE,
          dataset: '/ws/data/json.distilled.jsonl',
          datasetLabel: 'data/json.distilled.jsonl',
          rows: [
            { input: '3 plus 7 equals what?', answer: '{"answer": "10"}' },
            { input: 'Big is the opposite of what?', answer: '{"answer": "thick"}' },
          ],
          total: 238,
          generated: 118,
          cached: 120,
        },
        { type: 'distill/end', status: 'done' },
      );
      assert.match(
        await p.page.locator('.distill-rows h3').innerText(),
        /Rows: 238 in data\/json\.distilled\.jsonl \(118 answers generated, 120 from the cache\)/,
      );
      assert.deepEqual(await p.page.locator('.distill-rows tbody td').allInnerTexts(), [
        '3 plus 7 equals what?',
        '{"answer": "10"}',
        'Big is the opposite of what?',
        '{"answer": "thick"}',
      ]);
      await p.page.getByRole('button', { name: 'Open to edit' }).click();
      assert.deepEqual(await p.waitPosted('panel/openFile'), [{ type: 'panel/openFile', file: '/ws/data/json.distilled.jsonl' }]);
      await p.page.getByRole('button', { name: 'Compare with the teacher' }).click();
      assert.deepEqual(await p.waitPosted('distill/compare'), [{ type: 'distill/compare', recipe: RECIPE }]);
      await p.send(
        {
          type: 'distill/report',
          recipe: RECIPE,
          adapterLabel: '.tuneloop/runs/20261207T190159Z-json/adapter',
          cases: ['Could you tell me the colour of snow?', 'What is the name of the capital of Wales?'],
          teacher: side('teacher', ['{"answer": "white"}', '{"answer": "bark"}'], [true, false], 316.6),
          student: side('student', ['{"answer": "white"}', '{"answer": "grey"}'], [true, false], 36.6, true),
          inputTokenSaving: 1 - 36.6 / 316.6,
        },
        { type: 'distill/end', status: 'done' },
      );
      assert.equal(await p.page.locator('.distill-saving').innerText(), 'Input tokens per call fall by 88.4%.');
      assert.match(
        await p.page.locator('.distill-figures li').last().innerText(),
        /student 50\.0% \(1\/2\) · 36\.6 input tokens per call · 9 ms per case · passes 100\.0% of the 1 the teacher passes/,
      );
      const rows = p.page.locator('.distill-report tbody tr');
      assert.equal(await rows.count(), 2);
      // The differing answer: the student's word diff against the teacher's.
      assert.deepEqual(await rows.nth(1).locator('del.removed').allInnerTexts(), ['bark']);
      assert.deepEqual(await rows.nth(1).locator('ins.added').allInnerTexts(), ['grey']);
      assert.equal(await rows.nth(0).locator('ins, del').count(), 0);
      await p.shot(`distill-${theme}`);
    }
  });

  it('distill: without a distillation recipe the tab says how to write one', async () => {
    const p = await open({ theme: 'dark' });
    await p.waitPosted('panel/ready');
    await p.send(INIT, { type: 'panel/show', tab: 'distill' });
    await p.page.getByText('No distillation recipe in this workspace').waitFor();
    assert.match(await p.page.locator('.distill pre.snippet').innerText(), /teacher:\n {2}prompt: long\.prompt\.yml/);
    // From the selected prompt file: the extension writes a starter recipe, then selects it here.
    await p.page.getByRole('button', { name: 'New distillation recipe from support.prompt.yml' }).click();
    assert.deepEqual(await p.waitPosted('distill/new'), [{ type: 'distill/new', file: FILE }]);
    await p.send(
      {
        ...INIT,
        recipes: [
          { file: '/ws/a.adapter.yml', label: 'a.adapter.yml', distill: true },
          { file: '/ws/support-distilled.adapter.yml', label: 'support-distilled.adapter.yml', distill: true },
        ],
      } as ToPanel,
      { type: 'distill/select', recipe: '/ws/support-distilled.adapter.yml' },
    );
    assert.equal(await p.page.locator('#distill-recipe').inputValue(), '/ws/support-distilled.adapter.yml');
  });

  it('keeps the Home view working', async () => {
    const p = await open({ view: 'home', theme: 'dark', width: 320 });
    await p.waitPosted('ready');
    await p.send({ type: 'state', version: '0.1.0', trusted: true, hasWorkspace: true, promptFiles: 3, adapterRecipes: 1 });
    await p.page.getByText('This workspace has 3 prompt files and 1 adapter recipe.').waitFor();
    await p.page.getByRole('button', { name: 'Open the panel' }).click();
    assert.deepEqual(await p.waitPosted('runCommand'), [{ type: 'runCommand', command: 'tuneloop.openPanel' }]);
    // The counts are links to pick one of those files.
    await p.page.getByRole('link', { name: '3 prompt files' }).click();
    assert.deepEqual(await p.waitPosted('showFiles'), [{ type: 'showFiles', kind: 'prompt' }]);
    // In a short view (it shares the side bar with Runs) the buttons come before the text that may be cut.
    await p.page.setViewportSize({ width: 320, height: 200 });
    const log = await p.page.getByRole('button', { name: 'Show log' }).boundingBox();
    assert.ok(log && log.y + log.height <= 200, `Show log ends at ${log && log.y + log.height} px, below a 200 px view`);
    await p.shot('home-dark');
    await p.send({ type: 'state', version: '0.1.0', trusted: true, hasWorkspace: true, promptFiles: 0, adapterRecipes: 1 });
    await p.page.getByText('This workspace has 0 prompt files and 1 adapter recipe.').waitFor();
    assert.equal(await p.page.getByRole('link').count(), 1, 'no link for a count of none');
  });
});
