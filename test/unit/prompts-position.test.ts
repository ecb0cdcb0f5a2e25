import * as assert from 'node:assert/strict';
import { positionInfo, type PositionInfo } from '../../src/core/prompts/position';
import { parsePrompt } from '../../src/core/prompts/parse';
import { keyDoc, valuesAt } from '../../src/core/prompts/key-table';
import { templateVariables, testVariables, valuesOf } from '../../src/core/prompts/variables';

/** The info at the `‸` in the text (the marker removed). */
function at(textWithCursor: string): PositionInfo & { text: string } {
  const offset = textWithCursor.indexOf('‸');
  assert.ok(offset >= 0, 'test text needs a ‸');
  const text = textWithCursor.slice(0, offset) + textWithCursor.slice(offset + 1);
  return { ...positionInfo(text, offset), text };
}

function keyPath(textWithCursor: string) {
  const i = at(textWithCursor);
  assert.equal(i.kind, 'key', JSON.stringify(i));
  return i.kind === 'key' ? i.path : undefined;
}

describe('positionInfo: placeholders', () => {
  it('inside a closed placeholder: the variable, the typed prefix, the ranges', () => {
    const i = at('messages:\n  - role: user\n    content: "Hi {{ na‸me }}!"\n');
    assert.equal(i.kind, 'placeholder');
    if (i.kind !== 'placeholder') return;
    assert.equal(i.variable, 'name');
    assert.equal(i.prefix, 'na');
    assert.equal(i.closed, true);
    assert.equal(i.text.slice(i.start, i.end), '{{ name }}');
    assert.equal(i.text.slice(i.nameStart, i.nameEnd), 'name');
  });

  it('on the braces counts (hover); right after the closing braces does not', () => {
    const first = at('content: ‸{{x}} and {{y}}');
    assert.ok(first.kind === 'placeholder' && first.variable === 'x');
    const second = at('content: {{x}} and {{y}‸}');
    assert.ok(second.kind === 'placeholder' && second.variable === 'y');
    assert.notEqual(at('content: {{x}}‸ and').kind, 'placeholder');
  });

  it('an unclosed placeholder being typed (completion)', () => {
    const empty = at('    content: Hello {{‸');
    assert.ok(empty.kind === 'placeholder' && empty.variable === '' && !empty.closed && empty.prefix === '');
    const typed = at('    content: Hello {{ to‸');
    assert.ok(typed.kind === 'placeholder' && typed.variable === 'to' && typed.prefix === 'to');
    assert.notEqual(at('    content: Hello {‸').kind, 'placeholder');
  });

  it('placeholders in evaluator strings and block scalars too', () => {
    const i = at("evaluators:\n  - name: e\n    string:\n      contains: '{{exp‸ected}}'\n");
    assert.ok(i.kind === 'placeholder' && i.variable === 'expected');
    const b = at('messages:\n  - role: user\n    content: |\n      Line one\n      about {{top‸ic}}\n');
    assert.ok(b.kind === 'placeholder' && b.variable === 'topic');
  });
});

