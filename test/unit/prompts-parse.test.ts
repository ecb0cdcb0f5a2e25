import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkFiles, findPromptFiles, formatDiagnostic } from '../../src/core/prompts/check';
import { hostedModel } from '../../src/core/prompts/hosted';
import { EVALUATOR_KINDS } from '../../src/core/prompts/parse-evaluators';
import { keysAt } from '../../src/core/prompts/key-table';
import { parsePrompt } from '../../src/core/prompts/parse';
import { editDistance, suggest } from '../../src/core/yaml/suggest';
import type { Diagnostic } from '../../src/core/prompts/types';
import { FIXTURES, tempDir } from '../helpers';

const GITHUB = path.join(FIXTURES, 'examples', 'github');
const MALFORMED = path.join(FIXTURES, 'prompts', 'malformed');
const VALID = path.join(FIXTURES, 'prompts', 'valid');

function parse(text: string) {
  return parsePrompt(text, 'x.prompt.yml');
}

function summary(ds: readonly Diagnostic[]): string[] {
  return ds.map((d) => `${d.line}:${d.column} ${d.severity} ${d.code}`);
}

function only(ds: readonly Diagnostic[], code: Diagnostic['code']): Diagnostic {
  const found = ds.filter((d) => d.code === code);
  assert.equal(found.length, 1, `one ${code} in ${JSON.stringify(ds, null, 1)}`);
  return found[0]!;
}

describe('prompt files: the GitHub Models examples', () => {
  it('sample_prompt.yml: no errors; the hosted model warns, the similarity judge is a note', () => {
    const file = path.join(GITHUB, 'sample_prompt.yml');
    const r = parsePrompt(fs.readFileSync(file, 'utf8'), file);
    assert.deepEqual(summary(r.diagnostics), ['3:8 warning hosted-model', '24:5 info hosted-judge']);
    const p = r.prompt!;
    assert.equal(p.model, 'openai/gpt-4o');
    assert.deepEqual(p.modelParameters, { temperature: 0.5, maxTokens: 50 });
    assert.deepEqual(
      p.testData!.map((t) => t.values),
      [
        { input: 'hello world', string: 'hello', expected: 'greeting response' },
        { input: 'goodbye world', string: 'goodbye', expected: 'farewell response' },
      ],
    );
    assert.deepEqual(
      p.evaluators.map((e) => [e.name, e.kind]),
      [
        ['string evaluator', 'string'],
        ['similarity check', 'uses'],
      ],
    );
    // `string` is used only by the evaluator template, `expected` by the hosted judge: no unused warnings.
    assert.ok(!r.diagnostics.some((d) => d.code === 'unused-variable'));
  });

  it('template_variables_prompt.yml: placeholders without testData are fine', () => {
    const file = path.join(GITHUB, 'template_variables_prompt.yml');
    const r = parsePrompt(fs.readFileSync(file, 'utf8'), file);
    assert.deepEqual(summary(r.diagnostics), ['4:8 warning hosted-model']);
    assert.equal(r.prompt!.testData, undefined);
    assert.equal(r.prompt!.messages.length, 2);
  });

  it('json_schema_prompt.yml: the schema is read as an object', () => {
    const file = path.join(GITHUB, 'json_schema_prompt.yml');
    const r = parsePrompt(fs.readFileSync(file, 'utf8'), file);
    assert.deepEqual(summary(r.diagnostics), ['3:8 warning hosted-model']);
    assert.equal(r.prompt!.responseFormat, 'json_schema');
    assert.deepEqual(r.prompt!.jsonSchema!['required'], ['name', 'age']);
  });

  it('checkFiles on the folder finds the three examples and reports no errors', () => {
    // The examples are named *.yml, not *.prompt.yml, so they are passed one by one.
    const files = fs
      .readdirSync(GITHUB)
      .filter((f) => f.endsWith('.yml'))
      .map((f) => path.join(GITHUB, f));
    assert.equal(files.length, 3);
    const ds = checkFiles(files);
    assert.deepEqual(
      ds.filter((d) => d.severity === 'error'),
      [],
    );
    assert.equal(ds.filter((d) => d.severity === 'warning').length, 3);
  });
});

