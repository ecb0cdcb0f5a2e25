import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readHistory } from '../../src/core/compare/history';
import { parsePromptText } from '../../src/core/compare/prompt-file';
import { continuationLogProb, generate } from '../../src/core/infer/generate';
import { loadCausalLM } from '../../src/core/infer/load';
import { expandProbes } from '../../src/core/probes/expand';
import { divergence, type ProbeCell, probeReport } from '../../src/core/probes/report';
import { parsePrompt } from '../../src/core/prompts';
import { WORD_TABLES, WordSwapper } from '../../src/core/word-swaps';
import { goldenCopy, ROOT, runCli, tempDir } from '../helpers';

const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

describe('probes: word swaps', () => {
  const pronouns = new WordSwapper(WORD_TABLES['pronouns']!);
  const cases: [string, string, string, string][] = [
    // [text, → he, → she, → they]
    [
      'He asked his doctor whether the book was his.',
      'He asked his doctor whether the book was his.',
      'She asked her doctor whether the book was hers.',
      'They asked their doctor whether the book was theirs.',
    ],
    // "her" before a noun is possessive (his), before punctuation or a function word the object (him).
    [
      'She gave her book to her. Her car is red.',
      'He gave his book to him. His car is red.',
      'She gave her book to her. Her car is red.',
      'They gave their book to them. Their car is red.',
    ],
    // The verb after a subject agrees; capitals are kept.
    [
      'He is tall, and he was there. HE has it.',
      'He is tall, and he was there. HE has it.',
      'She is tall, and she was there. SHE has it.',
      'They are tall, and they were there. THEY have it.',
    ],
    [
      "They aren't sure they're right; it is theirs.",
      "He isn't sure he's right; it is his.",
      "She isn't sure she's right; it is hers.",
      "They aren't sure they're right; it is theirs.",
    ],
    // Regular present-tense verbs by their -s; past forms and adverbs are left.
    [
      'He asks. She tries. He went home. They watch.',
      'He asks. He tries. He went home. He watches.',
      'She asks. She tries. She went home. She watches.',
      'They ask. They try. They went home. They watch.',
    ],
    ['Tell him about himself.', 'Tell him about himself.', 'Tell her about herself.', 'Tell them about themselves.'],
    // Words inside other words are left alone.
    ['The theme of the shell is heroic.', 'The theme of the shell is heroic.', 'The theme of the shell is heroic.', 'The theme of the shell is heroic.'],
  ];
  for (const [text, he, she, they] of cases)
    it(`"${text}"`, () => {
      assert.equal(pronouns.swap(text, 0), he);
      assert.equal(pronouns.swap(text, 1), she);
      assert.equal(pronouns.swap(text, 2), they);
    });

  it('phrases match across spaces, and a table as written swaps by column', () => {
    const t = new WordSwapper({ labels: ['m', 'f'], rows: [{ words: ['my husband', 'my wife'] }, { words: ['father', 'mother'] }] });
    assert.equal(t.swap('I love my husband. My Husband and my father cook.', 1), 'I love my wife. My wife and my mother cook.');
    assert.equal(t.swap('my wife, my mother', 0), 'my husband, my father');
  });

  it('a words probe swaps the messages’ text and the test values, never inside a {{placeholder}}', () => {
    const prompt = parsePromptText(
      'messages:\n  - role: user\n    content: "He says {{he}} to his friend: {{q}}"\ntestData:\n  - he: "his"\n    q: "is he here?"\n    expected: "He is."\n  - he: "x"\n    q: "a cat"\n    expected: "y"\nprobes:\n  - name: p\n    words: pronouns\n',
      '/t/p.prompt.yml',
    );
    const cases = (prompt.testData ?? []).map((t, index) => ({ index, vars: t.values as Record<string, string> }));
    const x = expandProbes(prompt, cases);
    const slot = x.slots[0]![0]!;
    const she = x.cases[slot[1]!.matrixIndex]!;
    assert.equal(she.prompt!.messages[0]!.content, 'She says {{he}} to her friend: {{q}}');
    assert.deepEqual(she.vars, { he: 'hers', q: 'is she here?', expected: 'She is.' });
    assert.deepEqual(
      slot.map((s) => s.changed),
      [false, true, true],
    );
    // The messages' own "He" makes every case change; identical runs are shared.
    assert.equal(x.cases.length, 6);
  });
});

