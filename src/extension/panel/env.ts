import type { RequestEvent, RequestMethod, RequestParams, RequestResult } from '../../worker/protocol';
import type { Tab, ToPanel } from './protocol';
import type { ExportDtype } from '../../core/dtypes';

/**
 * What the panel's logic needs of the editor and of the worker. The controller and its parts
 * (generation.ts, snapshot.ts, follow.ts) have no `vscode` import: panel.ts gives them VS Code's
 * services through `PanelEnv`, and unit tests a fake page and a real worker.
 */
export interface PanelEnv {
  /** Sends a message to the page; the page validates it again on receipt. */
  post(message: ToPanel): void;
  isTrusted(): boolean;
  hasWorkspace(): boolean;
  /** The path rule for a file (core/fs/root.ts): its workspace folder as the root, and the folders read from anywhere. */
  paths(file: string): { root?: string; trustedReads: string[] };
  runsFolder(): string | undefined;
  findFiles(kind: 'prompt' | 'recipe'): Promise<string[]>;
  /** The text of a file as the editor holds it (unsaved edits included). */
  readDocument(file: string): Promise<string>;
  /** `dtype`: tuneloop.dtype, which a prompt file's `dtype` overrides (absent: fp32). */
  settings(): { defaultModel: string; settingBase: string | undefined; threads: number; cacheDir: string; dtype?: ExportDtype };
  cachedHubModel?(id: string): string | undefined;
  /**
   * Ask whether a Hub model that the cache lacks may be downloaded when it is run (a notification with
   * a button; the CLI's --download). Absent: never asked, never downloaded.
   */
  askDownload?(id: string): Promise<boolean>;
  /** Whether a path lies in one of the workspace's folders (the panel writes nowhere else). */
  inWorkspace(file: string): boolean;
  /** A path as the page shows it (relative to the workspace). */
  label(file: string): string;
  pickFolder(): Promise<string | undefined>;
  openDiff(left: { title: string; text: string }, right: { title: string; text: string }, title: string): Promise<void>;
  openFile(file: string): Promise<void>;
  revealFolder(dir: string): Promise<void>;
  /** VS Code's workspace-trust editor (the untrusted banner's button). Absent: the button does nothing. */
  manageTrust?(): Promise<void>;
  readonly train: {
    /** Starts a run in the detached trainer; its folder. */
    start(recipe: string): Promise<string | undefined>;
    cancel(dir: string): void;
    resume(dir: string): void;
  };
  readonly log: { info(m: string): void; warn(m: string): void; error(m: string): void; debug(m: string): void };
}

/** What the controller needs of the worker: WorkerClient's request. */
export interface WorkerLike {
  request<M extends RequestMethod>(method: M, params: RequestParams<M>, signal?: AbortSignal, onEvent?: (e: RequestEvent) => void): Promise<RequestResult<M>>;
}

export interface ShowOptions {
  readonly tab?: Tab;
  readonly file?: string;
  readonly autorun?: 'run' | 'compare';
  /** The test case to select (and run, with autorun): its index in the file's testData. */
  readonly caseIndex?: number;
  readonly run?: string;
}
