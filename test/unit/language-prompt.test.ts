import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { completionsAt, scanTestKeys } from '../../src/core/prompts/completion';
import { promptDiagnostics } from '../../src/core/prompts/diagnostics';
import { hoverAt } from '../../src/core/prompts/hover';
import { caseAtOffset, codeLensesFor } from '../../src/core/prompts/lenses';
import { formatPreview, previewCases } from '../../src/core/prompts/preview';
import { resolvePreviewModel, type PreviewModelInput } from '../../src/core/prompts/preview-model';
import { siblingKeys } from '../../src/core/yaml/completion';
import { type CompletionEntry, firstContentLine } from '../../src/core/yaml/editor';
import { LENS_COMMANDS } from '../../src/extension/language/lens-commands';
import { parsePrompt } from '../../src/core/prompts/parse';
import { PROMPT_KEYS } from '../../src/core/prompts/key-table';
import { FIXTURES } from '../helpers';

/** Splits `‸` out of a text: the text and the offset where it was. */
function cursor(textWithCursor: string): { text: string; offset: number } {
  const offset = textWithCursor.indexOf('‸');
  assert.ok(offset >= 0, 'test text needs a ‸');
  return { text: textWithCursor.slice(0, offset) + textWithCursor.slice(offset + 1), offset };
}

function complete(textWithCursor: string, trigger?: string): CompletionEntry[] {
  const { text, offset } = cursor(textWithCursor);
  const items = completionsAt(text, offset, trigger);
  for (const i of items) assert.ok(i.range.start <= offset && offset <= i.range.end, `${i.label}: the range must contain the cursor`);
  return items;
}

const labels = (items: readonly CompletionEntry[]) => items.map((i) => i.label);

const PROMPT = `name: Summarize
messages:
  - role: system
    content: You help {{audience}}.
  - role: user
    content: |
      Summarize {{text}} in {{words}} words.
testData:
  - text: The cat sat.
    words: 5
    audience: kids
  - text: |-
      Two
      lines
    words: 10
evaluators:
  - name: short
    maxLength: 200
`;

describe('prompt language: completion of {{variables}}', () => {
  it('inside {{ }} offers the test data variables, those given by every case first', () => {
    const items = complete(PROMPT.replace('{{text}}', '{{‸}}'));
    assert.deepEqual(labels(items).sort(), ['audience', 'text', 'words']);
    const byLabel = new Map(items.map((i) => [i.label, i]));
    assert.equal(byLabel.get('words')!.detail, 'given by all 2 test cases');
    assert.equal(byLabel.get('audience')!.detail, 'given by 1 of 2 test cases');
    assert.ok(byLabel.get('words')!.sortText! < byLabel.get('audience')!.sortText!);
    assert.equal(byLabel.get('words')!.kind, 'variable');
    assert.match(byLabel.get('audience')!.documentation!, /case 2 \(line \d+\): ⚠ \*missing\*/);
  });

  it('replaces the name typed so far; an open placeholder gets its closing braces', () => {
    const closed = cursor(PROMPT.replace('{{words}}', '{{ wo‸rds }}'));
    const items = completionsAt(closed.text, closed.offset);
    const w = items.find((i) => i.label === 'words')!;
    assert.equal(closed.text.slice(w.range.start, w.range.end), 'words');
    assert.equal(w.snippet, 'words');
    const open = complete(PROMPT.replace('{{words}} words.', '{{ wo‸'));
    assert.equal(open.find((i) => i.label === 'words')!.snippet, 'words}}');
  });

  it('offers names the templates use even without a test value, and not the name being typed', () => {
    const text = PROMPT.replace('{{text}}', '{{‸}}').replace('{{words}}', '{{words}} {{tone}} {{tex}}');
    const items = complete(text);
    assert.ok(labels(items).includes('tone'));
    assert.equal(items.find((i) => i.label === 'tone')!.detail, 'no test case gives it');
    // `{{tex}}` written elsewhere is a source; the placeholder at the cursor is not.
    assert.ok(labels(items).includes('tex'));
    assert.ok(!labels(complete(PROMPT.replace('{{text}}', '{{tx‸}}'))).includes('tx'));
  });

  it('works while the file is not valid YAML (a value starting with {{ is a flow mapping)', () => {
    const { text, offset } = cursor(PROMPT.replace('content: You help {{audience}}.', 'content: {{‸'));
    assert.equal(parsePrompt(text).prompt, undefined);
    assert.deepEqual(labels(completionsAt(text, offset)).sort(), ['audience', 'text', 'words']);
    assert.deepEqual(scanTestKeys(text), ['text', 'words', 'audience']);
  });

  it('opens on `{` only inside a placeholder', () => {
    assert.equal(complete(PROMPT.replace('{{text}}', '{{‸}}'), '{').length, 3);
    assert.deepEqual(complete('messages:\n  - role: user\n    content: {‸', '{'), []);
  });
});

