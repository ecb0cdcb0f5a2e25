import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { placeholders } from '../../src/core/prompts/template';
import { ROLES } from '../../src/core/prompts/types';
import { ROOT } from '../helpers';

/**
 * The prompt grammar (syntaxes/tuneloop-prompt.tmLanguage.json) without a TextMate engine: its
 * patterns use only syntax that JavaScript regular expressions read the same way as Oniguruma
 * (this test would fail to compile them otherwise), so they are run here on representative lines
 * and their captures checked against the scopes they name. How the injections combine with VS
 * Code's YAML grammar is checked in code-server by test/e2e/vsix-smoke.ts.
 */
interface Rule {
  readonly match?: string;
  readonly name?: string;
  readonly include?: string;
  readonly captures?: { readonly [group: string]: { readonly name: string } };
  readonly patterns?: readonly Rule[];
}
interface Grammar {
  readonly scopeName: string;
  readonly patterns: readonly Rule[];
  readonly repository: { readonly [name: string]: Rule };
  readonly injections: { readonly [selector: string]: Rule };
}

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  contributes: { grammars: { language: string; scopeName: string; path: string }[] };
};
const entry = pkg.contributes.grammars.find((g) => g.language === 'tuneloop-prompt')!;
const grammar = JSON.parse(fs.readFileSync(path.join(ROOT, entry.path), 'utf8')) as Grammar;

/** Each capture's text and scope, in group order, for one match of a repository rule in a line. */
function scopes(rule: string, line: string, flags = ''): { text: string; scope: string }[][] {
  const r = grammar.repository[rule]!;
  const re = new RegExp(r.match!, `g${flags}`);
  return [...line.matchAll(re)].map((m) =>
    Object.entries(r.captures ?? {})
      .filter(([g]) => m[Number(g)] !== undefined)
      .map(([g, c]) => ({ text: m[Number(g)]!, scope: c.name })),
  );
}

describe('prompt grammar (TextMate)', () => {
  it("is the grammar package.json declares, on top of VS Code's YAML grammar", () => {
    assert.equal(grammar.scopeName, entry.scopeName);
    assert.ok(grammar.patterns.some((p) => p.include === 'source.yaml'));
    const includes = [...grammar.patterns, ...Object.values(grammar.injections).flatMap((i) => i.patterns ?? [])].map((p) => p.include!);
    for (const inc of includes.filter((i) => i.startsWith('#'))) assert.ok(grammar.repository[inc.slice(1)], `${inc} is defined`);
  });

  it('injects placeholders into every string scope (plain, quoted, block) and roles outside strings and comments', () => {
    const bySelector = Object.fromEntries(Object.entries(grammar.injections).map(([sel, rule]) => [sel, (rule.patterns ?? []).map((p) => p.include)]));
    assert.deepEqual(bySelector['L:source.tuneloop.prompt string'], ['#placeholder']);
    assert.deepEqual(bySelector['L:source.tuneloop.prompt -string -comment'], ['#role']);
  });

  it('placeholders: braces and name scoped, with or without inner spaces', () => {
    assert.deepEqual(scopes('placeholder', 'Summarize {{text}} in {{ words }} words.'), [
      [
        { text: '{{', scope: 'punctuation.definition.template-expression.begin.tuneloop' },
        { text: 'text', scope: 'variable.other.placeholder.tuneloop' },
        { text: '}}', scope: 'punctuation.definition.template-expression.end.tuneloop' },
      ],
      [
        { text: '{{', scope: 'punctuation.definition.template-expression.begin.tuneloop' },
        { text: 'words', scope: 'variable.other.placeholder.tuneloop' },
        { text: '}}', scope: 'punctuation.definition.template-expression.end.tuneloop' },
      ],
    ]);
  });

  it('highlights exactly what the renderer substitutes (names with dots, dashes, unicode; not {{}} or {{a b}})', () => {
    const re = new RegExp(grammar.repository['placeholder']!.match!, 'g');
    const lines = [
      "contains: '{{expected}}'",
      'a {{ dotted.name }} {{x-y}} {{ñandú}} {{$1}}',
      'not {{}} nor {{ a b }} nor {x} nor {{{y}}}',
      '"{{q}}" and {{ q }}}',
      '{{a}}{{b}}',
    ];
    for (const line of lines) {
      assert.deepEqual(
        [...line.matchAll(re)].map((m) => m[2]),
        placeholders(line).map((p) => p.name),
        line,
      );
    }
  });

  it('roles: the value is marked in block and flow style, quoted or not; other values are not', () => {
    const role = (line: string) => scopes('role', line).map((groups) => groups.filter((g) => g.scope.startsWith('keyword')).map((g) => g.text));
    for (const r of ROLES) {
      assert.deepEqual(role(`  - role: ${r}`), [[r]]);
      assert.deepEqual(role(`    role: '${r}'  # a comment`), [[r]]);
      assert.deepEqual(role(`  - role: "${r}"`), [[r]]);
      assert.deepEqual(role(`  - {role: ${r}, content: hi}`), [[r]]);
    }
    assert.deepEqual(role('  - role: bot'), []);
    assert.deepEqual(role('  - role: users'), []);
    assert.deepEqual(role('    myrole: user'), []);
    assert.deepEqual(role("    content: 'the role: user'"), [], 'a quote after the value is not the end of a role');
    assert.deepEqual(role('    content: the role: user'), [['user']], 'the injection keeps roles out of strings; the pattern alone would not');
    const first = scopes('role', '  - role: user')[0]!;
    assert.deepEqual(first.slice(0, 2), [
      { text: 'role', scope: 'entity.name.tag.yaml' },
      { text: ':', scope: 'punctuation.separator.map.value.yaml' },
    ]);
  });

  it('the adapter recipe grammar is YAML', () => {
    const adapter = pkg.contributes.grammars.find((g) => g.language === 'tuneloop-adapter')!;
    const g = JSON.parse(fs.readFileSync(path.join(ROOT, adapter.path), 'utf8')) as Grammar;
    assert.equal(g.scopeName, adapter.scopeName);
    assert.ok(g.patterns.some((p) => p.include === 'source.yaml'));
  });
});