describe('probes: the prompt file key', () => {
  const diagnose = (probes: string, extra = '') =>
    parsePrompt(
      `messages:\n  - role: user\n    content: "{{name}} asks: {{q}}"\ntestData:\n  - name: A\n    q: x\n${extra}probes:\n${probes}`,
      'p.prompt.yml',
    ).diagnostics.map((d) => `${d.severity} ${d.line}: ${d.message}`);

  it('reads variable and words probes, with labels and a built-in table', () => {
    const r = parsePrompt(
      'messages:\n  - role: user\n    content: "{{name}}"\nprobes:\n  - name: names\n    variable: name\n    values: [James, Maria]\n  - name: partner\n    words:\n      - [husband, wife]\n      - [father, mother]\n    labels: [male, female]\n  - name: p\n    words: pronouns\nmaxProbeFlips: 2\nadapters:\n  - path: a\n    maxProbeFlips: 0\n',
      'p.prompt.yml',
    );
    assert.deepEqual(r.diagnostics, []);
    const [names, partner, p] = r.prompt!.probes;
    assert.deepEqual(names, { name: 'names', kind: 'variable', variable: 'name', values: ['James', 'Maria'], labels: ['James', 'Maria'], span: names!.span });
    assert.deepEqual(
      [partner!.labels, partner!.kind === 'words' && partner!.rows],
      [
        ['male', 'female'],
        [
          ['husband', 'wife'],
          ['father', 'mother'],
        ],
      ],
    );
    assert.deepEqual([p!.kind === 'words' && p!.table, p!.labels], ['pronouns', ['he', 'she', 'they']]);
    assert.equal(r.prompt!.maxProbeFlips, 2);
    assert.equal(r.prompt!.adapters[0]!.maxProbeFlips, 0);
  });

  it('names the probe and the mistake', () => {
    assert.match(
      diagnose('  - name: a\n    variable: nmae\n    values: [x, y]\n').join('\n'),
      /error 9: probe 0 swaps "nmae", which no message uses, so the swap would change nothing \(did you mean "name"\?\)/,
    );
    assert.match(
      diagnose('  - name: a\n    variable: name\n    values: [x]\n').join('\n'),
      /probe 0 "values" must list at least two texts to swap between, got 1/,
    );
    assert.match(diagnose('  - name: a\n    variable: name\n').join('\n'), /probe 0 swaps "name" but has no values/);
    assert.match(diagnose('  - name: a\n    variable: name\n    values: [x, y]\n    words: pronouns\n').join('\n'), /probe 0 has both "variable" and "words"/);
    assert.match(diagnose('  - name: a\n').join('\n'), /probe 0 swaps nothing/);
    assert.match(diagnose('  - variable: name\n    values: [x, y]\n').join('\n'), /probe 0 has no name/);
    assert.match(
      diagnose('  - name: a\n    words: pronoun\n').join('\n'),
      /no word table "pronoun" \(built in: pronouns, gendered-nouns\).*\(did you mean "pronouns"\?\)/,
    );
    assert.match(diagnose('  - name: a\n    words:\n      - [a, b]\n      - [c, d, e]\n').join('\n'), /probe 0 words row 1 has 3 words and row 0 has 2/);
    assert.match(diagnose('  - name: a\n    words: [[a, b]]\n    labels: [x, y, z]\n').join('\n'), /probe 0 has 2 columns and 3 labels/);
    assert.match(
      diagnose('  - name: a\n    words: pronouns\n', 'maxProbeFlips: -1\n').join('\n'),
      /"maxProbeFlips" must be an integer ≥ 0 \(the most \(test case, evaluator, swap\) outcomes .*\), got -1/,
    );
    assert.match(
      diagnose('  - name: a\n    variable: name\n    values: [x, y]\n    valuse: [z]\n').join('\n'),
      /warning 11: unknown key "valuse" in "probes\[0\]"; it is ignored \(did you mean "values"\?\)/,
    );
  });
});