describe('prompt files: malformed fixtures (table-driven from "# expect: LINE /regex/")', () => {
  const files = fs
    .readdirSync(MALFORMED)
    .filter((f) => /\.prompt\.ya?ml$/.test(f))
    .sort();

  it('there are at least 20 of them, each with an expectation', () => {
    assert.ok(files.length >= 20, `${files.length} fixtures`);
  });

  for (const f of files) {
    it(f, () => {
      const text = fs.readFileSync(path.join(MALFORMED, f), 'utf8');
      const m = /^# expect: (\d+) \/(.*)\/\s*$/m.exec(text.split('\n')[0]!);
      assert.ok(m, `${f}: the first line must be "# expect: LINE /regex/"`);
      const line = Number(m[1]);
      const re = new RegExp(m[2]!);
      const { diagnostics } = parsePrompt(text, f);
      const errors = diagnostics.filter((d) => d.severity === 'error');
      const hit = errors.find((d) => re.test(d.message));
      assert.ok(hit, `${f}: no error matches ${re}; got ${JSON.stringify(errors.map((d) => `${d.line}: ${d.message}`))}`);
      assert.equal(hit.line, line, `${f}: "${hit.message}" is on line ${hit.line}, expected ${line}`);
      assert.ok(hit.column >= 1 && hit.endLine >= hit.line);
    });
  }
});

