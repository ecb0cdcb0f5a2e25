import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadTokenizer } from '../../src/core/infer/tokenizer';
import { formatPreview, previewCases } from '../../src/core/prompts/preview';
import { resolvePreviewModel } from '../../src/core/prompts/preview-model';
import { parsePrompt } from '../../src/core/prompts/parse';
import { renderForModel } from '../../src/core/prompts/render';
import { WorkerClient, WorkerError } from '../../src/worker/client';
import { GOLDEN, ROOT, tempDir } from '../helpers';

/**
 * The preview's chat-template half runs in the worker process (the extension host never loads
 * transformers.js): the same text and token count as rendering in-process.
 */
describe('rendered-prompt preview through the worker', function () {
  this.timeout(60_000);
  let client: WorkerClient;
  before(() => {
    client = new WorkerClient({ entry: path.join(ROOT, 'dist', 'worker.js') });
  });
  after(() => client.dispose());

  const PROMPT =
    'model: ../llama\nmessages:\n  - role: system\n    content: Be brief.\n  - role: user\n    content: "Say {{word}}"\ntestData:\n  - word: hello\n  - word: ""\n';

  it("renders every case through the model's chat template, as renderForModel does", async () => {
    const prompt = parsePrompt(PROMPT).prompt!;
    const conversations = previewCases(prompt).map((c) => c.messages);
    const dir = path.join(GOLDEN, 'llama');
    const r = await client.request('renderPrompt', { model: dir, conversations });
    assert.equal(r.template, 'model');
    const tokenizer = await loadTokenizer(dir);
    prompt.testData!.forEach((t, i) => {
      const expected = renderForModel(prompt, t.values, tokenizer);
      assert.deepEqual(r.cases[i], { text: expected.text, tokenCount: expected.tokenCount });
    });
    assert.match((r.cases[0] as { text: string }).text, /<\|im_start\|>user\nSay hello<\|im_end\|>\n<\|im_start\|>assistant\n$/);
  });

  it('falls back to plain text for a tokenizer without a chat template (a base model)', async () => {
    const dir = tempDir();
    fs.copyFileSync(path.join(GOLDEN, 'gpt2', 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    const config = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'gpt2', 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    delete config['chat_template'];
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
    const r = await client.request('renderPrompt', { model: dir, conversations: [[{ role: 'user', content: 'Hello there' }]] });
    assert.equal(r.template, 'plain');
    const ids = (await loadTokenizer(dir)).encode('Hello there', { add_special_tokens: false });
    assert.deepEqual(r.cases, [{ text: 'Hello there', tokenCount: ids.length }]);
  });

  it('says what is missing when the folder has no tokenizer', async () => {
    const dir = tempDir();
    await assert.rejects(
      client.request('renderPrompt', { model: dir, conversations: [] }),
      (e: unknown) => e instanceof WorkerError && e.info.user && /missing tokenizer\.json/.test(e.info.message),
    );
  });

  it('a prompt naming a local model folder previews through it, end to end', async () => {
    const ws = tempDir();
    fs.cpSync(path.join(GOLDEN, 'llama', 'tokenizer.json'), path.join(ws, 'llama', 'tokenizer.json'));
    fs.cpSync(path.join(GOLDEN, 'llama', 'tokenizer_config.json'), path.join(ws, 'llama', 'tokenizer_config.json'));
    const file = path.join(ws, 'prompts', 'p.prompt.yml');
    const parse = parsePrompt(PROMPT);
    const model = resolvePreviewModel({
      promptModel: parse.prompt!.model,
      promptFile: file,
      setting: '',
      settingBase: ws,
      cachedHubModel: () => undefined,
      isDirectory: (p) => fs.existsSync(p) && fs.statSync(p).isDirectory(),
    });
    assert.deepEqual(model, { kind: 'model', dir: path.join(ws, 'llama'), from: 'prompt', label: '../llama' });
    const rendered = await client.request('renderPrompt', { model: path.join(ws, 'llama'), conversations: previewCases(parse.prompt!).map((c) => c.messages) });
    const text = formatPreview({ file, parse, model, rendered });
    const counts = rendered.cases.map((c) => ('tokenCount' in c ? c.tokenCount : -1));
    assert.ok(counts.every((n) => n > 0));
    assert.match(text, new RegExp(`## Test case 1 of 2 \\(line 8\\) · ${counts[0]} tokens`));
    assert.match(text, /through its chat template/);
  });
});
