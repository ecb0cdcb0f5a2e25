import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FromPanel, GenerationOverrides, type RunHeader, ToPanel } from '../../src/extension/panel/protocol';
import { contentSecurityPolicy, shellHtml } from '../../src/extension/webview/shell';
import { ROOT } from '../helpers';

const HEADER: RunHeader = {
  runId: 'run-1',
  mode: 'matrix',
  file: '/w/a.prompt.yml',
  fileLabel: 'a.prompt.yml',
  modelLabel: 'm',
  variants: [{ id: 'base', name: 'base', kind: 'base', minPassRate: 1, dtype: 'q4' }],
  dtypeFrom: 'prompt',
  cases: [{ index: 0, label: 'Case 1' }],
  hasSnapshot: false,
};

describe('panel: the extension ⇄ webview protocol and the page shell', () => {
  it('accepts the panel messages each side sends', () => {
    const ok = (schema: typeof FromPanel | typeof ToPanel, m: unknown) => assert.ok(schema.safeParse(m).success, JSON.stringify(m));
    ok(FromPanel, { type: 'panel/ready' });
    ok(FromPanel, {
      type: 'run/start',
      mode: 'compare',
      file: '/w/a.prompt.yml',
      model: '/m',
      variants: ['base'],
      cases: [0],
      params: { maxTokens: 16, stop: ['\n'] },
    });
    ok(FromPanel, { type: 'run/start', mode: 'compare', file: '/w/a.prompt.yml', model: '/m', variants: ['base'], values: { name: 'Ada' }, params: {} });
    ok(FromPanel, { type: 'run/openDiff', runId: 'run-1', left: { variant: 'base', caseIndex: 0 }, right: { variant: 'x', caseIndex: 0 } });
    ok(FromPanel, { type: 'train/start', recipe: '/w/r.adapter.yml' });
    ok(ToPanel, { type: 'run/start', header: HEADER });
    ok(ToPanel, { type: 'run/tokens', runId: 'run-1', variant: 'base', caseIndex: 0, tokens: [{ text: 'hi', logprob: -0.1 }] });
    ok(ToPanel, {
      type: 'runs/events',
      dir: '/w/r',
      reset: true,
      events: [{ type: 'step', time: 't', step: 1, loss: 2, lr: 0.1, tokensPerSecond: 5, etaSeconds: 3 }],
    });
  });

  it('refuses what does not fit: unknown types, bad ranges, unknown settings, missing fields', () => {
    const bad = (schema: typeof FromPanel | typeof ToPanel | typeof GenerationOverrides, m: unknown) =>
      assert.equal(schema.safeParse(m).success, false, JSON.stringify(m));
    bad(FromPanel, { type: 'run/start', mode: 'compare', file: '/w/a.prompt.yml', model: '/m', variants: [], params: {} });
    bad(FromPanel, { type: 'run/start', mode: 'eval', file: '/w/a.prompt.yml', model: '/m', variants: ['base'], params: {} });
    bad(FromPanel, { type: 'panel/openFile' });
    bad(FromPanel, { type: 'exec', command: 'rm' });
    bad(GenerationOverrides, { temperature: 3 });
    bad(GenerationOverrides, { topP: 0 });
    bad(GenerationOverrides, { maxTokens: 1.5 });
    bad(GenerationOverrides, { shell: 'x' });
    bad(ToPanel, { type: 'run/cell', runId: 'r', variant: 'v', caseIndex: 0, cell: { text: 'x' } });
    bad(ToPanel, { type: 'runs/events', dir: '/r', reset: false, events: [{ type: 'step', step: 1 }] });
    bad(ToPanel, { type: 'panel/notice', level: 'fatal', message: 'x' });
    // Each variant says which dtype it ran in: one of the exporter's, and not left out.
    const variant = HEADER.variants[0]!;
    bad(ToPanel, { type: 'run/start', header: { ...HEADER, variants: [{ ...variant, dtype: 'int4' }] } });
    const { dtype: _dtype, ...untagged } = variant;
    bad(ToPanel, { type: 'run/start', header: { ...HEADER, variants: [untagged] } });
    bad(ToPanel, { type: 'run/start', header: { ...HEADER, dtypeFrom: 'env' } });
  });

  it('the page shell: a strict CSP with a nonce, no inline script or data, the app named by a constant attribute', () => {
    const html = shellHtml({
      cspSource: 'https://res.vscode',
      nonce: 'abc+/=',
      script: 'https://res.vscode/dist/webview.js',
      styles: ['https://res.vscode/media/main.css'],
      title: 'T<x>',
      kind: 'panel',
    });
    assert.equal(
      contentSecurityPolicy('https://res.vscode', 'n'),
      "default-src 'none'; style-src https://res.vscode; font-src https://res.vscode; img-src https://res.vscode; script-src 'nonce-n'",
    );
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; .*script-src &#39;nonce-abc\+\/=&#39;">/);
    assert.equal(html.match(/<script/g)?.length, 1);
    assert.match(html, /<script nonce="abc\+\/=" src="https:\/\/res\.vscode\/dist\/webview\.js"><\/script>/);
    assert.match(html, /<main id="app" data-view="panel"><\/main>/);
    assert.match(html, /<title>T&lt;x&gt;<\/title>/);
    assert.doesNotMatch(html, /\sstyle=|\son\w+=/);
  });

  it("media/uplot.css is the installed uPlot's stylesheet", () => {
    const copy = fs.readFileSync(path.join(ROOT, 'media', 'uplot.css'), 'utf8');
    const installed = fs.readFileSync(path.join(ROOT, 'node_modules', 'uplot', 'dist', 'uPlot.min.css'), 'utf8');
    assert.equal(copy.slice(copy.indexOf('\n') + 1), installed, 'copy node_modules/uplot/dist/uPlot.min.css to media/uplot.css again (keep the header line)');
    const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', 'uplot', 'package.json'), 'utf8')) as { version: string }).version;
    assert.ok(copy.startsWith(`/* uPlot ${version}'s stylesheet`), 'the header names the installed version');
  });
});
