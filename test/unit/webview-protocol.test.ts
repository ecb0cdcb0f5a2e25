import * as assert from 'node:assert/strict';
import { FromWebview, ToWebview, WEBVIEW_COMMANDS } from '../../src/extension/webview/protocol';

describe('extension ⇄ webview protocol', () => {
  it('accepts the messages each side sends', () => {
    assert.ok(FromWebview.safeParse({ type: 'ready' }).success);
    for (const command of WEBVIEW_COMMANDS) assert.ok(FromWebview.safeParse({ type: 'runCommand', command }).success);
    assert.ok(ToWebview.safeParse({ type: 'state', version: '1', trusted: true, hasWorkspace: true, promptFiles: 2, adapterRecipes: 0 }).success);
  });

  it('refuses commands outside the allow-list and malformed state', () => {
    assert.equal(FromWebview.safeParse({ type: 'runCommand', command: 'workbench.action.terminal.new' }).success, false);
    assert.equal(FromWebview.safeParse({ type: 'eval', code: '1' }).success, false);
    assert.equal(ToWebview.safeParse({ type: 'state', version: '1', trusted: 'yes', hasWorkspace: true, promptFiles: 2, adapterRecipes: 0 }).success, false);
    assert.equal(ToWebview.safeParse({ type: 'state', version: '1', trusted: true, hasWorkspace: true, promptFiles: -1, adapterRecipes: 0 }).success, false);
  });
});