describe('prompt language: completion of keys and values', () => {
  it('at the top level: the keys not yet written, in the documented order, with docs and snippets', () => {
    const items = complete('name: x\n‸\nmessages:\n  - role: user\n    content: hi\n');
    assert.deepEqual(
      labels(items),
      Object.keys(PROMPT_KEYS['']!).filter((k) => k !== 'name' && k !== 'messages'),
    );
    const byLabel = new Map(items.map((i) => [i.label, i]));
    assert.equal(byLabel.get('model')!.documentation, PROMPT_KEYS['']!['model']!.doc);
    assert.equal(byLabel.get('modelParameters')!.snippet, 'modelParameters:\n\t$0');
    assert.equal(byLabel.get('evaluators')!.snippet, 'evaluators:\n\t- $0');
    assert.equal(byLabel.get('evaluators')!.retrigger, true);
    assert.equal(byLabel.get('responseFormat')!.snippet, 'responseFormat: ${1|text,json_object,json_schema|}');
    assert.equal(byLabel.get('minPassRate')!.detail, 'number, 0 to 1');
  });

  it('under modelParameters: its keys, minus those present above and below', () => {
    const items = complete('modelParameters:\n  temperature: 0.2\n  te‸\n  seed: 3\nmessages: []\n');
    assert.deepEqual(labels(items), ['maxTokens', 'topP', 'topK', 'repetitionPenalty', 'stop']);
    assert.equal(items[0]!.detail, 'integer ≥ 1');
  });

  it('under an evaluator: the evaluator keys; under its string check: the four checks', () => {
    const ev = complete('messages: []\nevaluators:\n  - name: a\n    ‸\n  - name: b\n    regex: x\n');
    assert.deepEqual(
      labels(ev),
      Object.keys(PROMPT_KEYS['evaluators[]']!).filter((k) => k !== 'name'),
    );
    assert.equal(ev.find((i) => i.label === 'not')!.snippet, 'not: ${1|true,false|}');
    const str = complete('evaluators:\n  - name: a\n    string:\n      ‸\n');
    assert.deepEqual(labels(str), ['equals', 'contains', 'startsWith', 'endsWith']);
  });

  it('after a list dash: the keys of a new item (the item above is not this one)', () => {
    const items = complete('messages:\n  - role: user\n    content: hi\n  - ‸', ' ');
    assert.deepEqual(labels(items), ['role', 'content']);
    assert.equal(items[0]!.snippet, 'role: ${1|system,user,assistant|}');
  });

  it('a key that already has its colon is replaced by the name alone', () => {
    const items = complete('modelParameters:\n  tem‸perature: 1\n');
    const t = items.find((i) => i.label === 'temperature')!;
    assert.equal(t.snippet, 'temperature');
  });

  it('in a test case: the template variables the case does not give yet', () => {
    const items = complete(PROMPT.replace('    words: 10\n', '    words: 10\n    ‸\n'));
    assert.deepEqual(labels(items), ['audience']);
    assert.equal(items[0]!.snippet, 'audience: $0');
  });

  it('values: roles, response formats, judges; opened by the space after the colon', () => {
    assert.deepEqual(labels(complete('messages:\n  - role: ‸', ' ')), ['system', 'user', 'assistant']);
    assert.deepEqual(labels(complete('responseFormat: json‸')), ['text', 'json_object', 'json_schema']);
    assert.ok(labels(complete('evaluators:\n  - name: s\n    uses: ‸', ' ')).includes('github/similarity'));
    assert.deepEqual(complete('name: ‸', ' '), []);
  });

  it('dtype: offered at the top level with its three values, completed after the colon', () => {
    const top = complete('name: x\n‸\nmessages:\n  - role: user\n    content: hi\n');
    const d = top.find((i) => i.label === 'dtype')!;
    assert.equal(d.snippet, 'dtype: ${1|fp32,q8,q4|}');
    assert.equal(d.documentation, PROMPT_KEYS['']!['dtype']!.doc);
    assert.deepEqual(labels(complete('dtype: ‸', ' ')), ['fp32', 'q8', 'q4']);
    assert.deepEqual(labels(complete('dtype: q‸')), ['fp32', 'q8', 'q4']);
  });

  it('a space in indentation or prose, or a colon, opens nothing', () => {
    assert.deepEqual(complete('modelParameters:\n  ‸', ' '), []);
    assert.deepEqual(complete('messages:\n  - role: user\n    content: hello ‸', ' '), []);
    assert.deepEqual(complete('modelParameters:‸', ':'), []);
  });
});