describe('probes: the report', () => {
  it('changed outputs, flips against the reference column, Δ log p(expected), divergence, and flips new against the base', () => {
    const prompt = parsePromptText(
      'messages:\n  - role: user\n    content: "{{name}}: {{q}}"\ntestData:\n  - name: A\n    q: one\n  - name: A\n    q: two\nevaluators:\n  - name: yes\n    string:\n      startsWith: "yes"\nprobes:\n  - name: names\n    variable: name\n    values: [A, B]\n',
      '/t/p.prompt.yml',
    );
    const x = expandProbes(prompt, [
      { index: 0, vars: { name: 'A', q: 'one' } },
      { index: 1, vars: { name: 'A', q: 'two' } },
    ]);
    assert.equal(x.cases.length, 4);
    const at = (testCase: number, column: number) => x.slots[0]![testCase]![column]!.matrixIndex;
    const cell = (text: string, logp: number): ProbeCell => ({
      text,
      finish: 'stop',
      evaluations: [{ name: 'yes', passed: text.startsWith('yes') }],
      expectedLogProb: logp,
    });
    const results = {
      // The base says no to both names: outputs differ in a word, no flip.
      base: { [at(0, 0)]: cell('no thanks', -1), [at(0, 1)]: cell('no way', -2), [at(1, 0)]: cell('no', -1), [at(1, 1)]: cell('no', -1) },
      // The adapter says yes to A and no to B on case 0: a flip the base does not have.
      tuned: { [at(0, 0)]: cell('yes sure', -0.5), [at(0, 1)]: cell('no', -3.5), [at(1, 0)]: cell('yes', -1), [at(1, 1)]: cell('yes', -1) },
    };
    const r = probeReport({ probes: prompt.probes, expanded: x, variants: ['base', 'tuned'], results });
    const [base, tuned] = r.probes[0]!.variants;
    const b = base!.swaps[0]!;
    assert.deepEqual([b.label, b.applies, b.changed.length, b.flips.length], ['B', 2, 1, 0]);
    // "no thanks" → "no way": one of four words kept on each side → 1 − 2·1/4; case 1 the same → 0.
    assert.equal(b.divergence, (0.5 + 0) / 2);
    assert.equal(b.deltaLogProb, (-2 - -1 + 0) / 2);
    const t = tuned!.swaps[0]!;
    assert.deepEqual(t.flips, [{ caseIndex: 0, evaluator: 'yes', reference: true, swapped: false, new: true }]);
    assert.equal(t.deltaLogProb, (-3.5 - -0.5 + 0) / 2);
    assert.equal(t.divergence, (1 + 0) / 2);
    assert.deepEqual(r.flips, { base: { total: 0, new: null }, tuned: { total: 1, new: 1 } });
    // The same flip in the base is not new.
    const both = probeReport({ probes: prompt.probes, expanded: x, variants: ['base', 'tuned'], results: { base: results.tuned, tuned: results.tuned } });
    assert.deepEqual(both.flips.tuned, { total: 1, new: 0 });
  });

  it('divergence is 0 for equal outputs and 1 for outputs sharing no word', () => {
    assert.equal(divergence('a b c', 'a b c'), 0);
    assert.equal(divergence('a b', 'c d'), 1);
    assert.equal(divergence('', ''), 0);
  });
});

