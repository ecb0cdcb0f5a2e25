import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { contaminatedPairs, overlap } from '../../src/core/distill/contamination';
import { dedupeInputs, expandInputs, jaccard, ngrams } from '../../src/core/distill/inputs';
import { distillStarter } from '../../src/core/distill/starter';
import { parsePromptText } from '../../src/core/compare/prompt-file';
import { checkRecipeFile, parseRecipe } from '../../src/core/recipes/recipe';
import { WorkerClient, WorkerError } from '../../src/worker/client';
import { DISTILL_QUESTIONS as QUESTIONS } from '../distill-fixture';
import { GOLDEN, ROOT, runCli, tempDir } from '../helpers';

/**
 * Distillation (issue 15): the recipe's teacher/student/inputs/contamination sections, the inputs'
 * expansion and deduplication, the contamination check (hand-computed overlaps, and the command
 * refusing a contaminated input), the teacher's answers cached by content, and the example distilled
 * end to end with the issue's targets.
 */
const RECIPE = `name: short
base_model: ../models/default
teacher:
  prompt: teacher.prompt.yml
student:
  prompt: student.prompt.yml
inputs:
  path: data/inputs.jsonl
dataset:
  path: data/distilled.jsonl
  validation_split: 4
training:
  max_steps: 2
  batch_size: 2
  max_seq_len: 48
`;

const TEACHER = `model: ../models/default
modelParameters:
  maxTokens: 8
messages:
  - role: system
    content: Answer in one word.
  - role: user
    content: "{{question}}"
testData:
  - question: What colour is grass?
    answer: green
  - question: What is the opposite of hot?
    answer: cold
evaluators:
  - name: right
    string:
      contains: "{{answer}}"
`;

const STUDENT = `messages:
  - role: user
    content: "{{question}}"
`;

/** A workspace with the default model beside it, a teacher, a student and inputs. */
function workspace(inputs: readonly object[], recipe = RECIPE): string {
  const root = tempDir('tuneloop-distill-');
  fs.mkdirSync(path.join(root, '.git'));
  fs.cpSync(path.join(ROOT, 'models'), path.join(root, 'models'), { recursive: true });
  const ws = path.join(root, 'ws');
  fs.mkdirSync(path.join(ws, 'data'), { recursive: true });
  fs.writeFileSync(path.join(ws, 'short.adapter.yml'), recipe);
  fs.writeFileSync(path.join(ws, 'teacher.prompt.yml'), TEACHER);
  fs.writeFileSync(path.join(ws, 'student.prompt.yml'), STUDENT);
  fs.writeFileSync(path.join(ws, 'data', 'inputs.jsonl'), `${inputs.map((r) => JSON.stringify(r)).join('\n')}\n`);
  return ws;
}

