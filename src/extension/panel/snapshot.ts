import { compareSnapshot, type Snapshot, writeSnapshot } from '../../core/compare/snapshot';
import type { PanelEnv } from './env';
import { cellKey, type GenerationRun } from './generation';
import type { ToPanel } from './protocol';
import { snapshotOutputs } from './sources';

/**
 * "Accept as snapshot": a matrix run's outputs of base and of each adapter the file lists, written
 * to the file's snapshot as `tuneloop eval --update-snapshots` writes it, so that CI compares
 * against them. Refused (an error saying why) when the run does not hold exactly what eval would
 * produce; the page is told which cells now match.
 */
export function acceptSnapshot(run: GenerationRun, env: PanelEnv, post: (m: ToPanel) => void): void {
  const runId = run.header.runId;
  const file = run.source.snapshotFile;
  if (!file) throw new Error('the prompt file names no snapshot file: add "snapshot: NAME.snapshot.json" to it');
  if (!env.inWorkspace(file)) throw new Error(`the snapshot file ${file} is outside the workspace: the panel writes only inside it`);
  if (run.end?.status !== 'done' || !run.modelSha256) throw new Error('the matrix did not finish: run it to the end first');
  if (run.overridden)
    throw new Error(
      "the outputs were generated with settings other than the prompt file's: tuneloop eval would not reproduce them; reset the overrides and run the matrix again",
    );
  // tuneloop eval runs the prompt file's dtype (else fp32); the tuneloop.dtype setting is the editor's only.
  const evalDtype = run.source.prompt?.dtype ?? 'fp32';
  if (run.dtype !== evalDtype)
    throw new Error(
      `the outputs were generated in ${run.dtype} (the tuneloop.dtype setting), and tuneloop eval runs this prompt file in ${evalDtype}: add "dtype: ${run.dtype}" to the prompt file, or set tuneloop.dtype to ${evalDtype}, and run the matrix again`,
    );
  const listed = run.source.info.variants.filter((v) => v.listed);
  const missing = listed.filter((v) => !run.header.variants.some((x) => x.id === v.id));
  if (missing.length) {
    const why = (v: (typeof missing)[number]) => (v.available ? v.name : `${v.name} (${v.reason ?? 'not available'})`);
    throw new Error(`the snapshot holds base and every adapter the file lists; this run lacks ${missing.map(why).join(', ')}`);
  }
  const allCases = run.source.prompt?.testData?.length ?? 1;
  if (run.header.cases.length !== allCases) throw new Error('the snapshot holds every test case: run the matrix on all of them');
  const outputs: Record<string, Record<string, string>> = {};
  for (const v of run.header.variants) {
    if (!listed.some((x) => x.id === v.id)) continue;
    outputs[v.name] = {};
    for (const c of run.header.cases) {
      const cell = run.cells.get(cellKey(v.id, c.index))?.cell;
      if (!cell || cell.finish === 'error' || cell.finish === 'cancelled') throw new Error(`${v.name} has no output for case ${c.index + 1}`);
      outputs[v.name]![String(c.index)] = cell.text;
    }
  }
  const promptModel = run.source.prompt?.model;
  const fromPrompt = run.source.info.models.find((o) => o.id === run.modelId)?.from === 'prompt';
  const snapshot: Snapshot = {
    version: 1,
    model: { id: fromPrompt && promptModel ? promptModel : env.label(run.modelId), sha256: run.modelSha256 },
    outputs,
  };
  const before = snapshotOutputs(file);
  writeSnapshot(file, snapshot);
  const changes = before ? compareSnapshot({ ...snapshot, outputs: before }, outputs).length : undefined;
  env.log.info(`panel: wrote the snapshot ${file}${changes !== undefined ? ` (${changes} output(s) changed)` : ''}`);
  post({ type: 'snapshot/written', runId, label: env.label(file) });
  // The page marks the cells as matching the snapshot now.
  for (const c of run.cells.values()) {
    if (!c.cell || !listed.some((x) => x.id === c.variant)) continue;
    c.cell = { ...c.cell, snapshot: 'same' };
    post({ type: 'run/cell', runId, variant: c.variant, caseIndex: c.caseIndex, cell: c.cell });
  }
}
