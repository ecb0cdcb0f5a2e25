import { FromWebview, ToWebview } from '../src/extension/webview/protocol';

/** The Home view's script: renders what the extension sends, validated, with DOM APIs only (no innerHTML). */
interface VsCodeApi {
  postMessage(message: FromWebview): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const app = document.getElementById('app')!;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

function commandButton(label: string, command: FromWebview & { type: 'runCommand' }): HTMLButtonElement {
  const b = el('button', { type: 'button' }, label);
  b.addEventListener('click', () => vscode.postMessage(command));
  return b;
}

function render(state: ToWebview): void {
  const steps = el(
    'ol',
    {},
    el('li', {}, 'Write a prompt file, ', el('code', {}, 'NAME.prompt.yml'), ': messages with ', el('code', {}, '{{variables}}'), ', test data and evaluators.'),
    el('li', {}, 'Run it on a local model and compare outputs.'),
    el('li', {}, 'Write an adapter recipe, ', el('code', {}, 'NAME.adapter.yml'), ', and fine-tune a LoRA adapter.'),
  );
  const found = state.hasWorkspace
    ? el('p', {}, `This workspace has ${state.promptFiles} prompt file(s) and ${state.adapterRecipes} adapter recipe(s).`)
    : el('p', {}, 'Open a folder to start.');
  const trust = state.trusted ? [] : [el('p', { class: 'warning', role: 'status' }, 'Untrusted workspace: files are read and checked, but no model or training runs.')];
  app.replaceChildren(
    el('h2', {}, 'Tuneloop'),
    found,
    ...trust,
    steps,
    el('div', { class: 'actions' }, commandButton('Describe a model folder…', { type: 'runCommand', command: 'tuneloop.describeModel' }), commandButton('Show log', { type: 'runCommand', command: 'tuneloop.showLog' })),
    el('p', { class: 'muted' }, `Version ${state.version}`),
  );
}

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  const parsed = ToWebview.safeParse(event.data);
  if (!parsed.success) {
    console.warn('tuneloop: ignored an invalid message', parsed.error.issues);
    return;
  }
  render(parsed.data);
});

app.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
vscode.postMessage({ type: 'ready' });