describe('prompt files: validation', () => {
  it('a file with every Tuneloop addition parses with no diagnostics and keeps all values', () => {
    const file = path.join(VALID, 'support-reply.prompt.yml');
    const r = parsePrompt(fs.readFileSync(file, 'utf8'), file);
    assert.deepEqual(r.diagnostics, []);
    const p = r.prompt!;
    assert.deepEqual(p.modelParameters, { maxTokens: 64, temperature: 0, topP: 0.9, topK: 40, repetitionPenalty: 1.1, seed: 7, stop: ['\n\n', '###'] });
    // GitHub's {name, strict, schema} wrapper, given as a JSON string, is unwrapped.
    assert.deepEqual(p.jsonSchema!['required'], ['answer', 'mood']);
    assert.deepEqual(
      p.adapters.map((a) => [a.path, a.minPassRate, a.maxRegressions]),
      [
        ['../../golden/llama/adapter', undefined, undefined],
        ['../../golden/llama/adapter_trained', 0.5, 2],
      ],
    );
    assert.equal(p.minPassRate, 0.8);
    assert.equal(p.maxRegressions, 0);
    assert.equal(p.snapshot, 'support-reply.snapshot.json');
    assert.equal(p.dtype, 'q8');
    const json = p.evaluators[0]!;
    assert.ok(json.kind === 'json' && json.schema === p.jsonSchema, 'json: true takes the file schema');
    const regex = p.evaluators[2]!;
    assert.ok(regex.kind === 'regex' && regex.not && regex.flags === 'i' && regex.pattern === '\\bsorry\\b');
    assert.deepEqual(checkFiles([file]), [], 'its adapters exist relative to the file');
  });

  it('unknown keys warn at the key, with a suggestion for near misses', () => {
    const text = [
      'name: x',
      'modelParameters:',
      '  max_tokens: 5',
      '  temprature: 0.2',
      'mesages: []',
      'messages:',
      '  - role: user',
      '    content: hi',
      '    rol: user',
      'zzz: 1',
      '',
    ].join('\n');
    const ds = parse(text).diagnostics.filter((d) => d.code === 'unknown-key');
    assert.deepEqual(
      ds.map((d) => [d.line, d.column, d.severity]),
      [
        [3, 3, 'warning'],
        [4, 3, 'warning'],
        [5, 1, 'warning'],
        [9, 5, 'warning'],
        [10, 1, 'warning'],
      ],
    );
    assert.match(ds[0]!.message, /unknown key "max_tokens" in "modelParameters"; it is ignored \(did you mean "maxTokens"\?\)/);
    assert.match(ds[1]!.message, /did you mean "temperature"/);
    assert.match(ds[2]!.message, /unknown key "mesages" at the top level.*did you mean "messages"/);
    assert.match(ds[3]!.message, /in "messages\[0\]".*did you mean "role"/);
    assert.doesNotMatch(ds[4]!.message, /did you mean/);
    // The unknown keys' values are not read: max_tokens does not become maxTokens.
    assert.deepEqual(parse(text).prompt!.modelParameters, {});
  });

  it('task: classification at the top level; another value is an error at its line naming the choice', () => {
    const file = (task: string) => `task: ${task}\nmessages:\n  - role: user\n    content: hi\n`;
    const r = parse(file('classification'));
    assert.deepEqual(r.diagnostics, []);
    assert.equal(r.prompt!.task, 'classification');
    const bad = parse(file('classifcation'));
    const e = only(bad.diagnostics, 'unknown-value');
    assert.deepEqual([e.severity, e.line, e.column], ['error', 1, 7]);
    assert.equal(e.message, 'unknown task "classifcation": use "classification" (did you mean "classification"?)');
    assert.equal(bad.prompt!.task, undefined);
  });

  it('dtype: a top-level choice of fp32, q8 or q4; a wrong value is an error at its line naming the choices; under modelParameters it says to move it', () => {
    const file = (dtype: string) => `name: x\nmodel: m\ndtype: ${dtype}\nmessages:\n  - role: user\n    content: hi\n`;
    for (const d of ['fp32', 'q8', 'q4'] as const) {
      const r = parse(file(d));
      assert.deepEqual(r.diagnostics, [], d);
      assert.equal(r.prompt!.dtype, d);
    }
    assert.equal(parse('messages:\n  - role: user\n    content: hi\n').prompt!.dtype, undefined, 'absent: the setting or fp32 decides');
    const bad = parse(file('Q4'));
    const e = only(bad.diagnostics, 'unknown-value');
    assert.deepEqual([e.severity, e.line, e.column], ['error', 3, 8]);
    assert.equal(e.message, 'unknown dtype "Q4": use "fp32", "q8" or "q4" (did you mean "q4"?)');
    assert.equal(bad.prompt!.dtype, undefined);
    assert.match(only(parse(file('float32')).diagnostics, 'unknown-value').message, /did you mean "fp32"/);
    assert.match(only(parse(file('int8')).diagnostics, 'unknown-value').message, /did you mean "q8"/);
    assert.doesNotMatch(only(parse(file('bf16')).diagnostics, 'unknown-value').message, /did you mean/);
    assert.match(only(parse(file('4')).diagnostics, 'unknown-value').message, /^unknown dtype "4": .*did you mean "q4"/);
    // GitHub Models reads modelParameters: dtype there is ignored, with the way out.
    const nested = parse('modelParameters:\n  maxTokens: 5\n  dtype: q4\nmessages:\n  - role: user\n    content: hi\n');
    const w = only(nested.diagnostics, 'unknown-key');
    assert.deepEqual([w.severity, w.line, w.column], ['warning', 3, 3]);
    assert.match(w.message, /^"dtype" is a top-level key, not a model parameter .*move it out of modelParameters/);
    assert.equal(nested.prompt!.dtype, undefined);
    assert.deepEqual(nested.prompt!.modelParameters, { maxTokens: 5 });
    assert.match(only(parse('quantization: q4\nmessages:\n  - role: user\n    content: hi\n').diagnostics, 'unknown-key').message, /did you mean "dtype"/);
  });

  it('positions span the offending node: start and end line and column', () => {
    const d = only(parse('messages:\n  - role: user\n    content: hi\nmodelParameters:\n  temperature: "hot"\n').diagnostics, 'type');
    assert.deepEqual([d.line, d.column, d.endLine, d.endColumn], [5, 16, 5, 21]);
    assert.match(d.message, /"temperature" must be a number from 0 to 2, got the text "hot"/);
    const q = only(parse('messages:\n  - role: user\n    content: hi\nmodelParameters:\n  temperature: "0.5"\n').diagnostics, 'type');
    assert.match(q.message, /\(remove the quotes\)/);
  });

  it('the hosted model table: GitHub publishers and bare OpenAI ids, not Hub ids or folders', () => {
    for (const id of [
      'openai/gpt-4o',
      'openai/gpt-4.1-mini',
      'microsoft/phi-4',
      'meta/llama-3.3-70b-instruct',
      'mistral-ai/mistral-small-2503',
      'cohere/cohere-command-a',
      'deepseek/deepseek-r1',
      'xai/grok-3',
      'ai21-labs/ai21-jamba-1.5-large',
      'core42/jais-30b-chat',
      'gpt-4o-mini',
      'o3-mini',
      'o1',
    ]) {
      assert.ok(hostedModel(id), id);
    }
    for (const id of [
      'meta-llama/Llama-3.2-1B-Instruct',
      'Qwen/Qwen2.5-0.5B-Instruct',
      'mistralai/Mistral-7B-v0.1',
      'deepseek-ai/DeepSeek-R1',
      'gpt2',
      'distilgpt2',
      './openai/gpt-4o',
      '/models/openai',
      'HuggingFaceTB/SmolLM2-135M',
    ]) {
      assert.equal(hostedModel(id), undefined, id);
    }
    const d = only(parse('model: gpt-4o-mini\nmessages:\n  - role: user\n    content: hi\n').diagnostics, 'hosted-model');
    assert.equal(d.severity, 'warning');
    assert.match(d.message, /configured local model/);
    assert.deepEqual(parse('model: Qwen/Qwen2.5-0.5B-Instruct\nmessages:\n  - role: user\n    content: hi\n').diagnostics, []);
  });

  it('llm judges are accepted as notes and their prompts count as using variables', () => {
    const text = [
      'messages:',
      '  - role: user',
      '    content: "{{q}}"',
      'testData:',
      '  - q: two plus two',
      '    rubric: exact',
      'evaluators:',
      '  - name: judge',
      '    llm:',
      '      modelId: openai/gpt-4o-mini',
      '      prompt: "Grade {{completion}} against {{rubric}}"',
      '      choices:',
      '        - choice: good',
      '          score: 1',
      '        - choice: bad',
      '          score: 0',
      '',
    ].join('\n');
    const r = parse(text);
    assert.deepEqual(summary(r.diagnostics), ['9:5 info hosted-judge']);
    const e = r.prompt!.evaluators[0]!;
    assert.ok(e.kind === 'llm');
    assert.deepEqual(e.llm.choices, [
      { choice: 'good', score: 1 },
      { choice: 'bad', score: 0 },
    ]);
  });

  it('every evaluator kind is a documented evaluator key (completion and unknown-key checks read that table)', () => {
    assert.deepEqual(EVALUATOR_KINDS, ['string', 'regex', 'json', 'maxLength', 'uses', 'llm']);
    for (const k of EVALUATOR_KINDS) assert.ok(keysAt(['evaluators', 0])!.includes(k), k);
  });

  it('unknown keys inside an evaluator name its index', () => {
    const text = [
      'messages:',
      '  - role: user',
      '    content: hi',
      'evaluators:',
      '  - name: a',
      '    maxLength: 3',
      '  - name: j',
      '    llm:',
      '      modelId: m',
      '      promt: x',
      '',
    ].join('\n');
    const d = only(parse(text).diagnostics, 'unknown-key');
    assert.equal(d.line, 10);
    assert.match(d.message, /unknown key "promt" in "evaluators\[1\]\.llm"; it is ignored \(did you mean "prompt"\?\)/);
  });

  it('unused test values warn once, at the first key; expected counts only when something uses it', () => {
    const base = ['messages:', '  - role: user', '    content: "{{a}}"', 'testData:', '  - a: 1', '    b: 2', '    expected: x', '  - a: 3', '    b: 4'];
    const r = parse([...base, ''].join('\n'));
    const unused = r.diagnostics.filter((d) => d.code === 'unused-variable');
    assert.deepEqual(
      unused.map((d) => [d.line, d.column]),
      [
        [6, 5],
        [7, 5],
      ],
    );
    assert.match(unused[0]!.message, /test value "b" is not used by any message or evaluator/);
    assert.match(unused[1]!.message, /contains: '\{\{expected\}\}'/);
    const judged = parse([...base, 'evaluators:', '  - name: sim', '    uses: github/similarity', ''].join('\n'));
    assert.deepEqual(
      judged.diagnostics.filter((d) => d.code === 'unused-variable').map((d) => d.line),
      [6],
    );
  });

  it('a variable missing from several test cases is one error listing them', () => {
    const text = ['messages:', '  - role: user', '    content: "{{a}} and {{ b }}"', 'testData:', '  - a: 1', '  - b: 2', '  - c: 3', ''].join('\n');
    const errs = parse(text).diagnostics.filter((d) => d.code === 'missing-variable');
    assert.deepEqual(
      errs.map((d) => [d.line, d.column, d.endColumn]),
      [
        [3, 15, 20],
        [3, 25, 32],
      ],
    );
    assert.match(errs[0]!.message, /\{\{a\}\} has no value in testData\[1\] \(line 6\), testData\[2\] \(line 7\): add "a: \.\.\." to those test cases/);
    assert.match(errs[1]!.message, /\{\{b\}\} has no value in testData\[0\] \(line 5\), testData\[2\] \(line 7\)/);
  });

  it('a string evaluator with two checks runs the first in GitHub order and warns about the other', () => {
    const r = parse(
      [
        'messages:',
        '  - role: user',
        '    content: hi',
        'evaluators:',
        '  - name: two',
        '    string:',
        '      endsWith: "!"',
        '      contains: hello',
        '',
      ].join('\n'),
    );
    const d = only(r.diagnostics, 'evaluator-conflict');
    assert.equal(d.severity, 'warning');
    assert.equal(d.line, 7);
    const e = r.prompt!.evaluators[0]!;
    assert.ok(e.kind === 'string' && e.check === 'contains' && e.value === 'hello');
  });

  it('an unknown judge name and a misplaced flags key are warnings', () => {
    const r = parse(
      [
        'messages:',
        '  - role: user',
        '    content: hi',
        'evaluators:',
        '  - name: sim',
        '    uses: github/similarty',
        '  - name: s',
        '    flags: i',
        '    string: {contains: hi}',
        '',
      ].join('\n'),
    );
    assert.deepEqual(summary(r.diagnostics), ['6:5 info hosted-judge', '6:11 warning unknown-value', '8:5 warning unknown-key']);
    assert.match(r.diagnostics[1]!.message, /did you mean "github\/similarity"/);
  });

  it('duplicate evaluator names and unchecked JSON schema keywords warn', () => {
    const r = parse(
      [
        'responseFormat: json_schema',
        'jsonSchema:',
        '  type: string',
        '  pattern: "^a"',
        'messages:',
        '  - role: user',
        '    content: hi',
        'evaluators:',
        '  - name: a',
        '    maxLength: 3',
        '  - name: a',
        '    maxLength: 4',
        '',
      ].join('\n'),
    );
    assert.deepEqual(summary(r.diagnostics), ['4:3 warning json-schema', '11:5 warning duplicate-name']);
  });

  it('a jsonSchema nobody uses warns', () => {
    const d = only(parse('jsonSchema: {type: object}\nmessages:\n  - role: user\n    content: hi\n').diagnostics, 'unknown-key');
    assert.equal(d.line, 1);
    assert.match(d.message, /responseFormat: json_schema/);
  });

  it('an empty file and a multi-document file are errors', () => {
    assert.match(only(parse('').diagnostics, 'no-messages').message, /the file is empty/);
    assert.equal(parse('').prompt, undefined);
    const multi = parse('messages:\n  - role: user\n    content: hi\n---\nname: two\n');
    assert.equal(multi.prompt, undefined);
    assert.ok(
      multi.diagnostics.some((d) => d.code === 'yaml-syntax' && d.line === 4),
      JSON.stringify(multi.diagnostics),
    );
  });

  it('numbers and booleans read as text where GitHub reads text; empty content is an error', () => {
    const r = parse('name: 2024\nmessages:\n  - role: user\n    content: 42\n  - role: assistant\n    content:\n');
    assert.equal(r.prompt!.name, '2024');
    assert.equal(r.prompt!.messages[0]!.content, '42');
    const d = only(r.diagnostics, 'no-content');
    assert.deepEqual([d.line, d.column], [6, 5]);
    assert.match(d.message, /message 1 has empty content/);
    assert.match(only(parse('name: [a]\nmessages:\n  - role: user\n    content: hi\n').diagnostics, 'type').message, /"name" must be text, got a list/);
  });

  it('a half-valid file still yields a prompt with the parts that are valid', () => {
    const r = parse('messages:\n  - role: bot\n    content: hi\n  - role: user\n    content: "{{x}}"\nmodelParameters:\n  temperature: 9\n  maxTokens: 3\n');
    assert.ok(r.diagnostics.some((d) => d.severity === 'error'));
    assert.deepEqual(
      r.prompt!.messages.map((m) => m.role),
      ['user'],
    );
    assert.deepEqual(r.prompt!.modelParameters, { maxTokens: 3 });
  });
});

