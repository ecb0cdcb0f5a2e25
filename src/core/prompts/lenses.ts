import { firstContentLine, type LensSpec } from '../yaml/editor';
import { analyzePrompt } from './analyze';

/** The lenses shown above a prompt file: Run, Compare and Preview, with counts from the file when it parses. */
export function codeLensesFor(text: string): LensSpec[] {
  const { prompt } = analyzePrompt(text);
  const cases = prompt?.testData?.length;
  const adapters = prompt?.adapters.length ?? 0;
  const caseText = cases === undefined ? '' : ` (${cases} test case${cases === 1 ? '' : 's'})`;
  const offset = firstContentLine(text);
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
  ];
}
