import * as vscode from 'vscode';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** The Tuneloop output channel, filtered by the `tuneloop.logLevel` setting. */
export class Log implements vscode.Disposable {
  private readonly channel = vscode.window.createOutputChannel('Tuneloop', { log: true });
  private level: LogLevel = 'info';
  private readonly watcher: vscode.Disposable;

  constructor() {
    this.readLevel();
    this.watcher = vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('tuneloop.logLevel')) this.readLevel();
    });
  }

  private readLevel(): void {
    this.level = vscode.workspace.getConfiguration('tuneloop').get<LogLevel>('logLevel', 'info');
  }

  write(level: LogLevel, message: string): void {
    if (RANK[level] > RANK[this.level]) return;
    this.channel[level === 'warn' ? 'warn' : level](message);
  }

  error(m: string): void {
    this.write('error', m);
  }
  warn(m: string): void {
    this.write('warn', m);
  }
  info(m: string): void {
    this.write('info', m);
  }
  debug(m: string): void {
    this.write('debug', m);
  }

  show(): void {
    this.channel.show(true);
  }

  dispose(): void {
    this.watcher.dispose();
    this.channel.dispose();
  }
}