describe('prompt language: hover', () => {
  it('on a placeholder: its value in each test case, with the missing ones marked', () => {
    const { text, offset } = cursor(PROMPT.replace('{{audience}}', '{{audi‸ence}}'));
    const h = hoverAt(text, offset)!;
    assert.equal(text.slice(h.range.start, h.range.end), '{{audience}}');
    assert.match(h.markdown, /\*\*Missing in 1 of 2 test cases\*\*/);
    assert.match(h.markdown, /case 1 \(line 9\): `kids`/);
    assert.match(h.markdown, /case 2 \(line 12\): ⚠ \*missing\*/);
    const multi = cursor(PROMPT.replace('{{text}}', '{{t‸ext}}'));
    // Newlines are shown, not rendered as Markdown line breaks.
    assert.match(hoverAt(multi.text, multi.offset)!.markdown, /case 2 \(line 12\): `Two⏎lines`/);
  });

  it('on a placeholder no case gives, and in a file without test data', () => {
    const none = cursor(PROMPT.replace('{{audience}}', '{{mo‸od}}'));
    assert.match(hoverAt(none.text, none.offset)!.markdown, /No test case gives a value/);
    const noData = cursor('messages:\n  - role: user\n    content: "{{q‸}}"\n');
    assert.match(hoverAt(noData.text, noData.offset)!.markdown, /no test data: the value is asked for when the prompt runs/);
  });

  it('on a key: its documentation; on a test case key: whether the templates use it', () => {
    const k = cursor('modelParameters:\n  temp‸erature: 0.5\n');
    const h = hoverAt(k.text, k.offset)!;
    assert.match(h.markdown, /^\*\*temperature\*\* \(number, 0 to 2\)/);
    assert.ok(h.markdown.includes(PROMPT_KEYS['modelParameters']!['temperature']!.doc));
    assert.equal(k.text.slice(h.range.start, h.range.end), 'temperature');
    const t = cursor(PROMPT.replace('    words: 5', '    wo‸rds: 5'));
    assert.match(hoverAt(t.text, t.offset)!.markdown, /a test variable, written as `\{\{words\}\}`/);
    const unused = cursor(PROMPT.replace('    words: 5', '    words: 5\n    ex‸tra: 1'));
    assert.match(hoverAt(unused.text, unused.offset)!.markdown, /no message or evaluator uses/);
  });

  it('on dtype and its value: what each dtype means and what overrides it', () => {
    const k = cursor('dt‸ype: q4\nmessages: []\n');
    const h = hoverAt(k.text, k.offset)!;
    assert.ok(h.markdown.startsWith('**dtype**'), h.markdown);
    assert.match(h.markdown, /q4 \(4-bit blocks, onnx\/model_q4\.onnx\)/);
    assert.match(h.markdown, /Overrides the tuneloop\.dtype setting; --dtype on the command line overrides it/);
    const v = cursor('dtype: q‸4\n');
    assert.match(hoverAt(v.text, v.offset)!.markdown, /^\*\*dtype\*\*: `fp32`, `q8`, `q4`/);
  });

  it('on an enumerated value: the values and what the key means; elsewhere nothing', () => {
    const v = cursor('responseFormat: js‸on_object\n');
    assert.match(hoverAt(v.text, v.offset)!.markdown, /^\*\*responseFormat\*\*: `text`, `json_object`, `json_schema`/);
    const prose = cursor('messages:\n  - role: user\n    content: hel‸lo\n');
    assert.equal(hoverAt(prose.text, prose.offset), undefined);
  });
});

