import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';

const EXTENSION_ID = 'tuneloop.tuneloop';

describe('Tuneloop in the extension host', () => {
  it('activates in a workspace holding a prompt file', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, 'extension is installed');
    const api = (await ext.activate()) as { commands: string[] };
    assert.ok(ext.isActive);
    const pkg = ext.packageJSON as { contributes: { commands: { command: string }[] } };
    assert.deepEqual([...api.commands].sort(), pkg.contributes.commands.map((c) => c.command).sort());
  });

  it('registers every declared command', async () => {
    const all = new Set(await vscode.commands.getCommands(true));
    const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as { contributes: { commands: { command: string }[] } };
    for (const { command } of pkg.contributes.commands) assert.ok(all.has(command), command);
  });

  it('gives prompt files their language', async () => {
    const [file] = await vscode.workspace.findFiles('sample.prompt.yml');
    assert.ok(file);
    const doc = await vscode.workspace.openTextDocument(file);
    assert.equal(doc.languageId, 'tuneloop-prompt');
  });

  it('describes a model folder through the worker process', async () => {
    const dir = vscode.Uri.file(path.join(process.env.TUNELOOP_FIXTURES!, 'golden', 'llama'));
    const d = await vscode.commands.executeCommand<{ architecture: string; parameters: number } | undefined>('tuneloop.describeModel', dir);
    assert.equal(d?.architecture, 'LlamaForCausalLM');
    assert.equal(d?.parameters, 158016);
  });
});
