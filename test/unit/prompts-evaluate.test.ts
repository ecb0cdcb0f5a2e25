import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { casePassed, evaluate } from '../../src/core/prompts/evaluate';
import { checkSchema, validateJson } from '../../src/core/prompts/json-schema';
import { parsePrompt } from '../../src/core/prompts/parse';
import type { JsonObject, PromptFile } from '../../src/core/prompts/types';
import { FIXTURES } from '../helpers';

/** A prompt with these evaluators (YAML list items, indented under `evaluators:`). */
function withEvaluators(yaml: string, extra = ''): PromptFile {
  const text = `messages:\n  - role: user\n    content: hi\n${extra}evaluators:\n${yaml}`;
  const r = parsePrompt(text, 'e.prompt.yml');
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  assert.deepEqual(errors, [], text);
  return r.prompt!;
}

function passed(prompt: PromptFile, output: string, vars: Record<string, string> = {}): (boolean | undefined)[] {
  return evaluate(prompt, output, vars).map((r) => r.passed);
}

describe('evaluators: string checks (GitHub semantics)', () => {
  const p = withEvaluators(
    [
      '  - name: eq',
      '    string: {equals: Paris}',
      '  - name: has',
      '    string: {contains: PARIS}',
      '  - name: starts',
      '    string: {startsWith: the}',
      '  - name: ends',
      '    string: {endsWith: "."}',
      '',
    ].join('\n'),
  );

  it('equals is exact; contains, startsWith and endsWith ignore case', () => {
    assert.deepEqual(passed(p, 'Paris'), [true, true, false, false]);
    assert.deepEqual(passed(p, 'paris'), [false, true, false, false]);
    assert.deepEqual(passed(p, 'The capital is Paris.'), [false, true, true, true]);
    assert.deepEqual(passed(p, 'Lyon'), [false, false, false, false]);
  });

  it('results carry the name, kind and a detail naming what was expected', () => {
    const r = evaluate(p, 'Lyon', {});
    assert.deepEqual(r[0], { name: 'eq', kind: 'string', passed: false, detail: 'output should equal "Paris"' });
    assert.equal(r[3]!.detail, 'output should end with "."');
  });

  it('evaluator strings are templates over the test case', () => {
    const t = withEvaluators(
      "  - name: mentions\n    string:\n      contains: '{{expected}}'\n  - name: greets\n    string:\n      startsWith: 'Hello {{ name }}'\n",
    );
    assert.deepEqual(passed(t, 'Hello Ada, the answer is 42', { expected: '42', name: 'Ada' }), [true, true]);
    assert.deepEqual(passed(t, 'Hello Bob, the answer is 41', { expected: '42', name: 'Ada' }), [false, false]);
    assert.equal(evaluate(t, 'x', { expected: '42', name: 'Ada' })[1]!.detail, 'output should start with "Hello Ada"');
  });

  it('the GitHub sample file: contains {{string}} with each test case', () => {
    const file = path.join(FIXTURES, 'examples', 'github', 'sample_prompt.yml');
    const prompt = parsePrompt(fs.readFileSync(file, 'utf8'), file).prompt!;
    const [hello, bye] = prompt.testData!;
    assert.deepEqual(passed(prompt, 'Hello to you too!', hello!.values as Record<string, string>), [true, undefined]);
    assert.deepEqual(passed(prompt, 'Hello to you too!', bye!.values as Record<string, string>), [false, undefined]);
  });
});