describe('distillation', function () {
  this.timeout(300_000);

  describe('the recipe', () => {
    it('reads teacher, student, inputs and contamination, with their defaults', () => {
      const { recipe, diagnostics } = parseRecipe(RECIPE, 'r.adapter.yml');
      assert.deepEqual(diagnostics, []);
      assert.deepEqual(recipe!.distill, {
        teacher: { prompt: 'teacher.prompt.yml', kind: 'sequence', temperature: 2, alpha: 0.5 },
        student: { prompt: 'student.prompt.yml' },
        inputs: { path: 'data/inputs.jsonl', dedupe: 0.9 },
        contamination: { ngram: 8, threshold: 0.5, action: 'refuse' },
      });
    });

    it('says what a distillation recipe lacks, and checks kind, expand and the contamination keys', () => {
      const noStudent = parseRecipe(RECIPE.replace('student:\n  prompt: student.prompt.yml\n', ''), 'r.adapter.yml').diagnostics;
      assert.ok(
        noStudent.some((d) => /needs "student"/.test(d.message)),
        JSON.stringify(noStudent),
      );
      const bad = parseRecipe(
        RECIPE.replace('  prompt: teacher.prompt.yml\n', '  prompt: teacher.prompt.yml\n  kind: tokens\n')
          .replace('  path: data/inputs.jsonl\n', '  expand:\n    colour: red\n')
          .concat('contamination:\n  ngram: 0\n  action: ignore\n'),
        'r.adapter.yml',
      ).diagnostics.map((d) => d.message);
      assert.ok(
        bad.some((m) => /"kind" must be one of sequence/.test(m)),
        bad.join('\n'),
      );
      assert.ok(
        bad.some((m) => /expand "colour" must be a non-empty list/.test(m)),
        bad.join('\n'),
      );
      assert.ok(
        bad.some((m) => /"ngram"/.test(m)),
        bad.join('\n'),
      );
      assert.ok(
        bad.some((m) => /"action" must be one of refuse, warn/.test(m)),
        bad.join('\n'),
      );
    });

    it('does not ask for the dataset a distillation writes, but for its teacher, student and inputs', () => {
      const ws = workspace([{ question: 'x' }]);
      const file = path.join(ws, 'short.adapter.yml');
      assert.deepEqual(
        checkRecipeFile(file).diagnostics.filter((d) => d.severity === 'error'),
        [],
      );
      fs.rmSync(path.join(ws, 'student.prompt.yml'));
      const errors = checkRecipeFile(file).diagnostics.filter((d) => d.severity === 'error');
      assert.equal(errors.length, 1);
      assert.match(errors[0]!.message, /student prompt file "student.prompt.yml" not found/);
      assert.equal(errors[0]!.line, 6);
    });
  });

  describe('inputs', () => {
    it('expand crosses lists with the file’s rows; sources name file:line', () => {
      const ws = workspace([{ question: 'a' }, { question: 'b' }]);
      const rows = expandInputs({ path: 'x', expand: { tone: ['calm', 'curt'] }, dedupe: 1 }, path.join(ws, 'data', 'inputs.jsonl'));
      assert.deepEqual(
        rows.map((r) => [r.vars, path.basename(r.source)]),
        [
          [{ question: 'a', tone: 'calm' }, 'inputs.jsonl:1'],
          [{ question: 'a', tone: 'curt' }, 'inputs.jsonl:1'],
          [{ question: 'b', tone: 'calm' }, 'inputs.jsonl:2'],
          [{ question: 'b', tone: 'curt' }, 'inputs.jsonl:2'],
        ],
      );
      assert.equal(expandInputs({ expand: { a: ['1', '2'], b: ['x', 'y', 'z'] }, dedupe: 1 }).length, 6);
    });

    it('drops exact repeats (case and spacing aside) and, below 1, near ones by trigram Jaccard', () => {
      const rows = ['What colour is grass?', 'what  colour is GRASS?', 'What colour is the grass?', 'Name the capital of France.'].map((q, i) => ({
        vars: { question: q },
        source: `f:${i + 1}`,
      }));
      const text = (r: { vars: { question?: unknown } }) => String(r.vars.question);
      // Hand-computed: "what colour is the grass" has 3 trigrams, "what colour is grass" 2; they share
      // "what colour is": 1 of 4 distinct, Jaccard 0.25.
      assert.equal(jaccard(ngrams('What colour is the grass?', 3), ngrams('What colour is grass?', 3)), 1 / 4);
      const exact = dedupeInputs(rows, 1, text);
      assert.deepEqual(exact.dropped, [{ source: 'f:2', duplicateOf: 'f:1', similarity: 1 }]);
      const near = dedupeInputs(rows, 0.25, text);
      assert.deepEqual(
        near.dropped.map((d) => d.source),
        ['f:2', 'f:3'],
      );
      assert.deepEqual(
        near.kept.map((r) => r.source),
        ['f:1', 'f:4'],
      );
    });
  });

  describe('contamination', () => {
    it('overlap is the share of the shorter text’s n-grams found in the other (hand-computed)', () => {
      // "a b c d e" 3-grams: abc bcd cde; "x b c d e y": xbc bcd cde dey. Shared 2 of the shorter's 3.
      assert.equal(overlap(ngrams('a b c d e', 3), ngrams('x b c d e y', 3)), 2 / 3);
      // A text shorter than n is one n-gram of itself: a repeated short question is found.
      assert.deepEqual([...ngrams('Hello there', 8)], ['hello there']);
      const pairs = contaminatedPairs(
        [
          { text: 'What colour is grass?', source: 'in:1' },
          { text: 'What is 2 plus 2?', source: 'in:2' },
        ],
        [
          { text: 'what colour is GRASS?', source: 'test:5' },
          { text: 'What is 3 plus 4?', source: 'test:7' },
        ],
        { ngram: 8, threshold: 0.5 },
      );
      assert.deepEqual(pairs, [
        { input: { text: 'What colour is grass?', source: 'in:1' }, test: { text: 'what colour is GRASS?', source: 'test:5' }, overlap: 1 },
      ]);
    });

    it('tuneloop distill refuses an input that repeats a held-out test case, naming both lines; warn lists it and goes on', () => {
      const inputs = [...QUESTIONS.map((q) => ({ question: q })), { question: 'what colour is grass?' }];
      const ws = workspace(inputs);
      const refused = runCli(ws, ['distill', 'short.adapter.yml', '--no-train']);
      assert.equal(refused.status, 1, refused.stderr);
      assert.match(refused.stderr, /1 input overlap held-out test cases of teacher\.prompt\.yml/);
      assert.match(
        refused.stderr,
        /data\/inputs\.jsonl:7 "what colour is grass\?" overlaps held-out .*teacher\.prompt\.yml:10 "What colour is grass\?" \(100%\)/,
      );
      assert.ok(!fs.existsSync(path.join(ws, 'data', 'distilled.jsonl')), 'no dataset after a refusal');
      fs.appendFileSync(path.join(ws, 'short.adapter.yml'), 'contamination:\n  action: warn\n');
      const warned = runCli(ws, ['distill', 'short.adapter.yml', '--no-train']);
      assert.equal(warned.status, 0, warned.stderr);
      assert.match(warned.stderr, /warning: 1 input overlap held-out/);
      assert.equal(
        fs
          .readFileSync(path.join(ws, 'data', 'distilled.jsonl'), 'utf8')
          .trim()
          .split('\n').length,
        7,
      );
    });
  });

  it('writes the student’s rows from the teacher’s answers, cached by content: a second run generates none, a cut cache only the rest', () => {
    const ws = workspace(QUESTIONS.map((q) => ({ question: q })));
    const first = runCli(ws, ['distill', 'short.adapter.yml', '--no-train']);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /teacher: 6 answers generated, 0 from the cache/);
    const rows = fs
      .readFileSync(path.join(ws, 'data', 'distilled.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { messages: { role: string; content: string }[] });
    assert.deepEqual(
      rows.map((r) => r.messages.map((m) => m.role)),
      QUESTIONS.map(() => ['user', 'assistant']),
    );
    assert.deepEqual(
      rows.map((r) => r.messages[0]!.content),
      QUESTIONS,
    );
    const again = runCli(ws, ['distill', 'short.adapter.yml', '--no-train']);
    assert.match(again.stdout, /teacher: 0 answers generated, 6 from the cache/);
    assert.equal(fs.readFileSync(path.join(ws, 'data', 'distilled.jsonl'), 'utf8'), `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
    // A run stopped half way: its cache holds the first answers, and the next run generates the rest.
    const cacheFile = /\((\S+\.jsonl)\)/.exec(again.stdout)![1]!;
    const lines = fs.readFileSync(cacheFile, 'utf8').trim().split('\n');
    fs.writeFileSync(cacheFile, `${lines.slice(0, 2).join('\n')}\n{"row": "cut sho`);
    const resumed = runCli(ws, ['distill', 'short.adapter.yml', '--no-train']);
    assert.match(resumed.stdout, /teacher: 4 answers generated, 2 from the cache/);
    // Another teacher (its messages changed) has another cache.
    fs.writeFileSync(path.join(ws, 'teacher.prompt.yml'), TEACHER.replace('Answer in one word.', 'Reply with a single word.'));
    assert.match(runCli(ws, ['distill', 'short.adapter.yml', '--no-train']).stdout, /teacher: 6 answers generated, 0 from the cache/);
  });

  it('token-level: rows carry the teacher’s ids and top-5, which the student’s tokens align with; training reports every row carrying them', () => {
    const ws = workspace(
      QUESTIONS.map((q) => ({ question: q })),
      RECIPE.replace('  prompt: teacher.prompt.yml\n', '  prompt: teacher.prompt.yml\n  kind: token\n  temperature: 2\n  alpha: 0.5\n'),
    );
    const r = runCli(ws, ['distill', 'short.adapter.yml', '--no-train']);
    assert.equal(r.status, 0, r.stderr);
    const rows = fs
      .readFileSync(path.join(ws, 'data', 'distilled.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { teacher: { ids: number[]; top: [number, number][][] } });
    for (const row of rows) {
      assert.ok(row.teacher.ids.length > 0 && row.teacher.top.length === row.teacher.ids.length);
      // Greedy: each token is its step's most likely, first in its top 5, whose log-probabilities fall.
      row.teacher.top.forEach((top, j) => {
        assert.equal(top.length, 5);
        assert.equal(top[0]![0], row.teacher.ids[j]);
        for (let k = 1; k < 5; k++) assert.ok(top[k]![1] <= top[k - 1]![1]);
      });
    }
    const t = runCli(ws, ['train', 'short.adapter.yml']);
    assert.equal(t.status, 0, t.stderr);
    assert.match(t.stdout, /token-level distillation: 6 of 6 rows carry the teacher's top-5, on \d+ of \d+ answer tokens \(τ 2, α 0\.5\)/);
  });

  it('token-level needs one tokenizer for teacher and student, and says so', () => {
    const ws = workspace(
      [{ question: 'x' }],
      RECIPE.replace('  prompt: teacher.prompt.yml\n', '  prompt: teacher.prompt.yml\n  model: llama\n  kind: token\n'),
    );
    fs.cpSync(path.join(GOLDEN, 'llama'), path.join(ws, 'llama'), { recursive: true });
    // The golden llama shares the default model's tokenizer: give the teacher's copy one token renamed.
    const file = path.join(ws, 'llama', 'tokenizer.json');
    const tok = JSON.parse(fs.readFileSync(file, 'utf8')) as { model: { vocab: Record<string, number> } };
    const [name, id] = Object.entries(tok.model.vocab).find(([, v]) => v === 300)!;
    delete tok.model.vocab[name];
    tok.model.vocab['renamed-token'] = id;
    fs.writeFileSync(file, JSON.stringify(tok));
    const r = runCli(ws, ['distill', 'short.adapter.yml', '--no-train']);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /teacher\.kind: token needs the teacher and the student to share a tokenizer, and .*llama\/tokenizer\.json differs from .*default\/tokenizer\.json.*use teacher\.kind: sequence/s,
    );
  });

  it('paraphrasing: each input reworded n times by a prompt on the local model, seeded (the same rows twice), then deduplicated and checked for contamination like any input', () => {
    const recipe = RECIPE.replace(
      '  path: data/inputs.jsonl\n',
      '  path: data/inputs.jsonl\n  paraphrase:\n    prompt: reword.prompt.yml\n    variable: question\n    n: 2\n    seed: 3\n',
    );
    const ws = workspace(
      ['Which colour is grass?', 'What is 2 plus 3?', 'Name the capital of France.'].map((q) => ({ question: q })),
      recipe,
    );
    fs.writeFileSync(
      path.join(ws, 'reword.prompt.yml'),
      'modelParameters:\n  temperature: 0.9\n  maxTokens: 16\nmessages:\n  - role: user\n    content: "Say this another way: {{question}}"\n',
    );
    // The default model answers rather than rewords: its first rewording of the grass question is
    // "Grass is green.", which this held-out case repeats.
    fs.writeFileSync(path.join(ws, 'teacher.prompt.yml'), TEACHER.replace('  - question: What colour is grass?\n', '  - question: Grass is green.\n'));
    const refused = runCli(ws, ['distill', 'short.adapter.yml', '--no-train']);
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(
      refused.stderr,
      /data\/inputs\.jsonl:1 \(paraphrase 1\) "Grass is green\." overlaps held-out .*teacher\.prompt\.yml:\d+ "Grass is green\." \(100%\)/,
    );
    fs.appendFileSync(path.join(ws, 'short.adapter.yml'), 'contamination:\n  action: warn\n');
    const first = runCli(ws, ['distill', 'short.adapter.yml', '--no-train']);
    assert.equal(first.status, 0, first.stderr);
    const m = /inputs: (\d+) rows, (\d+) of them rewordings/.exec(first.stdout);
    assert.ok(m && Number(m[2]) >= 1 && Number(m[1]) === 3 + Number(m[2]), first.stdout);
    assert.equal(
      fs
        .readFileSync(path.join(ws, 'data', 'distilled.jsonl'), 'utf8')
        .trim()
        .split('\n').length,
      Number(m[1]),
    );
    // Seeded: at a temperature where every sample differs, the same seed gives the same rows, another seed others.
    fs.writeFileSync(
      path.join(ws, 'reword.prompt.yml'),
      'modelParameters:\n  temperature: 2\n  maxTokens: 12\nmessages:\n  - role: user\n    content: "Say this another way: {{question}}"\n',
    );
    const distilled = () => {
      const r = runCli(ws, ['distill', 'short.adapter.yml', '--no-train']);
      assert.equal(r.status, 0, r.stderr);
      return fs.readFileSync(path.join(ws, 'data', 'distilled.jsonl'), 'utf8');
    };
    const seeded = distilled();
    assert.equal(distilled(), seeded, 'the same seed gives the same rows');
    const file = path.join(ws, 'short.adapter.yml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('    seed: 3\n', '    seed: 4\n'));
    assert.notEqual(distilled(), seeded, 'another seed gives other rewordings');
  });

  it('paraphrase needs its prompt and the variable to reword', () => {
    const d = parseRecipe(
      RECIPE.replace('  path: data/inputs.jsonl\n', '  path: data/inputs.jsonl\n  paraphrase:\n    prompt: reword.prompt.yml\n'),
      'r.adapter.yml',
    ).diagnostics;
    assert.ok(
      d.some((x) => /missing "inputs.paraphrase.variable"/.test(x.message)),
      JSON.stringify(d),
    );
    const { recipe } = parseRecipe(
      RECIPE.replace('  path: data/inputs.jsonl\n', '  path: data/inputs.jsonl\n  paraphrase:\n    prompt: p.prompt.yml\n    variable: question\n'),
      'r.adapter.yml',
    );
    assert.deepEqual(recipe!.distill!.inputs.paraphrase, { prompt: 'p.prompt.yml', variable: 'question', n: 1, seed: 1 });
  });

  it('the extension’s Distill, in the worker (request distillData): the same rows as the command, progress as events; a refused contamination is the user’s error', async () => {
    const worker = new WorkerClient({ entry: path.join(ROOT, 'dist', 'worker.js') });
    try {
      const ws = workspace(QUESTIONS.map((q) => ({ question: q })));
      const events: string[] = [];
      const cacheDir = path.join(ws, '.cache');
      const r = await worker.request('distillData', { recipe: path.join(ws, 'short.adapter.yml'), cacheDir }, undefined, (e) => {
        if (e.type === 'progress') events.push(e.message);
      });
      assert.deepEqual(
        { ...r, datasetFile: path.relative(ws, r.datasetFile) },
        {
          cancelled: false,
          datasetFile: path.join('data', 'distilled.jsonl'),
          inputs: 6,
          rewordings: 0,
          dropped: 0,
          rows: 6,
          generated: 6,
          cached: 0,
          cut: r.cut,
        },
      );
      assert.ok(events.includes('teacher: 6/6 answers'), events.join(' | '));
      const fromWorker = fs.readFileSync(r.datasetFile, 'utf8');
      const cli = runCli(ws, ['distill', 'short.adapter.yml', '--no-train']);
      assert.equal(cli.status, 0, cli.stderr);
      assert.equal(fs.readFileSync(r.datasetFile, 'utf8'), fromWorker);
      fs.appendFileSync(path.join(ws, 'data', 'inputs.jsonl'), '{"question": "What colour is grass?"}\n');
      await assert.rejects(
        worker.request('distillData', { recipe: path.join(ws, 'short.adapter.yml'), cacheDir }),
        (e: unknown) => e instanceof WorkerError && e.info.user && /1 input overlap held-out test cases/.test(e.message),
      );
    } finally {
      worker.dispose();
    }
  });

  it('from a prompt file: a starter recipe, a student prompt without the system prompt and an inputs row, which distill runs; nothing is replaced', () => {
    const ws = workspace([{ question: 'x' }]);
    const file = path.join(ws, 'teacher.prompt.yml');
    const prompt = parsePromptText(fs.readFileSync(file, 'utf8'), file);
    const made = distillStarter(file, prompt, ['question']);
    assert.deepEqual(made.written.map((f) => path.relative(ws, f)).sort(), [
      path.join('data', 'teacher-inputs.jsonl'),
      'teacher-distilled.adapter.yml',
      'teacher-short.prompt.yml',
    ]);
    const student = parsePromptText(fs.readFileSync(made.student, 'utf8'), made.student);
    assert.deepEqual(
      student.messages.map((m) => [m.role, m.content]),
      [['user', '{{question}}']],
    );
    const { recipe, diagnostics } = checkRecipeFile(made.recipe);
    assert.deepEqual(
      diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
    assert.equal(recipe!.distill!.teacher.prompt, 'teacher.prompt.yml');
    assert.equal(recipe!.baseModel, '../models/default');
    const r = runCli(ws, ['distill', path.basename(made.recipe), '--no-train']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /dataset: 1 row written/);
    fs.writeFileSync(made.student, 'messages:\n  - role: user\n    content: "Q: {{question}}"\n');
    assert.deepEqual(distillStarter(file, prompt, ['question']).written, [], 'the files exist: none is written again');
    assert.match(fs.readFileSync(made.student, 'utf8'), /Q: \{\{question\}\}/);
  });

  it('tuneloop train on a distillation recipe before distill says to run distill', () => {
    const ws = workspace(QUESTIONS.map((q) => ({ question: q })));
    const r = runCli(ws, ['train', 'short.adapter.yml']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /dataset "data\/distilled\.jsonl" is what tuneloop distill writes.*run tuneloop distill short\.adapter\.yml/s);
  });

  it('the example: the long JSON prompt distilled into an adapter meets the issue’s targets, in under 5 minutes', function () {
    this.timeout(600_000);
    const root = tempDir('tuneloop-distill-example-');
    fs.mkdirSync(path.join(root, '.git'));
    fs.cpSync(path.join(ROOT, 'examples'), path.join(root, 'examples'), { recursive: true, filter: (p) => !p.includes('.tuneloop') });
    fs.cpSync(path.join(ROOT, 'models'), path.join(root, 'models'), { recursive: true });
    const ws = path.join(root, 'examples');
    const started = Date.now();
    const r = runCli(ws, ['distill', 'json-answers.adapter.yml', '--baseline', 'sentence', '--json', '--threads', '2']);
    const seconds = (Date.now() - started) / 1000;
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    const report = JSON.parse(r.stdout.slice(r.stdout.indexOf('{\n'))) as {
      cases: number;
      teacher: { passRate: number; outputs: string[] };
      students: { name: string; passRate: number; agreement: { passedWhereTeacherPassed: number }; outputs: string[] }[];
      inputTokenSaving: number;
    };
    const student = report.students.find((s) => s.name === 'student')!;
    const baseline = report.students.find((s) => s.name.startsWith('baseline'))!;
    assert.ok(report.cases >= 40, `${report.cases} held-out cases`);
    assert.ok(report.teacher.passRate >= 0.8, `teacher ${report.teacher.passRate}`);
    assert.ok(student.agreement.passedWhereTeacherPassed >= 0.9, `student on the teacher's passes ${student.agreement.passedWhereTeacherPassed}`);
    assert.ok(report.inputTokenSaving >= 0.5, `input tokens fall by ${report.inputTokenSaving}`);
    assert.ok(baseline.passRate <= student.passRate - 0.1, `baseline ${baseline.passRate} against the student ${student.passRate}`);
    // The outputs a person would read: the student's are JSON answers, as the teacher's are.
    assert.ok(student.outputs.filter((o) => /^\{"answer": "[^"]+"\}$/.test(o)).length >= 0.9 * report.cases, student.outputs.join('\n'));
    assert.ok(seconds < 300, `${seconds} s`);
  });
});