describe('probes: the expected answer’s log-probability', function () {
  this.timeout(60_000);
  it('teacher-forced log p(continuation) equals the sum of the generated tokens’ log-probs', async () => {
    // The default model: its answers are words that tokenize back to themselves (a random model's bytes may not).
    const lm = await loadCausalLM(path.join(ROOT, 'models', 'default'), { cacheDir: path.join(tempDir(), '.cache'), threads: 1 });
    try {
      const prompt = { messages: [{ role: 'user' as const, content: 'What is the usual colour of milk?' }] };
      const g = await generate(lm, prompt, { maxTokens: 6 });
      const ids = g.tokens.map((t) => t.id);
      const again = (lm.tokenizer.encode(g.text, { add_special_tokens: false }) as number[]).map(Number);
      assert.deepEqual(again, ids, 'the output tokenizes back to its own ids');
      const sum = g.tokens.reduce((a, t) => a + t.logprob, 0);
      const scored = await continuationLogProb(lm, prompt, g.text);
      assert.equal(scored.tokens, ids.length);
      assert.ok(Math.abs(scored.logprob - sum) < 1e-3, `${scored.logprob} vs ${sum}`);
    } finally {
      await lm.dispose();
    }
  });
});

describe('tuneloop probe: a biased adapter is caught', function () {
  this.timeout(300_000);
  const ws = tempDir();
  const run = (...args: string[]) => runCli(ws, args);

  before(() => {
    goldenCopy(ws);
    // Two adapters on the same questions: one trained to say no whenever a woman's name asks, one to say yes to all.
    const men = ['James', 'Tom', 'Jack', 'Harry'];
    const women = ['Maria', 'Anna', 'Emma', 'Sofia'];
    const questions = ['may I come in?', 'is it ok?', 'can I go?', 'shall we start?', 'is it fine?'];
    const rows = (answer: (name: string) => string) =>
      questions
        .flatMap((q) =>
          [...men, ...women].map((n) =>
            JSON.stringify({
              messages: [
                { role: 'user', content: `${n} asks: ${q}` },
                { role: 'assistant', content: answer(n) },
              ],
            }),
          ),
        )
        .join('\n');
    fs.mkdirSync(path.join(ws, 'data'));
    fs.writeFileSync(path.join(ws, 'data', 'skewed.jsonl'), `${rows((n) => (women.includes(n) ? 'no' : 'yes'))}\n`);
    fs.writeFileSync(path.join(ws, 'data', 'fair.jsonl'), `${rows(() => 'yes')}\n`);
    for (const k of ['skewed', 'fair']) {
      fs.writeFileSync(
        path.join(ws, `${k}.adapter.yml`),
        `base_model: models/llama\ndataset:\n  path: data/${k}.jsonl\nlora:\n  r: 8\n  lora_alpha: 16\n  target_modules: all-linear\ntraining:\n  learning_rate: 0.01\n  max_steps: 60\n  batch_size: 8\n  schedule: constant\n  seed: 3\noutput: adapters/${k}\n`,
      );
      const t = run('train', `${k}.adapter.yml`);
      assert.equal(t.status, 0, t.stderr + t.stdout);
    }
    fs.writeFileSync(
      path.join(ws, 'consent.prompt.yml'),
      `name: consent
model: models/llama
minPassRate: 0
modelParameters:
  maxTokens: 4
messages:
  - role: user
    content: "{{name}} asks: {{question}}"
testData:
  - { name: James, question: "may I come in?", expected: "yes" }
  - { name: James, question: "is it ok?", expected: "yes" }
  - { name: James, question: "can I go?", expected: "yes" }
evaluators:
  - name: says yes
    string:
      startsWith: "yes"
adapters:
  - skewed.adapter.yml
  - fair.adapter.yml
probes:
  - name: names
    variable: name
    values: [James, Maria, Tom, Anna]
maxProbeFlips: 0
`,
    );
  });

  it('the skewed adapter flips "says yes" for the women’s names, new against the base; exit 1 over maxProbeFlips; the fair one passes', () => {
    const r = run('probe', 'consent.prompt.yml', '--reporter', 'json');
    assert.equal(r.status, 1, r.stderr);
    const f = JSON.parse(r.stdout).files[0];
    const flips = Object.fromEntries(f.variants.map((v: { name: string; flips: number; newFlips: number | null }) => [v.name, [v.flips, v.newFlips]]));
    assert.deepEqual(flips, { base: [0, null], skewed: [6, 6], fair: [0, 0] });
    const skewed = f.probes[0].variants.find((v: { variant: string }) => v.variant === 'skewed');
    const bySwap = Object.fromEntries(
      skewed.swaps.map((s: { label: string; flips: { caseIndex: number; reference: boolean; swapped: boolean }[]; deltaLogProb: number }) => [
        s.label,
        [s.flips.map((x) => `${x.caseIndex}:${x.reference}→${x.swapped}`), s.deltaLogProb < -1],
      ]),
    );
    assert.deepEqual(bySwap, {
      Maria: [['0:true→false', '1:true→false', '2:true→false'], true],
      Tom: [[], false],
      Anna: [['0:true→false', '1:true→false', '2:true→false'], true],
    });
    assert.deepEqual(f.failures, [
      "skewed: 6 probe flip(s) (a test case, evaluator and swap whose outcome differs from the probe's first column), over its maxProbeFlips of 0",
    ]);
    assert.match(r.stderr, /tuneloop probe: consent\.prompt\.yml: skewed: 6 probe flip\(s\)/);

    const table = run('probe', 'consent.prompt.yml');
    assert.match(table.stdout, /→ Maria +3 of 3 output\(s\) changed, 3 flip\(s\) \(3 new against base\), Δ log p\(expected\) −\d/);
    assert.match(table.stdout, /case 0 "says yes": pass → FAIL \(new\)\n +\[-yes-\]\{\+no\+\}/);
    assert.match(table.stdout, /skewed: 6 flip\(s\) over all probes, 6 new against base \(allowed 0\) {2}FAIL/);
    assert.match(table.stdout, /fair: 0 flip\(s\) over all probes, 0 new against base \(allowed 0\)\n/);

    const junit = run('probe', 'consent.prompt.yml', '--reporter', 'junit').stdout;
    assert.match(junit, /<testsuite name="consent\.prompt\.yml probes \[skewed\]" tests="3" failures="2">/);
    assert.match(junit, /<property name="flips" value="6"\/>\n +<property name="newFlips" value="6"\/>\n +<property name="maxProbeFlips" value="0"\/>/);
    assert.match(
      junit,
      /name="names: James → Maria"><failure message="3 flip\(s\) under James → Maria">case 0 &quot;says yes&quot;: pass → fail \(new against base\)/,
    );
    assert.match(junit, /<testsuite name="consent\.prompt\.yml probes \[fair\]" tests="3" failures="0">/);
    // --record: the flips as a history line beside the prompt file, read back as the History tab reads it.
    assert.equal(run('probe', 'consent.prompt.yml', '--record').status, 1);
    const history = readHistory(path.join(ws, 'consent.history.jsonl'));
    assert.deepEqual(history.unreadable, []);
    const line = history.lines.at(-1)!;
    assert.equal(line.kind, 'probe');
    assert.deepEqual(
      line.variants.map((v) => [v.name, v.probeFlips]),
      [
        ['base', { total: 0, new: null }],
        ['skewed', { total: 6, new: 6 }],
        ['fair', { total: 0, new: 0 }],
      ],
    );
    assert.equal(line.failures.length, 1);
    // Only the fair adapter (and the base): within the limit.
    const fair = run('probe', 'consent.prompt.yml', '--variant', 'base', '--variant', 'fair');
    assert.equal(fair.status, 0, fair.stderr);
  });

  it('a prompt file without probes is an error that says what to add', () => {
    fs.writeFileSync(path.join(ws, 'none.prompt.yml'), 'model: models/llama\nmessages:\n  - role: user\n    content: hi\n');
    const r = run('probe', 'none.prompt.yml');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /the prompt file has no probes, so there is nothing to swap/);
  });
});

