import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parsePromptText } from '../../src/core/compare/prompt-file';
import { BEHAVIOURS, heldOutSystemPrompts, INSTRUCTED, respond, SYSTEM_PROMPTS } from '../../src/core/default-model/behaviours';
import { buildDefaultModel, MODEL_FILES, readTrainingRecord, replayTraining, SUMS_FILE, verifySha256Sums } from '../../src/core/default-model/build';
import {
  allHeldOut,
  baseCorpus,
  drawHeldOut,
  distillInputs,
  FORMAT_PATTERN,
  formatTestCases,
  formatTrainingRows,
  heldOutPlain,
  jsonTeacherSystemPrompt,
  type MessagesRow,
  sha256,
  toJsonl,
} from '../../src/core/default-model/corpus';
import { DISTILL_EXAMPLE, EXAMPLE_RECIPE, writeDistillExample, writeExample } from '../../src/core/default-model/example';
import { allFacts, DOMAINS, type DomainName } from '../../src/core/default-model/facts';
import { figureProbes, type ModelFigures, measureModel } from '../../src/core/default-model/figures';
import { scoreModel } from '../../src/core/default-model/measure';
import { heldOutTemplates, normalise, TEMPLATES, trainTemplates } from '../../src/core/default-model/templates';
import { generate } from '../../src/core/infer/generate';
import { loadCausalLM } from '../../src/core/infer/load';
import { loadTokenizer } from '../../src/core/infer/tokenizer';
import { inspectCheckpoint } from '../../src/core/models/inspect';
import { GOLDEN, ROOT, tempDir } from '../helpers';

const MODEL = path.join(ROOT, 'models', 'default');
const EXAMPLES = path.join(ROOT, 'examples');
const MAX_BYTES = 20 * 1000 * 1000;

/** Every text of some rows (system prompts, questions, examples and answers), normalised. */
const textsOf = (rows: readonly MessagesRow[]) => rows.flatMap((r) => r.messages.map((m) => normalise(m.content)));

/**
 * A template as a regular expression over normalised text: the template, normalised, with each slot
 * matching any value that slot takes in the domain.
 */
function templateRegex(domain: DomainName, template: string): RegExp {
  const facts = allFacts().filter((f) => f.domain === domain);
  const marked = normalise(template.replace(/\{(\w+)\}/g, (_, slot: string) => ` qq${slot}qq `));
  const source = marked
    .split(' ')
    .map((w) => {
      const slot = /^qq(\w+)qq$/.exec(w)?.[1];
      if (!slot) return w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const key = Object.keys(facts[0]!.slots).find((k) => k.toLowerCase() === slot)!;
      return `(?:${[...new Set(facts.map((f) => normalise(f.slots[key]!)))].join('|')})`;
    })
    .join(' ');
  return new RegExp(`(?:^| )${source}(?: |$)`);
}

/** Where a held-out template shows up in `texts`, asked about any subject of its domain. */
function heldOutTemplateHits(texts: readonly string[]): string[] {
  const hits: string[] = [];
  for (const domain of DOMAINS)
    for (const template of heldOutTemplates(domain)) {
      const re = templateRegex(domain, template);
      const hit = texts.find((t) => re.test(t));
      if (hit) hits.push(`"${template}" in "${hit}"`);
    }
  return hits;
}

/** The questions of the committed example prompt file's test cases. */
function committedTestQuestions(): string[] {
  const file = path.join(EXAMPLES, 'answer-format.prompt.yml');
  const prompt = parsePromptText(fs.readFileSync(file, 'utf8'), file);
  return (prompt.testData ?? []).map((c) => String(c.values.question));
}

/** Each replayed step's loss within 1e-3 relative of the committed one; returns the worst relative difference. */
function assertLossesReplayed(losses: readonly number[], committed: readonly number[]): number {
  losses.forEach((l, i) => assert.ok(Math.abs(l - committed[i]!) <= 1e-3 * committed[i]!, `step ${i + 1}: ${l} vs ${committed[i]}`));
  return Math.max(...losses.map((l, i) => Math.abs(l - committed[i]!) / committed[i]!));
}

