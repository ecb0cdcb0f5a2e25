/**
 * The extension's workspace-trust decisions, in one module without `vscode`: in an untrusted workspace
 * Tuneloop reads and checks files but runs no model and no training (package.json's
 * `untrustedWorkspaces: limited`). main.ts and the preview pass VS Code's trust in; unit tests pass
 * stand-ins. The panel's own refusals are in panel/controller.ts (`requireTrust`).
 */
export const UNTRUSTED_WARNING = 'Tuneloop runs no model and no training in an untrusted workspace. Trust the workspace to continue.';

/** Whether each command runs a model or training, and so is refused in an untrusted workspace. */
export const COMMAND_NEEDS_TRUST = {
  // The panel opens everywhere: in an untrusted workspace it reads and checks files, and says why it runs nothing.
  'tuneloop.openPanel': false,
  // Open the panel on a prompt; they run at once only in a trusted workspace (`autorunIfTrusted`), and the panel refuses runs otherwise.
  'tuneloop.runPrompt': false,
  'tuneloop.comparePrompt': false,
  // Reads the prompt and, in a trusted workspace only, the model's tokenizer files: no model runs.
  'tuneloop.previewPrompt': false,
  'tuneloop.trainAdapter': true,
  // Runs the teacher model (in the worker), then training.
  'tuneloop.distillRecipe': true,
  // Cancelling stops a process; it runs no model, so it is allowed everywhere.
  'tuneloop.cancelRun': false,
  'tuneloop.resumeRun': true,
  // Deletes files in the cache folder only; no model runs.
  'tuneloop.clearCache': false,
  'tuneloop.showLog': false,
  // Reads config.json and safetensors headers only; nothing is executed.
  'tuneloop.describeModel': false,
} as const satisfies Readonly<Record<string, boolean>>;

export type CommandId = keyof typeof COMMAND_NEEDS_TRUST;

export interface TrustGate {
  /** Asked at each call: trust can be granted while the window is open. */
  isTrusted(): boolean;
  warn(message: string): void;
}

/** A command's handler behind the gate: a command that needs trust warns and does nothing in an untrusted workspace. */
export function gateCommand<A extends unknown[], R>(id: CommandId, gate: TrustGate, run: (...args: A) => Promise<R>): (...args: A) => Promise<R | undefined> {
  const needsTrust = COMMAND_NEEDS_TRUST[id];
  return async (...args: A) => {
    if (needsTrust && !gate.isTrusted()) {
      gate.warn(UNTRUSTED_WARNING);
      return undefined;
    }
    return run(...args);
  };
}

/** Run / Compare open the panel on the prompt and run it at once, in a trusted workspace only. */
export function autorunIfTrusted(trusted: boolean, autorun: 'run' | 'compare'): { autorun?: 'run' | 'compare' } {
  return trusted ? { autorun } : {};
}

export interface TrustEvents {
  isTrusted(): boolean;
  /** VS Code's `workspace.onDidGrantWorkspaceTrust`. */
  onDidGrant(listener: () => void): { dispose(): void };
}

/**
 * Runs started before a window reload may still be going: follow them again (`reattach`), at once in
 * a trusted workspace, else when the workspace is trusted, never before.
 */
export function followRunsWhenTrusted(trust: TrustEvents, reattach: () => void): { dispose(): void } {
  if (trust.isTrusted()) {
    reattach();
    return { dispose: () => undefined };
  }
  let followed = false;
  return trust.onDidGrant(() => {
    if (followed) return;
    followed = true;
    reattach();
  });
}
