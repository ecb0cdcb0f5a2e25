import * as assert from 'node:assert/strict';
import { parsePrompt } from '../../src/core/prompts';
import { parseRecipe } from '../../src/core/recipes/recipe';
import { quickFixes, type TextEdit } from '../../src/core/yaml/fixes';

/** The edits applied to the text, last first. */
function apply(text: string, edits: readonly TextEdit[]): string {
  let out = text;
  for (const e of [...edits].sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

/** Offsets of a diagnostic's 1-based line/column span. */
function offsets(text: string, d: { line: number; column: number; endLine: number; endColumn: number }) {
  const lines = text.split('\n');
  const at = (l: number, c: number) => lines.slice(0, l - 1).reduce((a, x) => a + x.length + 1, 0) + c - 1;
  return { start: at(d.line, d.column), end: at(d.endLine, d.endColumn) };
}

describe('quick fixes', () => {
  it('"did you mean" replaces the misspelt key or value, and the problem goes', () => {
    const text = 'mesages:\n  - role: usr\n    content: hi\n';
    const first = parsePrompt(text, 'p.prompt.yml').diagnostics.find((d) => d.code === 'unknown-key')!;
    const [fix] = quickFixes(text, { code: first.code, message: first.message, ...offsets(text, first) });
    assert.deepEqual([fix!.title, fix!.preferred], ['Change to "messages"', true]);
    const fixed = apply(text, fix!.edits);
    assert.equal(fixed, 'messages:\n  - role: usr\n    content: hi\n');
    const role = parsePrompt(fixed, 'p.prompt.yml').diagnostics.find((d) => d.code === 'unknown-role')!;
    const [roleFix] = quickFixes(fixed, { code: role.code, message: role.message, ...offsets(fixed, role) });
    assert.equal(apply(fixed, roleFix!.edits), 'messages:\n  - role: user\n    content: hi\n');
    assert.deepEqual(parsePrompt(apply(fixed, roleFix!.edits), 'p.prompt.yml').diagnostics, []);
  });

  it('in a recipe too: an unknown method value', () => {
    const text = 'base_model: m\ndataset:\n  path: d.jsonl\nmethod: lorra\n';
    const d = parseRecipe(text, 'r.adapter.yml').diagnostics.find((x) => x.code === 'unknown-value')!;
    const [fix] = quickFixes(text, { code: d.code, message: d.message, ...offsets(text, d) });
    assert.equal(apply(text, fix!.edits), 'base_model: m\ndataset:\n  path: d.jsonl\nmethod: lora\n');
  });

  it('an unused expected: an evaluator added to the list at its indent, or a new list; the warning goes', () => {
    const withList =
      'messages:\n  - role: user\n    content: "{{q}}"\ntestData:\n  - q: a\n    expected: b\nevaluators:\n    - name: short\n      maxLength: 10\n# kept\nsnapshot: s.json\n';
    const w = parsePrompt(withList, 'p.prompt.yml').diagnostics.find((d) => d.code === 'unused-variable')!;
    const fixes = quickFixes(withList, { code: w.code, message: w.message, ...offsets(withList, w) });
    assert.deepEqual(
      fixes.map((f) => f.title),
      ['Add an evaluator: the output equals {{expected}}', 'Add an evaluator: the output contains {{expected}}'],
    );
    const added = apply(withList, fixes[0]!.edits);
    assert.equal(
      added,
      'messages:\n  - role: user\n    content: "{{q}}"\ntestData:\n  - q: a\n    expected: b\nevaluators:\n    - name: short\n      maxLength: 10\n    - name: matches expected\n      string:\n        equals: "{{expected}}"\n# kept\nsnapshot: s.json\n',
    );
    assert.deepEqual(parsePrompt(added, 'p.prompt.yml').diagnostics, []);
    const none = 'messages:\n  - role: user\n    content: "{{q}}"\ntestData:\n  - q: a\n    expected: b';
    const n = parsePrompt(none, 'p.prompt.yml').diagnostics.find((d) => d.code === 'unused-variable')!;
    const made = apply(none, quickFixes(none, { code: n.code, message: n.message, ...offsets(none, n) })[1]!.edits);
    assert.equal(made, `${none}\nevaluators:\n  - name: contains expected\n    string:\n      contains: "{{expected}}"\n`);
    assert.deepEqual(parsePrompt(made, 'p.prompt.yml').diagnostics, []);
    // Another unused value gets no evaluator fix.
    assert.deepEqual(quickFixes(none, { code: 'unused-variable', message: 'test value "other" is not used', start: 0, end: 1 }), []);
  });
});