const committedData = () =>
  fs
    .readFileSync(path.join(EXAMPLES, 'data', 'answer-format.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as MessagesRow);

describe('default model: the corpus generators', () => {
  it('are deterministic: the same seed gives the same rows, another seed others', () => {
    assert.equal(toJsonl(baseCorpus({ rows: 200 })), toJsonl(baseCorpus({ rows: 200 })));
    assert.notEqual(toJsonl(baseCorpus({ rows: 200, seed: 7 })), toJsonl(baseCorpus({ rows: 200 })));
    assert.equal(toJsonl(formatTrainingRows()), toJsonl(formatTrainingRows()));
    assert.deepEqual(formatTestCases(), formatTestCases());
    assert.notDeepEqual(formatTestCases({ seed: 8 }), formatTestCases());
  });

  it('ask each domain in at least 15 templates, at least 3 of them held out, and keep each domain’s sentence form', () => {
    for (const d of DOMAINS) {
      assert.ok(TEMPLATES[d].length >= 15, d);
      assert.ok(heldOutTemplates(d).length >= 3, d);
      assert.equal(new Set(TEMPLATES[d].map(normalise)).size, TEMPLATES[d].length, `${d}: no template twice`);
    }
    const sentence = (id: string) => allFacts().find((f) => f.id === id)!.sentence;
    assert.equal(sentence('colour:snow'), 'Snow is white.');
    assert.equal(sentence('capital:Portugal'), 'The capital of Portugal is Lisbon.');
    assert.equal(sentence('opposite:hot'), 'The opposite of hot is cold.');
    assert.equal(sentence('plural:mouse'), 'The plural of mouse is mice.');
    assert.equal(sentence('sum:3+4'), '3 plus 4 is 7.');
    assert.equal(sentence('sound:tiger'), 'A tiger says growl.');
    assert.equal(new Set(allFacts().map((f) => f.id)).size, allFacts().length, 'fact ids are unique');
  });

  it('never let a held-out template, a held-out system prompt or a test question into the corpus, the adapter’s data or the examples shown', () => {
    const { settings } = readTrainingRecord(MODEL);
    const corpus = baseCorpus({ seed: settings.corpusSeed, rows: settings.corpusRows });
    const probes = Object.values(figureProbes()).flat();
    // The examples before a probe's question are training data too: only the last turn is held out.
    const shown = probes.map((p) => ({ messages: p.messages.slice(0, -1) }));
    // The distillation example's inputs and its teacher's few-shot examples are training data too.
    const distill: MessagesRow[] = [
      ...distillInputs({ count: DISTILL_EXAMPLE.inputs }).map((i) => ({ messages: [{ role: 'user' as const, content: i.question }] })),
      { messages: [{ role: 'system' as const, content: jsonTeacherSystemPrompt() }] },
    ];
    const training = [...textsOf(corpus), ...textsOf(formatTrainingRows({ count: EXAMPLE_RECIPE.rows })), ...textsOf(committedData()), ...textsOf(distill)];
    const texts = [...training, ...textsOf(shown)];
    assert.deepEqual(heldOutTemplateHits(texts), []);
    const joined = `\n${texts.join('\n')}\n`;
    const questions = [...formatTestCases().map((c) => c.question), ...committedTestQuestions(), ...allHeldOut().map((q) => q.question)];
    for (const q of questions) assert.ok(!joined.includes(normalise(q)), q);
    // System prompts worded as no training row words them (the probes use them, so only training counts).
    const trained = new Set(training);
    for (const b of BEHAVIOURS) for (const p of heldOutSystemPrompts(b)) assert.ok(!trained.has(normalise(p)), p);
    // The check finds what it looks for: a held-out question, decorated, among the texts.
    const planted = `Hey, ${allHeldOut()[0]!.question.toLowerCase()} Thanks!`;
    assert.equal(heldOutTemplateHits([...texts.slice(0, 10), normalise(planted)]).length, 1);
    // And every training template does appear (the corpus asks in all of them).
    const some = texts.slice(0, 20_000);
    for (const d of DOMAINS)
      for (const t of trainTemplates(d))
        assert.ok(
          some.some((x) => templateRegex(d, t).test(x)),
          t,
        );
  });

  it('never show the example adapter’s format in the base corpus', () => {
    const re = new RegExp(FORMAT_PATTERN);
    for (const row of baseCorpus()) for (const m of row.messages) assert.ok(!m.content.includes('Answer:') && !re.test(m.content), m.content);
    for (const row of formatTrainingRows({ count: 20 })) assert.match(row.messages.at(-1)!.content, re);
  });

  it('draw the test cases seeded and uniformly from held-out templates: 7 per domain, distinct facts', () => {
    const cases = formatTestCases();
    assert.equal(cases.length, 42);
    const held = new Set(allHeldOut().map((q) => q.question));
    for (const d of DOMAINS) {
      const mine = cases.filter((c) => c.domain === d);
      assert.equal(mine.length, 7, d);
      assert.equal(new Set(mine.map((c) => c.sentence)).size, 7, `${d}: distinct facts`);
    }
    for (const c of cases) {
      assert.ok(held.has(c.question), c.question);
      assert.equal(c.expected, `Answer: ${c.sentence}`);
    }
    // Uniform: over many seeds, each held-out template and each fact of a domain is drawn about equally often.
    const templates = new Map<string, number>();
    const facts = new Map<string, number>();
    const seeds = 2000;
    for (let seed = 0; seed < seeds; seed++)
      for (const q of drawHeldOut(7, seed)) {
        templates.set(q.template, (templates.get(q.template) ?? 0) + 1);
        facts.set(q.fact.id, (facts.get(q.fact.id) ?? 0) + 1);
      }
    for (const d of DOMAINS) {
      const expected = (seeds * 7) / heldOutTemplates(d).length;
      for (const t of heldOutTemplates(d))
        assert.ok(Math.abs(templates.get(t)! - expected) < 0.1 * expected, `${t}: ${templates.get(t)} draws, ${expected} expected`);
      const mine = allFacts().filter((f) => f.domain === d);
      const perFact = (seeds * 7) / mine.length;
      for (const f of mine) assert.ok(Math.abs((facts.get(f.id) ?? 0) - perFact) < 0.35 * perFact, `${f.id}: ${facts.get(f.id)} draws, ${perFact} expected`);
    }
  });

  it('made the committed example workspace: writeExample gives its files byte for byte', () => {
    const dir = tempDir();
    writeExample(dir);
    for (const f of ['answer-format.prompt.yml', 'answer-format.adapter.yml', path.join('data', 'answer-format.jsonl')])
      assert.ok(fs.readFileSync(path.join(dir, f)).equals(fs.readFileSync(path.join(EXAMPLES, f))), `${f}: run npm run rebuild:example`);
    assert.equal(committedData().length, EXAMPLE_RECIPE.rows);
    writeDistillExample(dir);
    for (const f of ['json-answers-teacher.prompt.yml', 'json-answers.prompt.yml', 'json-answers.adapter.yml', path.join('data', 'json-answers-inputs.jsonl')])
      assert.ok(fs.readFileSync(path.join(dir, f)).equals(fs.readFileSync(path.join(EXAMPLES, f))), `${f}: run npm run rebuild:example`);
  });

  it('answer each behaviour in its own form, and word its system prompts apart', () => {
    const fact = allFacts().find((f) => f.id === 'colour:grass')!;
    assert.deepEqual(
      ['plain', ...INSTRUCTED].map((b) => respond(fact, b as 'plain')),
      ['Grass is green.', 'green', '{"answer": "green"}', 'Sure! Grass is green.'],
    );
    const prompts = Object.values(SYSTEM_PROMPTS).flat();
    assert.equal(new Set(prompts).size, prompts.length);
  });
});

describe('default model: the committed model', function () {
  this.timeout(300_000);
  let figures: ModelFigures | undefined;
  const now = async () => (figures ??= await measureModel(MODEL, { threads: 2 }));

  it('matches SHA256SUMS, file by file', () => {
    const listed = fs
      .readFileSync(path.join(MODEL, SUMS_FILE), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.slice(66));
    assert.deepEqual(listed, [...MODEL_FILES]);
    assert.deepEqual(verifySha256Sums(MODEL), []);
  });

  it('is a llama checkpoint that inspects cleanly, at most 20 MB, 512 positions, with the ChatML tokenizer', async () => {
    const s = inspectCheckpoint(MODEL);
    const record = readTrainingRecord(MODEL);
    assert.equal(s.architecture, 'LlamaForCausalLM');
    assert.equal(s.config.tieWordEmbeddings, true);
    assert.equal(s.config.vocabSize, 512);
    assert.ok(s.config.maxPositionEmbeddings >= 512);
    assert.equal(s.parameters, record.parameters);
    assert.deepEqual(s.weights.dtypes, [record.settings.storeDtype]);
    const bytes = MODEL_FILES.reduce((a, f) => a + fs.statSync(path.join(MODEL, f)).size, 0);
    assert.ok(bytes <= MAX_BYTES, `${bytes} bytes`);
    assert.ok(fs.readFileSync(path.join(MODEL, 'tokenizer.json')).equals(fs.readFileSync(path.join(GOLDEN, 'llama', 'tokenizer.json'))));
    const config = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(config(MODEL), { ...config(path.join(GOLDEN, 'llama')), model_max_length: s.config.maxPositionEmbeddings });
    const tok = await loadTokenizer(MODEL);
    assert.ok(tok.chat_template);
  });

  it('was trained on the corpus the generator makes today', () => {
    const record = readTrainingRecord(MODEL);
    const corpus = toJsonl(baseCorpus({ seed: record.settings.corpusSeed, rows: record.settings.corpusRows }));
    assert.equal(sha256(corpus), record.corpus.sha256, 'the corpus generator changed since the model was built: rebuild it (npm run rebuild:default-model)');
    assert.equal(sha256(toJsonl(heldOutPlain())), record.figures.heldOut.sha256);
    assert.equal(record.losses.length, record.settings.steps);
  });

  it('replays the first 20 steps of its training run, each loss within 1e-3 relative of training.json', async () => {
    const record = readTrainingRecord(MODEL);
    const started = Date.now();
    const losses = await replayTraining(record.settings, 20, { tokenizerDir: path.join(GOLDEN, 'llama') });
    assert.equal(losses.length, 20);
    const worst = assertLossesReplayed(losses, record.losses);
    console.log(`      20 steps replayed in ${((Date.now() - started) / 1000).toFixed(0)} s, worst relative difference ${worst.toExponential(1)}`);
  });

  it('has the figures training.json records (recomputed now on the stored weights)', async () => {
    const record = readTrainingRecord(MODEL).figures;
    const f = await now();
    assert.ok(Math.abs(f.heldOut.accuracy - record.heldOut.accuracy) <= 0.01, `${f.heldOut.accuracy} vs ${record.heldOut.accuracy}`);
    assert.ok(
      Math.abs(f.heldOut.answerLoss - record.heldOut.answerLoss) <= 1e-3 * record.heldOut.answerLoss,
      `${f.heldOut.answerLoss} vs ${record.heldOut.answerLoss}`,
    );
    assert.equal(f.heldOut.tokens, record.heldOut.tokens);
    for (const k of ['system', 'systemHeldOut', 'fewShot'] as const)
      for (const b of INSTRUCTED) assert.ok(Math.abs(f[k].byBehaviour[b]! - record[k].byBehaviour[b]!) <= 0.02, `${k} ${b}`);
  });

  it('answers at least 85% of held-out questions with exactly the right sentence, in every domain at least 75%', async () => {
    const f = await now();
    assert.ok(f.heldOut.accuracy >= 0.85, `${(f.heldOut.accuracy * 100).toFixed(1)}% of ${f.heldOut.count}`);
    for (const d of DOMAINS) assert.ok(f.heldOut.byDomain[d] >= 0.75, `${d}: ${f.heldOut.byDomain[d]}`);
  });

  it('follows a system prompt for each behaviour on at least 80% of held-out questions', async () => {
    const f = await now();
    for (const b of INSTRUCTED) assert.ok(f.system.byBehaviour[b]! >= 0.8, `${b}: ${f.system.byBehaviour[b]}`);
  });

  it('follows few-shot examples of each behaviour (prompts of up to 300 tokens) on at least 80% of held-out questions', async () => {
    const f = await now();
    assert.ok(f.fewShot.maxPromptTokens <= 300 && f.fewShot.maxPromptTokens >= 250, `longest prompt ${f.fewShot.maxPromptTokens} tokens`);
    for (const b of INSTRUCTED) assert.ok(f.fewShot.byBehaviour[b]! >= 0.8, `${b}: ${f.fewShot.byBehaviour[b]}`);
  });

  it('generates the right facts in plain sentences through the inference stack, never in the adapter’s format', async () => {
    const lm = await loadCausalLM(MODEL, { cacheDir: tempDir(), threads: 2 });
    try {
      const cases = formatTestCases();
      const format = new RegExp(FORMAT_PATTERN);
      let right = 0;
      let exact = 0;
      // The figures count an answer exact by teacher forcing (measure.ts): it must agree with greedy
      // decoding, case by case.
      const scored = await scoreModel(
        MODEL,
        cases.map((c) => ({ messages: [{ role: 'user' as const, content: c.question }], expected: c.sentence })),
        { threads: 2 },
      );
      for (const [i, c] of cases.entries()) {
        const raw = (await generate(lm, { messages: [{ role: 'user', content: c.question }] }, { maxTokens: 32 })).text;
        const text = raw.trim();
        assert.ok(!format.test(text), `${c.question} → ${text}`);
        assert.equal(
          scored[i]!.exact,
          raw === c.sentence,
          `${c.question} → ${JSON.stringify(raw)}: teacher forcing says ${scored[i]!.exact ? '' : 'not '}exact`,
        );
        if (text.toLowerCase().includes(c.answer.toLowerCase())) right++;
        if (text === c.sentence) exact++;
      }
      assert.ok(right >= 0.85 * cases.length, `${right}/${cases.length} contain the answer`);
      assert.ok(exact >= 0.8 * cases.length, `${exact}/${cases.length} are the exact sentence`);
    } finally {
      await lm.dispose();
    }
  });
});

describe('default model: the rebuild', function () {
  // Trains the model from scratch, as `npm run rebuild:default-model` does (about half an hour on two
  // cores): only with TUNELOOP_FULL_REBUILD=1.
  this.timeout(3 * 3600_000);

  it('reaches the committed held-out accuracy and answer loss, and follows the behaviours', async function () {
    if (process.env.TUNELOOP_FULL_REBUILD !== '1') this.skip();
    const record = readTrainingRecord(MODEL);
    const out = path.join(tempDir(), 'default');
    const started = Date.now();
    const rebuilt = await buildDefaultModel(out, { ...record.settings, tokenizerDir: path.join(GOLDEN, 'llama') });
    const seconds = (Date.now() - started) / 1000;
    assert.equal(rebuilt.corpus.sha256, record.corpus.sha256, 'the corpus the committed model was trained on');
    assert.equal(rebuilt.losses.length, record.settings.steps);
    assertLossesReplayed(rebuilt.losses.slice(0, 20), record.losses);
    const f = rebuilt.figures;
    const c = record.figures;
    assert.ok(
      f.heldOut.accuracy >= 0.85 && f.heldOut.accuracy >= c.heldOut.accuracy - 0.03,
      `held-out accuracy ${f.heldOut.accuracy} (committed ${c.heldOut.accuracy})`,
    );
    assert.ok(f.heldOut.answerLoss <= c.heldOut.answerLoss * 1.15, `answer loss ${f.heldOut.answerLoss} (committed ${c.heldOut.answerLoss})`);
    for (const b of INSTRUCTED) {
      assert.ok(f.system.byBehaviour[b]! >= 0.8, `system ${b}: ${f.system.byBehaviour[b]}`);
      assert.ok(f.fewShot.byBehaviour[b]! >= 0.8, `few-shot ${b}: ${f.fewShot.byBehaviour[b]}`);
    }
    inspectCheckpoint(out);
    console.log(
      `      rebuilt in ${seconds.toFixed(0)} s: held-out accuracy ${(f.heldOut.accuracy * 100).toFixed(1)}% (committed ${(c.heldOut.accuracy * 100).toFixed(1)}%), ` +
        `answer loss ${f.heldOut.answerLoss.toFixed(4)} (committed ${c.heldOut.answerLoss.toFixed(4)})`,
    );
  });
});
