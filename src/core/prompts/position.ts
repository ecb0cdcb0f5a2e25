import { positionInfo as positionIn, type PositionInfo } from '../yaml/position';
import { PROMPT_KEYS } from './key-table';

export type { PositionInfo, PositionOf } from '../yaml/position';

/** What is at an offset of a prompt file's text (core/yaml/position.ts, with the prompt key table). */
export function positionInfo(text: string, offset: number): PositionInfo {
  return positionIn(text, offset, PROMPT_KEYS);
}
