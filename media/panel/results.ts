/**
 * What the compare view and the matrix share as views of a generation run: the message handlers
 * (handlers.ts) drive either through this, whichever mode the run is.
 */
export interface ResultsView {
  readonly root: HTMLElement;
  /** The whole result area: a new run, its end, a toggle. */
  render(): void;
  /** One cell changed: tokens streamed in, it finished, or its variant failed. */
  paint(variant: string, caseIndex: number): void;
  /** The run's state line changed: a cell started, or the worker reported progress. */
  progress(): void;
  /** What is drawn from all the cells (the matrix's pass rates and snapshot button); the compare view has none. */
  summary?(): void;
}
