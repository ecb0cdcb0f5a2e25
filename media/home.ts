import { type FromHome, ToHome } from '../src/extension/webview/home-protocol';
import { describeInvalid } from '../src/extension/webview/invalid';
import { el, vscode } from './dom';

/** The Home view (activity bar): what to do first, and what the workspace holds. Validated messages, DOM APIs only. */
function commandButton(label: string, command: FromHome & { type: 'runCommand' }, primary = false): HTMLButtonElement {
  const b = el('button', { type: 'button', class: primary ? 'primary' : 'secondary' }, label);
  b.addEventListener('click', () => vscode.postMessage(command));
  return b;
}

function render(app: HTMLElement, state: Extract<ToHome, { type: 'state' }>): void {
  const steps = el(
    'ol',
    {},
    el(
      'li',
      {},
      'Write a prompt file, ',
      el('code', {}, 'NAME.prompt.yml'),
      ': messages with ',
      el('code', {}, '{{variables}}'),
      ', test data and evaluators.',
    ),
    el('li', {}, 'Run it on a local model and compare outputs.'),
    el('li', {}, 'Write an adapter recipe, ', el('code', {}, 'NAME.adapter.yml'), ', and fine-tune a LoRA adapter.'),
  );
  const found = state.hasWorkspace
    ? el('p', {}, `This workspace has ${state.promptFiles} prompt file(s) and ${state.adapterRecipes} adapter recipe(s).`)
    : el('p', {}, 'Open a folder to start.');
  const trust = state.trusted
    ? []
    : [el('p', { class: 'warning', role: 'status' }, 'Untrusted workspace: files are read and checked, but no model or training runs.')];
  app.replaceChildren(
    el('h2', {}, 'Tuneloop'),
    found,
    ...trust,
    steps,
    el(
      'div',
      { class: 'actions' },
      commandButton('Open the run & compare panel', { type: 'runCommand', command: 'tuneloop.openPanel' }, true),
      commandButton('Describe a model folder…', { type: 'runCommand', command: 'tuneloop.describeModel' }),
      commandButton('Show log', { type: 'runCommand', command: 'tuneloop.showLog' }),
    ),
    el('p', { class: 'muted' }, `Version ${state.version}`),
  );
}

export function mountHome(app: HTMLElement): void {
  document.body.classList.add('home');
  app.setAttribute('aria-live', 'polite');
  window.addEventListener('message', (event: MessageEvent<unknown>) => {
    const parsed = ToHome.safeParse(event.data);
    if (!parsed.success) {
      console.warn(`tuneloop: ignored an invalid message: ${describeInvalid(parsed.error)}`);
      return;
    }
    render(app, parsed.data);
  });
  app.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
  vscode.postMessage({ type: 'ready' });
}
