import * as assert from 'node:assert/strict';
import { FromHome, HOME_COMMANDS, ToHome } from '../../src/extension/webview/home-protocol';

describe('extension ⇄ Home view protocol', () => {
  it('accepts the messages each side sends', () => {
    assert.ok(FromHome.safeParse({ type: 'ready' }).success);
    for (const command of HOME_COMMANDS) assert.ok(FromHome.safeParse({ type: 'runCommand', command }).success);
    assert.ok(ToHome.safeParse({ type: 'state', version: '1', trusted: true, hasWorkspace: true, promptFiles: 2, adapterRecipes: 0 }).success);
  });

  it('refuses commands outside the allow-list and malformed state', () => {
    assert.equal(FromHome.safeParse({ type: 'runCommand', command: 'workbench.action.terminal.new' }).success, false);
    assert.equal(FromHome.safeParse({ type: 'eval', code: '1' }).success, false);
    assert.equal(ToHome.safeParse({ type: 'state', version: '1', trusted: 'yes', hasWorkspace: true, promptFiles: 2, adapterRecipes: 0 }).success, false);
    assert.equal(ToHome.safeParse({ type: 'state', version: '1', trusted: true, hasWorkspace: true, promptFiles: -1, adapterRecipes: 0 }).success, false);
  });
});
