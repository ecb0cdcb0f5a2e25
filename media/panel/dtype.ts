import type { RunHeader } from '../../src/extension/panel/protocol';
import { el } from '../dom';

type HeaderVariant = RunHeader['variants'][number];

const MEANS: Readonly<Record<HeaderVariant['dtype'], string>> = {
  fp32: 'float32 weights',
  q8: '8-bit quantized weights (blocks of 32)',
  q4: '4-bit quantized weights (blocks of 32)',
};

const FROM: Readonly<Record<RunHeader['dtypeFrom'], string>> = {
  option: 'chosen on the command line',
  prompt: "the prompt file's dtype",
  setting: 'the tuneloop.dtype setting',
  default: 'the default; set dtype in the prompt file or tuneloop.dtype to change it',
};

/** The small tag beside a variant's name (compare column, matrix header) saying which dtype its model ran in. */
export function dtypeTag(v: HeaderVariant, from: RunHeader['dtypeFrom']): HTMLElement {
  return el('span', { class: `chip-dtype dtype-${v.dtype}`, title: `${v.name} ran with ${MEANS[v.dtype]} (${v.dtype}): ${FROM[from]}` }, v.dtype);
}
