import * as assert from 'node:assert/strict';
import { placeholders, renderTemplate, valueText, variableNames } from '../../src/core/prompts/template';

describe('prompt templates: placeholders', () => {
  it('finds names with their offsets, whitespace inside the braces allowed', () => {
    const t = 'Hi {{name}}, {{ topic }} and {{\tname\t}}.';
    assert.deepEqual(placeholders(t), [
      { name: 'name', start: 3, end: 11, raw: '{{name}}' },
      { name: 'topic', start: 13, end: 24, raw: '{{ topic }}' },
      { name: 'name', start: 29, end: 39, raw: '{{\tname\t}}' },
    ]);
    assert.equal(t.slice(13, 24), '{{ topic }}');
    assert.deepEqual(variableNames(t), ['name', 'topic']);
  });

  it('names may hold dots, dashes and non-ASCII letters, as test data keys may', () => {
    assert.deepEqual(variableNames('{{user.name}} {{first-name}} {{prénom}} {{x_1}}'), ['user.name', 'first-name', 'prénom', 'x_1']);
  });

  it('what is not a placeholder: empty braces, spaces inside the name, single braces, unclosed', () => {
    assert.deepEqual(placeholders('{{}} {{ }} {{a b}} {a} {{open'), []);
    assert.deepEqual(placeholders('no placeholders at all'), []);
  });

  it('triple braces hold a placeholder inside them (as in JSON examples)', () => {
    const p = placeholders('{"a": {{{x}}}}');
    assert.deepEqual(
      p.map((x) => [x.name, x.start]),
      [['x', 7]],
    );
  });
});

describe('prompt templates: renderTemplate', () => {
  it('replaces every occurrence, with or without spaces', () => {
    assert.equal(renderTemplate('{{a}}-{{ a }}-{{b}}', { a: 'x', b: 'y' }), 'x-x-y');
  });

  it('leaves unknown placeholders exactly as written', () => {
    assert.equal(renderTemplate('Hello {{ name }}, {{missing}}!', { name: 'Ada' }), 'Hello Ada, {{missing}}!');
    assert.equal(renderTemplate('{{ gone }}', {}), '{{ gone }}');
    assert.equal(renderTemplate('{{x}}', { x: undefined }), '{{x}}');
  });

  it('does not expand placeholders inside values (one pass: no injection, no order dependence)', () => {
    assert.equal(renderTemplate('{{a}} {{b}}', { a: '{{b}}', b: '{{a}}' }), '{{b}} {{a}}');
  });

  it('inserts values literally: $ patterns of String.replace have no effect', () => {
    assert.equal(renderTemplate('{{x}}', { x: "$& $1 $$ $'" }), "$& $1 $$ $'");
  });

  it('does not read inherited properties as variables', () => {
    assert.equal(renderTemplate('{{constructor}} {{toString}}', {}), '{{constructor}} {{toString}}');
  });

  it('renders non-text values: numbers, booleans, null as empty, structures as JSON', () => {
    assert.equal(renderTemplate('{{n}} {{b}} [{{z}}] {{l}} {{o}}', { n: 30, b: false, z: null, l: [1, 'a'], o: { k: 'v' } }), '30 false [] [1,"a"] {"k":"v"}');
    assert.equal(valueText(0.5), '0.5');
  });

  it('keeps text around placeholders intact, newlines included', () => {
    assert.equal(renderTemplate('Line 1\n{{x}}\nLine 3 {{', { x: 'two' }), 'Line 1\ntwo\nLine 3 {{');
  });
});