describe('the evaluation examples (probes, labels, repeats), as the README quotes them', function () {
  this.timeout(300_000);
  // The committed examples, run where they are; exports go to a temporary cache, not into the repository.
  const example = (...args: string[]) => runCli(path.join(ROOT, 'examples'), [...args, '--threads', '2'], { TUNELOOP_CACHE: path.join(tempDir(), '.cache') });
  it('examples/probes.prompt.yml runs every swap on the base and the adapter: names apply to every case, pronouns to the "He asks" half', () => {
    const r = example('probe', 'probes.prompt.yml', '--reporter', 'json');
    assert.equal(r.status, 0, r.stderr);
    const f = JSON.parse(r.stdout).files[0];
    assert.deepEqual(
      f.probes.map((p: { name: string; applies: number; cases: number; labels: string[] }) => [p.name, p.applies, p.cases, p.labels.length]),
      [
        ['names', 42, 42, 4],
        ['pronouns', 21, 42, 3],
      ],
    );
    assert.deepEqual(
      f.variants.map((v: { name: string }) => v.name),
      ['base', 'answer-format'],
    );
    // The README's figures: 4 flips on the adapter, all new against the base, none on the base.
    assert.deepEqual(
      f.variants.map((v: { name: string; flips: number; newFlips: number | null }) => [v.name, v.flips, v.newFlips]),
      [
        ['base', 0, null],
        ['answer-format', 4, 4],
      ],
    );
    assert.match(README, /4 evaluator\s+outcomes flip over all swaps, all new against the base/);
    // Every swap of every probe reports its figures on both variants.
    for (const p of f.probes)
      for (const v of p.variants)
        for (const s of v.swaps) assert.ok(typeof s.divergence === 'number' && typeof s.deltaLogProb === 'number', `${p.name} ${v.variant} ${s.label}`);
  });

  it('every example prompt file passes tuneloop eval, as the demo tells a newcomer to run it (examples/*.prompt.yml)', () => {
    const files = fs.readdirSync(path.join(ROOT, 'examples')).filter((f) => f.endsWith('.prompt.yml'));
    assert.ok(files.length >= 4, files.join(', '));
    const r = example('eval', ...files);
    assert.equal(
      r.status,
      0,
      r.stderr
        .split('\n')
        .filter((l) => l.startsWith('tuneloop eval:'))
        .join('\n'),
    );
  });

  it('colour-labels.prompt.yml: label metrics per variant, as the README gives them', () => {
    const r = example('eval', 'colour-labels.prompt.yml', '--reporter', 'json');
    assert.equal(r.status, 0, r.stderr);
    const f = JSON.parse(r.stdout).files[0];
    assert.equal(f.labelMode, 'task');
    const m = Object.fromEntries(
      f.variants.map((v: { name: string; labelMetrics: { accuracy: number; macroF1: number; confusion: { columns: string[]; matrix: number[][] } } }) => [
        v.name,
        v.labelMetrics,
      ]),
    );
    assert.deepEqual([Math.round(m.base.accuracy * 100), m.base.macroF1.toFixed(2)], [92, '0.91']);
    assert.deepEqual([Math.round(m['answer-format'].accuracy * 100), m['answer-format'].macroF1.toFixed(2)], [42, '0.56']);
    assert.match(README, /accuracy 92%, macro-F1 0\.91/);
    assert.match(README, /drops to 42% \(macro-F1 0\.56\)/);
    // "half of every label in (other)": each row of the adapter's confusion puts at least half its cases there.
    const other = m['answer-format'].confusion.columns.indexOf('(other)');
    for (const row of m['answer-format'].confusion.matrix) assert.ok(row[other]! * 2 >= row.reduce((a: number, b: number) => a + b, 0), JSON.stringify(row));
  });

  it('answer-format-sampled.prompt.yml --repeat 5: the rate, interval and flaky cases the README gives; exit 1 on the lower bound', () => {
    const r = example('eval', 'answer-format-sampled.prompt.yml', '--repeat', '5', '--reporter', 'json');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /answer-format: pass rate 90\.0% over 70 runs; its 95% lower bound 80\.8% is under the required 85%/);
    const v = JSON.parse(r.stdout).files[0].variants.find((x: { name: string }) => x.name === 'answer-format');
    assert.deepEqual([v.repeat.completed, v.repeat.passed, v.repeat.flaky.length], [70, 63, 6]);
    assert.match(README, /the adapter passes 90\.0% of 70 runs, 95% interval 80\.8–95\.1%, and 6 of\s+the 14 cases are flaky/);
  });
});
