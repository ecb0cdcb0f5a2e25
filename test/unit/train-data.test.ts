import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { TuneloopError } from '../../src/core/errors';
import { loadTokenizer } from '../../src/core/infer/tokenizer';
import { TensorStore } from '../../src/core/safetensors/checkpoint';
import { detectFormat, makeBatch, readJsonl, shuffle, splitTrainValidation, tokenizeRows } from '../../src/core/train/data';
import { GOLDEN, tempDir } from '../helpers';

function jsonl(lines: unknown[]): string {
  const f = path.join(tempDir(), 'data.jsonl');
  fs.writeFileSync(f, `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`);
  return f;
}

describe('training data', () => {
  let tok: PreTrainedTokenizer;
  const golden = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'llama', 'golden.json'), 'utf8'));
  before(async () => {
    tok = await loadTokenizer(path.join(GOLDEN, 'llama'));
  });

  it('batches like the golden train2 trace: right padding, attention mask, 31 counted targets', () => {
    const t = TensorStore.openFiles([path.join(GOLDEN, 'llama', 'train2', 'train2.safetensors')]);
    const ids = new BigInt64Array(t.readBytes('input_ids').buffer);
    const labels = new BigInt64Array(t.readBytes('labels').buffer);
    const attn = new BigInt64Array(t.readBytes('attention_mask').buffer);
    const spec = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'llama', 'train2', 'train2.json'), 'utf8'));
    const examples = spec.lengths.map((len: number, b: number) => ({
      line: b + 1,
      ids: Array.from(ids.subarray(b * 16, b * 16 + len), Number),
      mask: Array.from(labels.subarray(b * 16, b * 16 + len), (l) => (l === -100n ? 0 : 1)),
    }));
    const batch = makeBatch(examples, spec.pad_id, 16);
    assert.deepEqual(batch.inputIds, ids);
    assert.deepEqual(batch.attentionMask, attn);
    assert.equal(batch.counted, spec.n_targets);
    for (let b = 0; b < 4; b++)
      for (let s = 0; s < 15; s++) {
        const counts = labels[b * 16 + s + 1] !== -100n;
        assert.equal(batch.weights[b * 16 + s], counts ? 1 : 0);
        if (counts) assert.equal(batch.targets[b * 16 + s], labels[b * 16 + s + 1]);
      }
    t.close();
  });

  it('chat messages: the template’s ids, with the loss on the assistant turn and its end token', () => {
    const f = jsonl([{ messages: golden.chat.messages }]);
    const r = tokenizeRows(tok, readJsonl(f), f, { maxSeqLen: 512, eosTokenId: 2 });
    const e = r.examples[0]!;
    assert.deepEqual(e.ids, golden.chat.ids_full);
    const start = golden.chat.ids_generation_prompt.length;
    assert.deepEqual(
      e.mask,
      e.ids.map((_: number, i: number) => (i >= start ? 1 : 0)),
    );
    const learned = tok.decode(e.ids.slice(start), { skip_special_tokens: false });
    assert.ok(learned.startsWith(golden.chat.messages[2].content) && learned.includes('<|im_end|>'), learned);
    // What a training sample shows for it: the messages before the first reply, not the template.
    assert.deepEqual(e.shown, golden.chat.messages.slice(0, 2));
  });

  it('chat messages with train_on_prompt: the same ids, every token counted (one rendering, however many turns)', () => {
    const turns = [...golden.chat.messages, { role: 'user', content: 'And again?' }, { role: 'assistant', content: 'Again.' }];
    const f = jsonl([{ messages: turns }]);
    const marked = tokenizeRows(tok, readJsonl(f), f, { maxSeqLen: 512, eosTokenId: 2 }).examples[0]!;
    const all = tokenizeRows(tok, readJsonl(f), f, { maxSeqLen: 512, eosTokenId: 2, trainOnPrompt: true }).examples[0]!;
    assert.deepEqual(all.ids, marked.ids);
    assert.deepEqual(
      all.mask,
      all.ids.map(() => 1),
    );
    assert.ok(marked.mask.includes(0));
  });

  it('prompt/completion: loss on the completion and the end token only; text: on everything', () => {
    const f = jsonl([{ prompt: 'Q: two plus two?', completion: ' A: four' }, { text: 'hello there' }]);
    const [pc] = tokenizeRows(tok, readJsonl(f).slice(0, 1), f, { maxSeqLen: 512, eosTokenId: 2 }).examples;
    const p = tok.encode('Q: two plus two?');
    assert.deepEqual(pc!.ids.slice(0, p.length), p);
    assert.equal(pc!.ids.at(-1), 2);
    assert.deepEqual(
      pc!.mask,
      pc!.ids.map((_, i) => (i < p.length ? 0 : 1)),
    );
    const [text] = tokenizeRows(tok, readJsonl(f).slice(1), f, { maxSeqLen: 512, eosTokenId: 2 }).examples;
    assert.ok(text!.mask.every((m) => m === 1));
  });

  it('alpaca rows become a chat when the tokenizer has a template', () => {
    const f = jsonl([{ instruction: 'Add.', input: '2 and 3', output: '5' }]);
    const [e] = tokenizeRows(tok, readJsonl(f), f, { maxSeqLen: 512, eosTokenId: 2 }).examples;
    const text = tok.decode([...e!.ids], { skip_special_tokens: false });
    assert.match(text, /<\|im_start\|>user\nAdd\.\n\n2 and 3<\|im_end\|>\n<\|im_start\|>assistant\n5<\|im_end\|>/);
  });

  it('truncates to max_seq_len and counts what was cut; refuses a row left with nothing to learn', () => {
    const f = jsonl([{ text: 'a b c d e f g h i j k l m n o p' }, { text: 'short' }]);
    const r = tokenizeRows(tok, readJsonl(f), f, { maxSeqLen: 6, eosTokenId: 2 });
    assert.equal(r.truncated, 1);
    assert.ok(r.tokensCut > 0);
    assert.equal(r.examples[0]!.ids.length, 6);
    const g = jsonl([{ prompt: 'a very long prompt that fills everything', completion: 'x' }]);
    assert.throws(
      () => tokenizeRows(tok, readJsonl(g), g, { maxSeqLen: 4, eosTokenId: 2 }),
      (e: unknown) => e instanceof TuneloopError && e.line === 1 && /nothing of the completion is left/.test(e.message),
    );
  });

  it('names the file and line of a malformed row; nothing is dropped silently', () => {
    const f = jsonl([{ text: 'ok' }, '{"text": "broken', { text: 'ok' }]);
    assert.throws(
      () => readJsonl(f),
      (e: unknown) => e instanceof TuneloopError && e.file === f && e.line === 2 && /not valid JSON/.test(e.message),
    );
    const g = jsonl([{ prompt: 'a', completion: 'b' }, { prompt: 'a' }]);
    assert.throws(() => tokenizeRows(tok, readJsonl(g), g, { maxSeqLen: 64, eosTokenId: 2 }), /:2: missing "completion" for the prompt-completion format/);
    const h = jsonl([{ messages: [{ role: 'robot', content: 'x' }] }]);
    assert.throws(() => tokenizeRows(tok, readJsonl(h), h, { maxSeqLen: 64, eosTokenId: 2 }), /messages\[0\] must be \{role/);
    assert.equal(detectFormat({ foo: 1 }), undefined);
  });

  it('shuffles and splits reproducibly by seed', () => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    assert.deepEqual(shuffle(items, 3), shuffle(items, 3));
    assert.notDeepEqual(shuffle(items, 3), shuffle(items, 4));
    assert.deepEqual(
      shuffle(items, 3).sort((a, b) => a - b),
      items,
    );
    const s = splitTrainValidation(items, 0.2, 1);
    assert.equal(s.validation.length, 4);
    assert.equal(s.train.length, 16);
    assert.deepEqual(
      [...s.train, ...s.validation].sort((a, b) => a - b),
      items,
    );
    assert.equal(splitTrainValidation(items, 3, 1).validation.length, 3);
  });
});
