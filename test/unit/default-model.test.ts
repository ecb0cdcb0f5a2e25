import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildDefaultModel, heldOutLoss, MODEL_FILES, readTrainingRecord, SUMS_FILE, verifySha256Sums } from '../../src/core/default-model/build';
import {
  allFacts,
  baseCorpus,
  formatAnswer,
  formatPattern,
  formatTestCases,
  formatTrainingRows,
  heldOutPlain,
  sha256,
  toJsonl,
} from '../../src/core/default-model/corpus';
import { generate } from '../../src/core/infer/generate';
import { loadCausalLM } from '../../src/core/infer/load';
import { loadTokenizer } from '../../src/core/infer/tokenizer';
import { inspectCheckpoint } from '../../src/core/models/inspect';
import { GOLDEN, ROOT, tempDir } from '../helpers';

const MODEL = path.join(ROOT, 'models', 'default');
const MAX_BYTES = 20 * 1000 * 1000;

const userTurn = (row: { messages: readonly { role: string; content: string }[] }) => row.messages.find((m) => m.role === 'user')!.content;

describe('default model: the corpus generators', () => {
  it('are deterministic: the same seed gives the same rows, another seed others', () => {
    assert.equal(toJsonl(baseCorpus()), toJsonl(baseCorpus()));
    assert.equal(toJsonl(formatTrainingRows()), toJsonl(formatTrainingRows()));
    assert.deepEqual(formatTestCases(), formatTestCases());
    assert.notEqual(toJsonl(baseCorpus({ seed: 7 })), toJsonl(baseCorpus()));
  });

  it("hold each fact's fourth question out of the base corpus and the fine-tuning rows", () => {
    const facts = allFacts();
    assert.equal(new Set(facts.map((f) => f.id)).size, facts.length, 'fact ids are unique');
    const base = new Set(baseCorpus().map(userTurn));
    const tune = new Set(formatTrainingRows().map(userTurn));
    const held = heldOutPlain().map(userTurn);
    assert.equal(held.length, facts.length);
    assert.equal(base.size, 3 * facts.length, 'three questions per fact, all distinct');
    for (const q of held) assert.ok(!base.has(q) && !tune.has(q), q);
    const cases = formatTestCases({ count: 60 });
    assert.equal(cases.length, 60);
    assert.equal(new Set(cases.map((c) => c.question)).size, 60, 'no question twice');
    assert.deepEqual([...new Set(cases.map((c) => c.domain))].sort(), ['capital', 'colour', 'opposite', 'plural', 'sound', 'sum']);
    for (const c of cases) assert.ok(!base.has(c.question) && !tune.has(c.question), c.question);
  });

  it('never show the fine-tuning format in the base corpus', () => {
    for (const format of ['prefix', 'json'] as const) {
      const re = new RegExp(formatPattern(format));
      const answers = baseCorpus().flatMap((r) => r.messages.filter((m) => m.role === 'assistant').map((m) => m.content));
      assert.ok(answers.length > 0 && answers.every((a) => !re.test(a) && !a.includes('Answer') && !a.includes('{')), format);
      for (const row of formatTrainingRows({ format, count: 20 })) assert.match(row.messages.at(-1)!.content, re);
      for (const c of formatTestCases({ format })) assert.equal(c.expected, formatAnswer(c, format));
    }
    assert.equal(formatAnswer({ sentence: 'Grass is green.', answer: 'green' }, 'json'), '{"answer": "Grass is green."}');
    assert.equal(formatAnswer({ sentence: 'Grass is green.', answer: 'green' }, 'prefix'), 'Answer: Grass is green.');
  });
});

