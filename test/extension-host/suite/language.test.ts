import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

/**
 * Language features for prompt files and adapter recipes in a real extension host, through the
 * same commands the editor uses (vscode.execute*Provider). The workspace is a copy of
 * test/fixtures/examples/github with sample.prompt.yml (see ../run.ts).
 */
const EXTENSION_ID = 'tuneloop.tuneloop';

async function until<T>(what: string, ms: number, probe: () => T | undefined): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The position `delta` characters into the first occurrence of `needle`. */
function positionOf(doc: vscode.TextDocument, needle: string, delta = 0): vscode.Position {
  const at = doc.getText().indexOf(needle);
  assert.ok(at >= 0, `"${needle}" is in ${doc.uri.fsPath}`);
  return doc.positionAt(at + delta);
}

function label(item: vscode.CompletionItem): string {
  return typeof item.label === 'string' ? item.label : item.label.label;
}

function markdownOf(hovers: readonly vscode.Hover[]): string {
  return hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
}

async function open(name: string, text: string): Promise<vscode.TextDocument> {
  const dir = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  const doc = await vscode.workspace.openTextDocument(file);
  await vscode.window.showTextDocument(doc);
  return doc;
}

const BROKEN = `name: broken
messages:
  - role: bot
    content: Hello {{name}}
testData:
  - name: Ada
  - name: Grace
`;

describe('prompt file language features', () => {
  before(async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)!.activate();
  });

  it('diagnoses a broken prompt file as it is opened, and again as it is fixed', async () => {
    const doc = await open('broken.prompt.yml', BROKEN);
    assert.equal(doc.languageId, 'tuneloop-prompt');
    const ds = await until('diagnostics', 10_000, () => {
      const d = vscode.languages.getDiagnostics(doc.uri);
      return d.length > 0 ? d : undefined;
    });
    const role = ds.find((d) => d.code === 'unknown-role');
    assert.ok(role, JSON.stringify(ds));
    assert.equal(role.source, 'tuneloop');
    assert.equal(role.severity, vscode.DiagnosticSeverity.Error);
    assert.equal(doc.getText(role.range), 'bot');
    assert.match(role.message, /did you mean "assistant"/);

    const edit = new vscode.WorkspaceEdit();
    edit.replace(doc.uri, new vscode.Range(positionOf(doc, 'bot'), positionOf(doc, 'bot', 3)), 'user');
    assert.ok(await vscode.workspace.applyEdit(edit));
    await until('the diagnostic to clear after the edit', 10_000, () =>
      vscode.languages.getDiagnostics(doc.uri).some((d) => d.code === 'unknown-role') ? undefined : true,
    );
  });

  it('completes test variables inside {{ }}', async () => {
    const doc = await open('complete.prompt.yml', BROKEN.replace('Hello {{name}}', 'Hello {{}}'));
    const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', doc.uri, positionOf(doc, '{{}}', 2), '{');
    const name = list.items.find((i) => label(i) === 'name');
    assert.ok(name, list.items.map(label).join(', '));
    assert.equal(name.kind, vscode.CompletionItemKind.Variable);
    assert.equal(name.detail, 'given by all 2 test cases');
  });

  it('completes keys with their documentation, and role values', async () => {
    const doc = await open('keys.prompt.yml', 'modelParameters:\n  \nmessages:\n  - role: \n');
    const keys = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', doc.uri, new vscode.Position(1, 2));
    const temperature = keys.items.find((i) => label(i) === 'temperature');
    assert.ok(temperature, keys.items.map(label).join(', '));
    assert.equal(temperature.kind, vscode.CompletionItemKind.Property);
    const roles = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', doc.uri, new vscode.Position(3, 10), ' ');
    for (const r of ['system', 'user', 'assistant'])
      assert.ok(
        roles.items.some((i) => label(i) === r),
        r,
      );
  });

  it('hovers a placeholder with its value in each test case', async () => {
    const [file] = await vscode.workspace.findFiles('sample.prompt.yml');
    const doc = await vscode.workspace.openTextDocument(file!);
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, positionOf(doc, '{{input}}', 3));
    const md = markdownOf(hovers);
    assert.match(md, /Given by all 2 test cases/);
    assert.match(md, /hello world/);
    assert.match(md, /goodbye world/);
  });

  it('puts Run, Compare and Preview lenses above the prompt, with the document as argument', async () => {
    const [file] = await vscode.workspace.findFiles('sample.prompt.yml');
    const doc = await vscode.workspace.openTextDocument(file!);
    const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri);
    assert.deepEqual(
      lenses.map((l) => l.command?.command),
      ['tuneloop.runPrompt', 'tuneloop.comparePrompt', 'tuneloop.previewPrompt'],
    );
    for (const l of lenses) {
      assert.equal(l.range.start.line, 0);
      assert.equal((l.command!.arguments![0] as vscode.Uri).toString(), doc.uri.toString());
    }
  });

  it('previews the rendered prompt: messages only without a model, the template text and token count with one', async () => {
    const [file] = await vscode.workspace.findFiles('sample.prompt.yml');
    const config = vscode.workspace.getConfiguration('tuneloop');
    const plain = await vscode.commands.executeCommand<{ uri: string; text: string }>('tuneloop.previewPrompt', file);
    assert.match(plain.text, /No model is configured/);
    assert.match(plain.text, /Please respond to this message appropriately: hello world/);
    await config.update('defaultModel', path.join(process.env['TUNELOOP_FIXTURES']!, 'golden', 'llama'), vscode.ConfigurationTarget.Global);
    try {
      const withModel = await vscode.commands.executeCommand<{ uri: string; text: string }>('tuneloop.previewPrompt', file);
      assert.match(withModel.text, /## Test case 1 of 2 \(line \d+\) · \d+ tokens/);
      assert.match(withModel.text, /<\|im_start\|>user\nPlease respond to this message appropriately: hello world<\|im_end\|>/);
    } finally {
      await config.update('defaultModel', undefined, vscode.ConfigurationTarget.Global);
    }
  });
});

describe('adapter recipe language features', () => {
  it('diagnoses, completes values and offers Fine-tune', async () => {
    const doc = await open('tone.adapter.yml', 'base_model: HuggingFaceTB/SmolLM2-135M\ndataset:\n  path: train.jsonl\nmethod: lorra\n');
    assert.equal(doc.languageId, 'tuneloop-adapter');
    const ds = await until('recipe diagnostics', 10_000, () => {
      const d = vscode.languages.getDiagnostics(doc.uri);
      return d.length >= 2 ? d : undefined;
    });
    assert.ok(ds.some((d) => d.code === 'unknown-value' && doc.getText(d.range) === 'lorra'));
    assert.ok(ds.some((d) => d.code === 'file' && /dataset "train.jsonl" not found/.test(d.message)));
    const values = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', doc.uri, positionOf(doc, 'lorra'));
    assert.deepEqual(values.items.filter((i) => i.kind === vscode.CompletionItemKind.EnumMember).map(label), ['lora', 'full']);
    const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri);
    assert.deepEqual(
      lenses.map((l) => l.command?.command),
      ['tuneloop.trainAdapter'],
    );
  });
});
