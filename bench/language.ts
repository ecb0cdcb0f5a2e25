import { clearLanguageCaches, codeLensesFor, completionsAt, hoverAt, promptDiagnostics } from '../src/core/prompts/language';
import { recipeCompletionsAt, recipeDiagnostics, recipeHoverAt } from '../src/core/recipes/language';

/**
 * Latency of the prompt-file language features on a generated 1,000-line prompt file, against the
 * 50 ms budget an editor feature has before typing feels slow.
 *
 *   npm run bench:language            (or: node out/bench/language.js [--runs 200])
 *
 * "cold" clears the parse memo before each call: the cost right after a keystroke, when the text is
 * new and the feature parses it. "warm" reuses the parse of the same text, as hover and CodeLens do
 * once diagnostics have run on that version. Prints p50/p99 per feature; never fails on time (the
 * machine is shared and noisy: read the figures, compare within one run).
 */
const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf('--runs') + 1] || 200);
const BUDGET_MS = 50;

/** A prompt file of `lines` lines: messages with placeholders, many test cases, evaluators. */
function promptFile(lines: number): string {
  const out = [
    '# Generated for bench/language.ts',
    'name: Large prompt',
    'description: Many messages and test cases',
    'model: ./models/base',
    'modelParameters:',
    '  maxTokens: 128',
    '  temperature: 0.2',
    'messages:',
    '  - role: system',
    '    content: |',
    '      You answer questions about {{product}} for {{audience}}.',
    '      Keep it under {{words}} words.',
  ];
  for (let i = 0; out.length < lines * 0.3; i++) {
    out.push(`  - role: ${i % 2 === 0 ? 'user' : 'assistant'}`, `    content: "Example ${i}: {{question}} about {{topic${i % 8}}} in {{words}} words"`);
  }
  out.push('evaluators:');
  for (let i = 0; i < 10; i++) out.push(`  - name: check ${i}`, '    string:', `      contains: '{{topic${i % 8}}}'`);
  out.push('testData:');
  let c = 0;
  while (out.length < lines - 1) {
    out.push(
      `  - product: Product ${c}`,
      `    audience: team ${c % 7}`,
      `    words: ${20 + (c % 50)}`,
      `    question: |-`,
      `      What does feature ${c} do,`,
      `      and why?`,
    );
    for (let t = 0; t < 8; t++) out.push(`    topic${t}: subject ${c}-${t}`);
    c++;
  }
  return `${out.slice(0, lines).join('\n')}\n`;
}

const RECIPE =
  'name: tone\nbase_model: ./models/base\ndataset:\n  path: data/train.jsonl\n  format: messages\nmethod: lora\nlora:\n  r: 8\n  lora_alpha: 16\ntraining:\n  max_steps: 100\n  schedule: cosine\n';

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))]!;
}

interface Row {
  readonly feature: string;
  readonly p50: number;
  readonly p99: number;
}

/** Times `fn(i)` for i in 0..runs after a warm-up, `before` (untimed) ahead of each call. */
function measure(feature: string, fn: (i: number) => unknown, before?: () => void): Row {
  for (let i = 0; i < 20; i++) {
    before?.();
    fn(i);
  }
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    before?.();
    const t = performance.now();
    fn(i);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { feature, p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

/** Offsets spread over the file: `n` of each kind, chosen evenly from all of that kind. */
function offsetsOf(text: string, re: RegExp, shift: number, n: number): number[] {
  const all = [...text.matchAll(re)].map((m) => m.index + shift);
  return Array.from({ length: n }, (_, i) => all[Math.floor((i * all.length) / n)]!);
}

function main(): void {
  const text = promptFile(1000);
  const lineCount = text.split('\n').length - 1;
  const inPlaceholder = offsetsOf(text, /\{\{\w/g, 3, 50);
  const onKey = offsetsOf(text, /^ {4}\w/gm, 6, 50);
  const onValue = offsetsOf(text, /role: /g, 6, 50);
  const newKeyLine = text.indexOf('  temperature: 0.2\n') + '  temperature: 0.2\n'.length;
  const withNewKey = `${text.slice(0, newKeyLine)}  \n${text.slice(newKeyLine)}`;
  const everywhere = [...inPlaceholder, ...onKey, ...onValue];
  const exists = () => true;
  const cold = clearLanguageCaches;
  const warm = undefined;

  const rows: Row[] = [
    measure('parse + diagnostics', () => promptDiagnostics(text, '/w/large.prompt.yml', exists), cold),
    measure('completion in {{ }} (cold)', (i) => completionsAt(text, inPlaceholder[i % inPlaceholder.length]!), cold),
    measure('completion in {{ }} (warm)', (i) => completionsAt(text, inPlaceholder[i % inPlaceholder.length]!), warm),
    measure('completion of keys', () => completionsAt(withNewKey, newKeyLine + 2), cold),
    measure('completion of values', (i) => completionsAt(text, onValue[i % onValue.length]!), cold),
    measure('hover (cold)', (i) => hoverAt(text, everywhere[i % everywhere.length]!), cold),
    measure('hover (warm)', (i) => hoverAt(text, everywhere[i % everywhere.length]!), warm),
    measure('CodeLens (cold)', () => codeLensesFor(text), cold),
    measure('CodeLens (warm)', () => codeLensesFor(text), warm),
    measure('recipe: diagnostics', () => recipeDiagnostics(RECIPE, '/w/tone.adapter.yml', exists)),
    measure('recipe: completion', (i) => recipeCompletionsAt(RECIPE, RECIPE.indexOf('lora_alpha') + (i % 5))),
    measure('recipe: hover', (i) => recipeHoverAt(RECIPE, RECIPE.indexOf('schedule') + (i % 5))),
  ];

  const placeholders = [...text.matchAll(/\{\{/g)].length;
  console.log(
    `language features on a ${lineCount}-line prompt file (${(text.length / 1024).toFixed(0)} KiB, ${placeholders} placeholders); ${RUNS} calls each, Node ${process.version}`,
  );
  console.log(`${'feature'.padEnd(30)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}  under ${BUDGET_MS} ms (p99)`);
  for (const r of rows)
    console.log(`${r.feature.padEnd(30)} ${r.p50.toFixed(2).padStart(8)} ${r.p99.toFixed(2).padStart(8)}  ${r.p99 < BUDGET_MS ? 'yes' : 'NO'}`);
}

main();