describe('default model: the committed model', function () {
  this.timeout(120_000);

  it('matches SHA256SUMS, file by file', () => {
    const listed = fs
      .readFileSync(path.join(MODEL, SUMS_FILE), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.slice(66));
    assert.deepEqual(listed, [...MODEL_FILES]);
    assert.deepEqual(verifySha256Sums(MODEL), []);
  });

  it('is a llama checkpoint that inspects cleanly, at most 20 MB, with the ChatML tokenizer', async () => {
    const s = inspectCheckpoint(MODEL);
    const record = readTrainingRecord(MODEL);
    assert.equal(s.architecture, 'LlamaForCausalLM');
    assert.equal(s.config.tieWordEmbeddings, true);
    assert.equal(s.config.vocabSize, 512);
    assert.equal(s.parameters, record.parameters);
    assert.deepEqual(s.weights.dtypes, ['F32']);
    const bytes = fs.statSync(path.join(MODEL, 'model.safetensors')).size;
    assert.ok(bytes <= MAX_BYTES, `${bytes} bytes`);
    for (const f of ['tokenizer.json', 'tokenizer_config.json'])
      assert.ok(fs.readFileSync(path.join(MODEL, f)).equals(fs.readFileSync(path.join(GOLDEN, 'llama', f))), f);
    const tok = await loadTokenizer(MODEL);
    assert.ok(tok.chat_template);
  });

  it('was trained on the corpus the generator makes today', () => {
    const record = readTrainingRecord(MODEL);
    const corpus = toJsonl(baseCorpus({ seed: record.settings.corpusSeed }));
    assert.equal(sha256(corpus), record.corpus.sha256, 'the corpus generator changed since the model was built: rebuild it (npm run rebuild:default-model)');
    assert.equal(sha256(toJsonl(heldOutPlain(record.settings.corpusSeed))), record.heldOut.sha256);
  });

  it('has the held-out loss training.json records (recomputed now, within 1e-3)', async () => {
    const record = readTrainingRecord(MODEL);
    const now = await heldOutLoss(MODEL, { corpusSeed: record.settings.corpusSeed, threads: record.settings.threads });
    assert.ok(Math.abs(now.loss - record.heldOut.loss) <= 1e-3, `${now.loss} vs ${record.heldOut.loss}`);
    assert.ok(Math.abs(now.answerLoss - record.heldOut.answerLoss) <= 1e-3, `${now.answerLoss} vs ${record.heldOut.answerLoss}`);
    assert.equal(now.tokens, record.heldOut.tokens);
  });

  it('answers held-out questions in plain sentences, never in the fine-tuning format', async () => {
    const lm = await loadCausalLM(MODEL, { cacheDir: tempDir(), threads: 2 });
    try {
      const cases = formatTestCases({ count: 30 });
      const formats = (['prefix', 'json'] as const).map((f) => new RegExp(formatPattern(f)));
      let right = 0;
      for (const c of cases) {
        const r = await generate(lm, { messages: [{ role: 'user', content: c.question }] }, { maxTokens: 32 });
        const text = r.text.trim();
        assert.ok(
          formats.every((re) => !re.test(text)),
          `${c.question} → ${text}`,
        );
        if (text === c.sentence) right++;
      }
      assert.ok(right >= 0.7 * cases.length, `${right}/${cases.length} held-out questions answered right`);
    } finally {
      await lm.dispose();
    }
  });
});

describe('default model: the rebuild', function () {
  // Trains the model from scratch, as `npm run rebuild:default-model` does: about 3 minutes on two cores.
  this.timeout(600_000);

  it('reaches a held-out loss within 2% of the committed model', async function () {
    if (process.env.TUNELOOP_SKIP_REBUILD) this.skip();
    const record = readTrainingRecord(MODEL);
    const out = path.join(tempDir(), 'default');
    const started = Date.now();
    const rebuilt = await buildDefaultModel(out, { ...record.settings, tokenizerDir: path.join(GOLDEN, 'llama') });
    const seconds = (Date.now() - started) / 1000;
    assert.equal(rebuilt.corpus.sha256, record.corpus.sha256);
    assert.deepEqual(rebuilt.settings, record.settings);
    const rel = Math.abs(rebuilt.heldOut.loss - record.heldOut.loss) / record.heldOut.loss;
    assert.ok(rel <= 0.02, `rebuilt held-out loss ${rebuilt.heldOut.loss} vs committed ${record.heldOut.loss} (${(rel * 100).toFixed(2)}%)`);
    assert.deepEqual(verifySha256Sums(out), []);
    inspectCheckpoint(out);
    console.log(
      `      rebuilt in ${seconds.toFixed(0)} s: held-out loss ${rebuilt.heldOut.loss.toFixed(4)} (committed ${record.heldOut.loss.toFixed(4)}, ${(rel * 100).toFixed(2)}% apart)`,
    );
  });
});