describe('positionInfo: keys', () => {
  it('the top level, with the keys allowed there', () => {
    const i = at('name: x\nmessages:\n  - role: user\n    content: hi\n‸');
    assert.ok(i.kind === 'key');
    if (i.kind !== 'key') return;
    assert.deepEqual(i.path, []);
    assert.ok(i.keys!.includes('testData') && i.keys!.includes('adapters'));
    assert.deepEqual(keyPath('‸'), []);
  });

  it('inside modelParameters: the prefix typed so far and the range to replace', () => {
    const i = at('modelParameters:\n  maxTokens: 5\n  temp‸\n');
    assert.ok(i.kind === 'key');
    if (i.kind !== 'key') return;
    assert.deepEqual(i.path, ['modelParameters']);
    assert.equal(i.prefix, 'temp');
    assert.equal(i.text.slice(i.start, i.end), 'temp');
    assert.ok(i.keys!.includes('temperature'));
  });

  it('hovering the middle of an existing key gives the whole key', () => {
    const i = at('modelParameters:\n  tempe‸rature: 0.5\n');
    assert.ok(i.kind === 'key');
    if (i.kind !== 'key') return;
    assert.equal(i.key, 'temperature');
    assert.equal(i.text.slice(i.start, i.end), 'temperature');
    assert.match(keyDoc(i.path, i.key)!, /0 to 2/);
  });

  it('list items: the index of the item counts the dashes above at the same column', () => {
    assert.deepEqual(keyPath('messages:\n  - role: system\n    content: a\n  - role: user\n    content: b\n  - ‸'), ['messages', 2]);
    assert.deepEqual(keyPath('messages:\n  - role: user\n    ‸'), ['messages', 0]);
    assert.deepEqual(keyPath('evaluators:\n  - name: a\n    regex: x\n  - name: b\n    ‸'), ['evaluators', 1]);
  });

  it('a list at the same column as its key (YAML allows it)', () => {
    assert.deepEqual(keyPath('messages:\n- role: user\n  content: hi\n- ‸'), ['messages', 1]);
    assert.deepEqual(keyPath('messages:\n- role: user\n  content: hi\n‸'), []);
  });

  it('nested mappings and lists: evaluators[].string and llm choices', () => {
    assert.deepEqual(keyPath('evaluators:\n  - name: a\n    string:\n      cont‸'), ['evaluators', 0, 'string']);
    const i = at('evaluators:\n  - name: j\n    llm:\n      choices:\n        - choice: a\n          score: 1\n        - ‸');
    assert.ok(i.kind === 'key' && i.keys!.includes('score'));
    assert.deepEqual(i.kind === 'key' ? i.path : undefined, ['evaluators', 0, 'llm', 'choices', 1]);
  });

  it('test cases have free-form keys (the editor offers variable names there)', () => {
    const i = at('messages:\n  - role: user\n    content: "{{q}}"\ntestData:\n  - q: a\n  - q: b\n    ‸');
    assert.ok(i.kind === 'key');
    if (i.kind !== 'key') return;
    assert.deepEqual(i.path, ['testData', 1]);
    assert.equal(i.keys, undefined);
  });

  it('a key after a block scalar, at the block key column, is its sibling', () => {
    assert.deepEqual(keyPath('messages:\n  - role: user\n    content: |\n      note: not a key\n    ‸'), ['messages', 0]);
  });

  it('no key inside a block scalar, after an inline value, or in a comment', () => {
    assert.equal(at('messages:\n  - role: user\n    content: |\n      Hello\n      ‸').kind, 'none');
    assert.equal(at('modelParameters:\n  temperature: 0.5\n    ‸').kind, 'none');
    assert.equal(at('# a comm‸ent\n').kind, 'none');
  });

  it('CRLF line endings', () => {
    assert.deepEqual(keyPath('modelParameters:\r\n  maxTokens: 5\r\n  to‸\r\n'), ['modelParameters']);
  });
});

describe('positionInfo: values', () => {
  it('a role value, with the roles to offer', () => {
    const i = at('messages:\n  - role: us‸\n');
    assert.ok(i.kind === 'value');
    if (i.kind !== 'value') return;
    assert.deepEqual([i.path, i.key, i.prefix], [['messages', 0], 'role', 'us']);
    assert.deepEqual(i.values, ['system', 'user', 'assistant']);
    assert.equal(i.text.slice(i.start, i.end), 'us');
  });

  it('responseFormat and uses', () => {
    const f = at('responseFormat: ‸');
    assert.ok(f.kind === 'value' && f.values!.includes('json_schema'));
    const u = at('evaluators:\n  - name: s\n    uses: github/‸');
    assert.ok(u.kind === 'value' && u.prefix === 'github/' && u.values!.includes('github/similarity'));
    assert.deepEqual(valuesAt(['evaluators', 3], 'uses'), u.kind === 'value' ? u.values : []);
  });

  it('a value with no list of choices, and block scalar indicators', () => {
    const n = at('name: My pro‸');
    assert.ok(n.kind === 'value' && n.values === undefined && n.key === 'name');
    assert.equal(at('messages:\n  - role: user\n    content: |‸').kind, 'none');
  });
});

describe('variables for completion and hover', () => {
  const text = [
    'messages:',
    '  - role: user',
    '    content: "{{question}} ({{tone}})"',
    'testData:',
    '  - question: Why?',
    '    tone: calm',
    '  - question: How?',
    '    expected: like this',
    'evaluators:',
    '  - name: e',
    "    string: {contains: '{{expected}}'}",
    '  - name: j',
    '    llm: {prompt: "{{completion}} vs {{rubric}}"}',
    '',
  ].join('\n');
  const prompt = parsePrompt(text, 'v.prompt.yml').prompt!;

  it('names used by templates and names given by the test data', () => {
    assert.deepEqual(templateVariables(prompt), ['question', 'tone', 'expected', 'completion', 'rubric']);
    assert.deepEqual(testVariables(prompt), ['question', 'tone', 'expected']);
  });

  it('a value per test case, with where its key is written', () => {
    const v = valuesOf(prompt, 'tone');
    assert.deepEqual(
      v.map((x) => [x.caseIndex, x.value]),
      [
        [0, 'calm'],
        [1, undefined],
      ],
    );
    assert.deepEqual([v[0]!.span!.line, v[0]!.span!.column], [6, 5]);
    assert.equal(v[1]!.span, undefined);
    assert.deepEqual(valuesOf({}, 'tone'), []);
  });
});