describe('prompt language: CodeLens and diagnostics', () => {
  it('Run, Compare and Preview above the first line of YAML, with counts from the file', () => {
    const text = `# A leading comment\n\n${PROMPT}adapters:\n  - a.adapter.yml\n`;
    const lenses = codeLensesFor(text).filter((l) => l.caseIndex === undefined);
    assert.deepEqual(
      lenses.map((l) => LENS_COMMANDS[l.action]),
      ['tuneloop.runPrompt', 'tuneloop.comparePrompt', 'tuneloop.previewPrompt'],
    );
    for (const l of lenses) assert.equal(l.offset, text.indexOf('name: Summarize'));
    assert.match(lenses[0]!.tooltip, /2 test cases/);
    assert.match(lenses[1]!.tooltip, /1 adapter \(2 test cases\)/);
    assert.equal(firstContentLine('name: x'), 0);
    assert.equal(firstContentLine('# only\n# comments\n'), 0);
    // A file that does not parse keeps its lenses (no layout jump while typing).
    assert.equal(codeLensesFor('messages: [\n').length, 3);
  });

  it('Run case N and Compare case N above each test case, at the line of its dash; the case under a cursor', () => {
    const perCase = codeLensesFor(PROMPT).filter((l) => l.caseIndex !== undefined);
    assert.deepEqual(
      perCase.map((l) => [LENS_COMMANDS[l.action], l.caseIndex, l.title]),
      [
        ['tuneloop.runPrompt', 0, '$(play) Run case 1'],
        ['tuneloop.comparePrompt', 0, '$(split-horizontal) Compare case 1'],
        ['tuneloop.runPrompt', 1, '$(play) Run case 2'],
        ['tuneloop.comparePrompt', 1, '$(split-horizontal) Compare case 2'],
      ],
    );
    const dash1 = PROMPT.indexOf('  - text: The cat');
    const dash2 = PROMPT.indexOf('  - text: |-');
    assert.deepEqual(
      perCase.map((l) => l.offset),
      [dash1, dash1, dash2, dash2],
    );
    // The cursor: on the dash line, inside a value, on a case's last line; not on testData: or evaluators.
    assert.equal(caseAtOffset(PROMPT, dash1), 0);
    assert.equal(caseAtOffset(PROMPT, PROMPT.indexOf('audience: kids') + 3), 0);
    assert.equal(caseAtOffset(PROMPT, PROMPT.indexOf('      lines')), 1);
    assert.equal(caseAtOffset(PROMPT, PROMPT.indexOf('words: 10') + 9), 1);
    assert.equal(caseAtOffset(PROMPT, PROMPT.indexOf('testData:')), undefined);
    assert.equal(caseAtOffset(PROMPT, PROMPT.indexOf('evaluators:')), undefined);
    assert.equal(caseAtOffset(PROMPT, PROMPT.indexOf('Summarize {{text}}')), undefined);
    // Flow-style cases get them too; a file that does not parse has none.
    const flow = `${PROMPT.slice(0, PROMPT.indexOf('testData:'))}testData:\n  - {text: a, words: 1, audience: b}\n  - {text: c, words: 2, audience: d}\n`;
    assert.deepEqual(
      codeLensesFor(flow).flatMap((l) => (l.caseIndex === undefined ? [] : [flow.slice(l.offset, l.offset + 12)])),
      ['  - {text: a', '  - {text: a', '  - {text: c', '  - {text: c'],
    );
    assert.equal(caseAtOffset(flow, flow.indexOf('{text: c') + 3), 1);
    assert.deepEqual(
      codeLensesFor('messages: [\n').map((l) => l.caseIndex),
      [undefined, undefined, undefined],
    );
  });

  it("diagnostics: the parser's, plus adapters missing next to the file (only for files on disk)", () => {
    const text = `${PROMPT}adapters:\n  - missing.adapter.yml\n  - there.adapter.yml\n`;
    const file = path.join(path.sep, 'w', 'p.prompt.yml');
    const ds = promptDiagnostics(text, file, (p) => p === path.join(path.sep, 'w', 'there.adapter.yml'));
    const missing = ds.filter((d) => d.code === 'file');
    assert.equal(missing.length, 1);
    assert.match(missing[0]!.message, /adapter "missing.adapter.yml" not found/);
    assert.equal(missing[0]!.line, text.split('\n').indexOf('  - missing.adapter.yml') + 1);
    assert.equal(promptDiagnostics(text, undefined, () => false).filter((d) => d.code === 'file').length, 0);
    const broken = promptDiagnostics(PROMPT.replace('role: user', 'role: bot'));
    assert.ok(broken.some((d) => d.code === 'unknown-role' && /did you mean "assistant"/.test(d.message)));
  });

  it('diagnostics: paths outside the workspace root, and a snapshot that is not a .json file, at their values', () => {
    const text = `${PROMPT.replace('name: Summarize', 'name: Summarize\nmodel: ../elsewhere/model')}adapters:\n  - ../../etc/x.adapter.yml\nsnapshot: data/train.jsonl\n`;
    const file = path.join(path.sep, 'w', 'p.prompt.yml');
    const lineOf = (s: string) => text.split('\n').findIndex((l) => l.includes(s)) + 1;
    const ds = promptDiagnostics(text, file, () => true, { root: path.join(path.sep, 'w') })
      .filter((d) => d.code === 'file')
      .sort((a, b) => a.line - b.line);
    assert.deepEqual(
      ds.map((d) => [d.line, d.message.replace(/ (resolves outside|must name).*/, ' $1')]),
      [
        [lineOf('model:'), 'model "../elsewhere/model" resolves outside'],
        [lineOf('etc/x'), 'adapter "../../etc/x.adapter.yml" resolves outside'],
        [lineOf('snapshot:'), 'snapshot "data/train.jsonl" must name'],
      ].sort((a, b) => (a[0] as number) - (b[0] as number)),
    );
    // Inside a trusted folder, the model may be read from wherever it is.
    const trusted = promptDiagnostics(text, file, () => true, { root: path.join(path.sep, 'w'), trustedReads: [path.join(path.sep, 'elsewhere')] });
    assert.ok(!trusted.some((d) => /model ".*" resolves outside/.test(d.message)));
  });

  it('siblingKeys reads the keys of the mapping around a position', () => {
    const text = 'a: 1\nmessages:\n  - role: user\n    content: x\n    \n  - role: system\n';
    const at = text.indexOf('    \n') + 4;
    assert.deepEqual([...siblingKeys(text, at)].sort(), ['content', 'role']);
    assert.deepEqual([...siblingKeys(text, 0)].sort(), ['messages']);
  });
});