describe('prompt files: suggestions', () => {
  it('edit distance counts transpositions as one edit', () => {
    assert.equal(editDistance('temperature', 'temperature'), 0);
    assert.equal(editDistance('tempreature', 'temperature'), 1);
    assert.equal(editDistance('abc', ''), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
  });

  it('suggest folds case and separators, knows synonyms, and stays quiet when nothing is close', () => {
    assert.equal(suggest('max_tokens', ['maxTokens', 'topP']), 'maxTokens');
    assert.equal(suggest('TOP-P', ['maxTokens', 'topP']), 'topP');
    assert.equal(suggest('beginsWith', ['equals', 'contains', 'startsWith', 'endsWith']), 'startsWith');
    assert.equal(suggest('bot', ['system', 'user', 'assistant']), 'assistant');
    assert.equal(suggest('User', ['system', 'user', 'assistant']), 'user');
    assert.equal(suggest('zebra', ['system', 'user', 'assistant']), undefined);
    // A synonym only counts where its target is allowed.
    assert.equal(suggest('prompt', ['modelId', 'prompt', 'choices']), 'prompt');
  });
});

describe('prompt files: checkFiles and formatDiagnostic', () => {
  it('formats compiler-style lines; info prints as note', () => {
    const d: Diagnostic = { file: 'a.prompt.yml', line: 3, column: 7, endLine: 3, endColumn: 9, severity: 'info', message: 'm', code: 'hosted-judge' };
    assert.equal(formatDiagnostic(d), 'a.prompt.yml:3:7: note: m');
    assert.equal(formatDiagnostic({ ...d, severity: 'error' }), 'a.prompt.yml:3:7: error: m');
    assert.equal(formatDiagnostic({ ...d, severity: 'warning' }), 'a.prompt.yml:3:7: warning: m');
  });

  it('searches folders for *.prompt.yml and *.prompt.yaml, skipping hidden folders and node_modules', () => {
    const d = tempDir();
    const ok = 'messages:\n  - role: user\n    content: hi\n';
    fs.mkdirSync(path.join(d, 'sub'));
    fs.mkdirSync(path.join(d, '.tuneloop'));
    fs.mkdirSync(path.join(d, 'node_modules'));
    fs.writeFileSync(path.join(d, 'a.prompt.yml'), ok);
    fs.writeFileSync(path.join(d, 'sub', 'b.prompt.yaml'), 'messages: []\n');
    fs.writeFileSync(path.join(d, 'c.yml'), 'not: a prompt\n');
    fs.writeFileSync(path.join(d, '.tuneloop', 'x.prompt.yml'), 'messages: []\n');
    fs.writeFileSync(path.join(d, 'node_modules', 'y.prompt.yml'), 'messages: []\n');
    assert.deepEqual(findPromptFiles([d]), [path.join(d, 'a.prompt.yml'), path.join(d, 'sub', 'b.prompt.yaml')]);
    const ds = checkFiles([d]);
    assert.deepEqual(ds.map(formatDiagnostic), [
      `${path.join(d, 'sub', 'b.prompt.yaml')}:1:11: error: "messages" is empty: add at least one message, e.g. "- role: user" with "content: ..."`,
    ]);
  });

  it('reports a missing file and a missing adapter', () => {
    const d = tempDir();
    fs.writeFileSync(path.join(d, 'p.prompt.yml'), 'messages:\n  - role: user\n    content: hi\nadapters:\n  - tone.adapter.yml\n  - path: adapters/none\n');
    fs.writeFileSync(path.join(d, 'tone.adapter.yml'), 'name: tone\n');
    const ds = checkFiles([path.join(d, 'p.prompt.yml'), path.join(d, 'missing.prompt.yml')]);
    // Files in sorted order: missing.prompt.yml, then p.prompt.yml.
    assert.deepEqual(summary(ds), ['1:1 error file', '6:5 error file']);
    assert.match(ds[0]!.message, /cannot read the prompt file: no such file or folder/);
    assert.match(ds[1]!.message, /adapter "adapters\/none" not found/);
  });
});
