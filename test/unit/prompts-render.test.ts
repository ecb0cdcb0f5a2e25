import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadTokenizer } from '../../src/core/infer/tokenizer';
import { parsePrompt } from '../../src/core/prompts/parse';
import { renderChat, renderForModel, renderMessages, type ChatMessage } from '../../src/core/prompts/render';
import { TuneloopError } from '../../src/core/errors';
import { GOLDEN, GOLDEN_ARCHS, tempDir } from '../helpers';

interface GoldenChat {
  readonly messages: ChatMessage[];
  readonly text_full: string;
  readonly ids_full: number[];
  readonly text_generation_prompt: string;
  readonly ids_generation_prompt: number[];
}

function goldenChat(arch: string): GoldenChat {
  return (JSON.parse(fs.readFileSync(path.join(GOLDEN, arch, 'golden.json'), 'utf8')) as { chat: GoldenChat }).chat;
}

const PROMPT = parsePrompt(
  [
    'messages:',
    '  - role: system',
    '    content: You are terse.',
    '  - role: user',
    '    content: "Name a {{ kind }} number."',
    'testData:',
    '  - kind: prime',
    '',
  ].join('\n'),
  'golden.prompt.yml',
).prompt!;

describe('rendering prompts through chat templates (Hugging Face goldens)', function () {
  this.timeout(60_000);

  it('the four golden folders are all there', () => {
    for (const arch of ['gpt2', 'llama', 'mistral', 'qwen2']) assert.ok(GOLDEN_ARCHS.includes(arch), arch);
  });

  for (const arch of GOLDEN_ARCHS) {
    it(`${arch}: renderChat equals apply_chat_template of transformers, with and without the generation prompt`, async () => {
      const tok = await loadTokenizer(path.join(GOLDEN, arch));
      const chat = goldenChat(arch);
      const prompt = renderChat(tok, chat.messages.slice(0, 2), true);
      assert.equal(prompt.template, 'model');
      assert.equal(prompt.text, chat.text_generation_prompt);
      assert.deepEqual(prompt.ids, chat.ids_generation_prompt);
      const full = renderChat(tok, chat.messages, false);
      assert.equal(full.text, chat.text_full);
      assert.deepEqual(full.ids, chat.ids_full);
    });
  }

  it('renderForModel: the prompt file with its test values gives the golden generation prompt', async () => {
    const tok = await loadTokenizer(path.join(GOLDEN, 'llama'));
    const chat = goldenChat('llama');
    const input = renderForModel(PROMPT, PROMPT.testData![0]!.values, tok);
    assert.equal(input.text, chat.text_generation_prompt);
    assert.deepEqual(input.ids, chat.ids_generation_prompt);
    assert.equal(input.tokenCount, chat.ids_generation_prompt.length);
    // A different value gives different ids: the variables really go through.
    const other = renderForModel(PROMPT, { kind: 'even' }, tok);
    assert.notDeepEqual(other.ids, chat.ids_generation_prompt);
    assert.match(other.text, /Name a even number\./);
  });

  it('renderMessages substitutes variables and keeps unknown placeholders', () => {
    assert.deepEqual(renderMessages(PROMPT, { kind: 'prime' }), [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Name a prime number.' },
    ]);
    assert.equal(renderMessages(PROMPT, {})[1]!.content, 'Name a {{ kind }} number.');
  });

  it('a tokenizer without a chat template falls back to plain text, and says so', async () => {
    const d = tempDir();
    fs.copyFileSync(path.join(GOLDEN, 'gpt2', 'tokenizer.json'), path.join(d, 'tokenizer.json'));
    const cfg = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'gpt2', 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    delete cfg['chat_template'];
    fs.writeFileSync(path.join(d, 'tokenizer_config.json'), JSON.stringify(cfg));
    const tok = await loadTokenizer(d);
    const out = renderForModel(PROMPT, { kind: 'prime' }, tok);
    assert.equal(out.template, 'plain');
    assert.equal(out.text, 'You are terse.\n\nName a prime number.');
    assert.deepEqual(out.ids, tok.encode(out.text, { add_special_tokens: false }));
    assert.ok(!out.ids.includes(1), 'no <|im_start|> when there is no template');
  });

  it("a chat template's own error becomes a TuneloopError that says what to check", async () => {
    const d = tempDir();
    fs.copyFileSync(path.join(GOLDEN, 'llama', 'tokenizer.json'), path.join(d, 'tokenizer.json'));
    const cfg = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'llama', 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    cfg['chat_template'] =
      "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for m in messages %}{{ m['content'] }}{% endfor %}";
    fs.writeFileSync(path.join(d, 'tokenizer_config.json'), JSON.stringify(cfg));
    const tok = await loadTokenizer(d);
    assert.throws(
      () => renderForModel(PROMPT, { kind: 'prime' }, tok),
      (e: unknown) =>
        e instanceof TuneloopError && /chat template rejected the messages: .*System role not supported/.test(e.message) && /check the roles/.test(e.message),
    );
    assert.equal(renderChat(tok, [{ role: 'user', content: 'hi' }], false).text, 'hi');
  });
});