describe('prompt language: preview', () => {
  const dirs = new Set(['/w/models/local', '/ws/default-model']);
  const input = (over: Partial<PreviewModelInput>): PreviewModelInput => ({
    promptModel: undefined,
    promptFile: '/w/p.prompt.yml',
    setting: '',
    settingBase: '/ws',
    cachedHubModel: (id) => (id === 'org/cached' ? '/hf/models--org--cached/snapshots/abc' : undefined),
    isDirectory: (p) => dirs.has(p),
    ...over,
  });

  it("takes the prompt's model when it is a local folder, else the setting; hosted ids never", () => {
    assert.deepEqual(resolvePreviewModel(input({ promptModel: './models/local', setting: 'default-model' })), {
      kind: 'model',
      dir: '/w/models/local',
      from: 'prompt',
      label: './models/local',
    });
    assert.deepEqual(resolvePreviewModel(input({ promptModel: 'openai/gpt-4o', setting: 'default-model' })), {
      kind: 'model',
      dir: '/ws/default-model',
      from: 'setting',
      label: 'default-model',
    });
    assert.deepEqual(resolvePreviewModel(input({ promptModel: 'org/cached' })), {
      kind: 'model',
      dir: '/hf/models--org--cached/snapshots/abc',
      from: 'prompt',
      label: 'org/cached',
    });
  });

  it('says why there is no model', () => {
    const none = resolvePreviewModel(input({}));
    assert.equal(none.kind, 'none');
    assert.match(none.kind === 'none' ? none.reason : '', /^No model is configured\. Set tuneloop\.defaultModel/);
    const missing = resolvePreviewModel(input({ promptModel: './nope', setting: 'org/not-downloaded' }));
    assert.match(
      missing.kind === 'none' ? missing.reason : '',
      /the prompt's model "\.\/nope" is neither a local folder nor a downloaded Hub model; the setting tuneloop\.defaultModel "org\/not-downloaded"/,
    );
  });

  it('renders each case; without a model it says so and shows the messages only', () => {
    const parse = parsePrompt(PROMPT);
    const cases = previewCases(parse.prompt!);
    assert.equal(cases.length, 2);
    assert.equal(cases[0]!.messages[1]!.content, 'Summarize The cat sat. in 5 words.\n');
    assert.deepEqual(cases[1]!.missing, ['audience']);
    const text = formatPreview({ file: '/w/p.prompt.yml', parse, model: { kind: 'none', reason: 'No model is configured.' } });
    assert.match(text, /^# Preview: p\.prompt\.yml/);
    assert.match(text, /> No model is configured\.\n> Showing the rendered messages only\./);
    assert.match(text, /## Test case 2 of 2 \(line 12\)\n\n> No value for `\{\{audience\}\}`/);
    assert.ok(!text.includes('tokens'));
  });

  it('with a model: the text through the chat template and the token count per case', () => {
    const parse = parsePrompt(PROMPT);
    const text = formatPreview({
      file: '/w/p.prompt.yml',
      parse,
      model: { kind: 'model', dir: '/m', from: 'setting', label: '/m' },
      rendered: { template: 'model', cases: [{ text: '<|im_start|>user\n```x```<|im_end|>', tokenCount: 42 }, { error: 'roles must alternate' }] },
    });
    assert.match(text, /Model: `\/m` \(setting `tuneloop.defaultModel`\), through its chat template\./);
    assert.match(text, /## Test case 1 of 2 \(line 9\) · 42 tokens/);
    // The fence is longer than any backtick run in the text.
    assert.ok(text.includes('What the model sees (42 tokens):\n\n````text\n<|im_start|>user\n```x```<|im_end|>\n````'));
    assert.match(text, /> roles must alternate/);
  });

  it('a file that cannot be rendered lists its errors', () => {
    const parse = parsePrompt('name: x\n');
    const text = formatPreview({ file: 'x.prompt.yml', parse, model: { kind: 'none', reason: 'r' } });
    assert.match(text, /cannot be rendered yet/);
    assert.match(text, /- line 1: the file has no "messages"/);
  });

  it('the GitHub examples preview without errors', () => {
    const dir = path.join(FIXTURES, 'examples', 'github');
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.yml'))) {
      const parse = parsePrompt(fs.readFileSync(path.join(dir, f), 'utf8'));
      assert.match(formatPreview({ file: f, parse, model: { kind: 'none', reason: 'r' } }), /## (Test case 1|No test data)/, f);
    }
  });
});