describe('evaluators: Tuneloop kinds', () => {
  it('regex, with flags; the pattern is not a template', () => {
    const p = withEvaluators(
      "  - name: digits\n    regex: '^\\d+$'\n  - name: word\n    regex: 'paris'\n    flags: i\n  - name: braces\n    regex: '\\{\\{x\\}\\}'\n",
    );
    assert.deepEqual(passed(p, '123', { x: 'y' }), [true, false, false]);
    assert.deepEqual(passed(p, 'PARIS', { x: 'y' }), [false, true, false]);
    assert.deepEqual(passed(p, 'a {{x}} b', { x: 'y' }), [false, false, true]);
  });

  it('maxLength counts characters (code points), not UTF-16 units', () => {
    const p = withEvaluators('  - name: short\n    maxLength: 3\n');
    assert.deepEqual(passed(p, 'abc'), [true]);
    assert.deepEqual(passed(p, 'abcd'), [false]);
    assert.deepEqual(passed(p, '😀😀😀'), [true]);
    assert.equal(evaluate(p, 'abcd', {})[0]!.detail, 'output should have at most 3 characters, has 4');
  });

  it('json: true is any valid JSON without a file schema', () => {
    const p = withEvaluators('  - name: json\n    json: true\n');
    assert.deepEqual(passed(p, ' {"a": 1} '), [true]);
    assert.deepEqual(passed(p, '[1, 2]'), [true]);
    assert.deepEqual(passed(p, '{"a": 1'), [false]);
    assert.deepEqual(passed(p, 'Sure! {"a": 1}'), [false]);
    assert.match(evaluate(p, 'nope', {})[0]!.detail, /output should be valid JSON: /);
  });

  it('json: true checks against the file jsonSchema; json: {schema} against its own', () => {
    const extra = 'responseFormat: json_schema\njsonSchema:\n  type: object\n  properties:\n    age: {type: integer, minimum: 0}\n  required: [age]\n';
    const p = withEvaluators(
      '  - name: file schema\n    json: true\n  - name: own schema\n    json:\n      schema: {type: array, items: {type: string}}\n',
      extra,
    );
    assert.deepEqual(passed(p, '{"age": 3}'), [true, false]);
    assert.deepEqual(passed(p, '{"age": -1}'), [false, false]);
    assert.deepEqual(passed(p, '["a", "b"]'), [false, true]);
    assert.equal(evaluate(p, '{"age": -1}', {})[0]!.detail, 'output should match the schema: $.age: expected at least 0, got -1');
  });

  it('hosted judges are not run: passed is undefined, with a detail saying so', () => {
    const p = withEvaluators(
      '  - name: sim\n    uses: github/similarity\n  - name: judge\n    llm:\n      modelId: openai/gpt-4o\n      prompt: "{{completion}}"\n',
    );
    const r = evaluate(p, 'anything', {});
    assert.deepEqual(
      r.map((x) => [x.kind, x.passed]),
      [
        ['uses', undefined],
        ['llm', undefined],
      ],
    );
    assert.match(r[0]!.detail, /github\/similarity: runs on GitHub Models, not run locally/);
    assert.ok(casePassed(r), 'judges that did not run do not fail a case');
  });

  it('not: true negates any check that ran, and leaves hosted judges not run', () => {
    const p = withEvaluators(
      [
        '  - name: no sorry',
        '    not: true',
        '    string: {contains: sorry}',
        '  - name: not json',
        '    not: true',
        '    json: true',
        '  - name: not short',
        '    not: true',
        '    maxLength: 2',
        '  - name: no digits',
        '    not: true',
        "    regex: '\\d'",
        '  - name: sim',
        '    not: true',
        '    uses: github/similarity',
        '',
      ].join('\n'),
    );
    assert.deepEqual(passed(p, 'I am so sorry: 1'), [false, true, true, false, undefined]);
    assert.deepEqual(passed(p, '{}'), [true, false, false, true, undefined]);
    assert.match(evaluate(p, 'x', {})[0]!.detail, /^not: output should contain "sorry"$/);
  });

  it("a case passes when no evaluator that ran failed (the pass rate over cases is the matrix's: core/compare/matrix.ts)", () => {
    const ok = { name: 'a', kind: 'string' as const, passed: true, detail: '' };
    const bad = { ...ok, passed: false };
    const skipped = { ...ok, kind: 'uses' as const, passed: undefined };
    assert.deepEqual([[ok, skipped], [ok, bad], [bad], [ok], []].map(casePassed), [true, false, false, true, true]);
  });
});

describe('the JSON schema subset', () => {
  const person: JsonObject = {
    type: 'object',
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 5 },
      age: { type: 'integer', minimum: 0, maximum: 150 },
      role: { enum: ['admin', 'user'] },
      tags: { type: 'array', items: { type: 'string' } },
      address: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
      score: { type: ['number', 'null'] },
    },
    required: ['name', 'age'],
  };

  const violations = (v: unknown) => validateJson(v as JsonObject, person).map((x) => `${x.path}: ${x.message}`);

  it('accepts a conforming value', () => {
    assert.deepEqual(violations({ name: 'Ada', age: 36, role: 'admin', tags: ['x'], address: { city: 'London' }, score: null, extra: 1 }), []);
    assert.deepEqual(violations({ name: 'Ada', age: 36, score: 2.5 }), []);
  });

  it('type, including integer against number and type lists', () => {
    assert.deepEqual(violations('Ada'), ['$: expected object, got string']);
    assert.deepEqual(violations({ name: 'Ada', age: 36.5 }), ['$.age: expected integer, got number']);
    assert.deepEqual(violations({ name: 'Ada', age: 1, score: 'high' }), ['$.score: expected number or null, got string']);
    assert.deepEqual(validateJson(3, { type: 'number' }), []);
  });

  it('required, enum, items, additionalProperties false', () => {
    assert.deepEqual(violations({ age: 1 }), ['$: missing required property "name"']);
    assert.deepEqual(violations({ name: 'A', age: 1, role: 'root' }), ['$.role: expected one of ["admin","user"], got "root"']);
    assert.deepEqual(violations({ name: 'A', age: 1, tags: ['a', 2] }), ['$.tags[1]: expected string, got integer']);
    assert.deepEqual(violations({ name: 'A', age: 1, address: { town: 'x' } }), [
      '$.address: missing required property "city"',
      '$.address.town: unexpected property "town"',
    ]);
  });

  it('minLength / maxLength in code points, minimum / maximum inclusive', () => {
    assert.deepEqual(violations({ name: '', age: 0 }), ['$.name: expected at least 1 characters, got 0']);
    assert.deepEqual(violations({ name: '😀😀😀😀😀', age: 150 }), []);
    assert.deepEqual(violations({ name: 'Adelaide', age: 151 }), ['$.name: expected at most 5 characters, got 8', '$.age: expected at most 150, got 151']);
  });

  it('additionalProperties as a schema checks the other properties', () => {
    assert.deepEqual(
      validateJson({ a: 1, b: 'x' }, { type: 'object', additionalProperties: { type: 'integer' } }).map((v) => v.path),
      ['$.b'],
    );
  });

  it('checkSchema: errors for what it cannot read, warnings for keywords it does not check', () => {
    const problems = checkSchema({
      type: 'object',
      properties: { a: { type: 'strin' }, b: 3 },
      required: 'a',
      pattern: 'x',
      items: [{ type: 'string' }],
    } as JsonObject);
    assert.deepEqual(
      problems.map((p) => [p.path.join('.'), p.severity]),
      [
        ['required', 'error'],
        ['properties.a.type', 'error'],
        ['properties.b', 'error'],
        ['items', 'error'],
        ['pattern', 'warning'],
      ],
    );
    assert.deepEqual(checkSchema(person), []);
  });
});
