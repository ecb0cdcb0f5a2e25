import { firstContentLine, type LensSpec } from '../yaml/editor';
import { analyzePrompt } from './analyze';

/** The start of the line holding `offset`. */
const lineStart = (text: string, offset: number) => text.lastIndexOf('\n', offset - 1) + 1;

/**
 * The lenses shown above a prompt file: Run, Compare and Preview, with counts from the file when it
 * parses; and above each test case, Run and Compare on that case alone.
 */
export function codeLensesFor(text: string): LensSpec[] {
  const { prompt } = analyzePrompt(text);
  const cases = prompt?.testData?.length;
  const adapters = prompt?.adapters.length ?? 0;
  const caseText = cases === undefined ? '' : ` (${cases} test case${cases === 1 ? '' : 's'})`;
  const offset = firstContentLine(text);
  const perCase = (prompt?.testData ?? []).flatMap((c, i): LensSpec[] => {
    if (!c.span) return [];
    const at = lineStart(text, c.span.start);
    return [
      { offset: at, action: 'run', caseIndex: i, title: `$(play) Run case ${i + 1}`, tooltip: `Run the prompt on the model with test case ${i + 1}` },
      {
        offset: at,
        action: 'compare',
        caseIndex: i,
        title: `$(split-horizontal) Compare case ${i + 1}`,
        tooltip: `Compare base and adapters on test case ${i + 1}`,
      },
    ];
  });
  return [
    { offset, action: 'run', title: '$(play) Run', tooltip: `Run the prompt on the model${caseText}` },
    {
      offset,
      action: 'compare',
      title: '$(split-horizontal) Compare',
      tooltip: adapters > 0 ? `Compare the base model with ${adapters} adapter${adapters === 1 ? '' : 's'}${caseText}` : `Compare base and adapters${caseText}`,
    },
    {
      offset,
      action: 'preview',
      title: '$(open-preview) Preview',
      tooltip: 'Preview the rendered prompt: the text the model sees, and its token count',
    },
    ...perCase,
  ];
}

/**
 * The test case under `offset` (a cursor): the index of the `testData` entry whose lines hold it,
 * from the line of its dash to its last line; undefined elsewhere or when the file does not parse.
 */
export function caseAtOffset(text: string, offset: number): number | undefined {
  const cases = analyzePrompt(text).prompt?.testData ?? [];
  const lineEnd = (at: number) => (text.indexOf('\n', at) < 0 ? text.length : text.indexOf('\n', at));
  // A block mapping's span runs on to the next key's line: end at the line of its last character.
  const end = (start: number, stop: number) => lineEnd(start + text.slice(start, stop).trimEnd().length);
  const index = cases.findIndex((c) => c.span && offset >= lineStart(text, c.span.start) && offset <= end(c.span.start, c.span.end));
  return index < 0 ? undefined : index;
}
