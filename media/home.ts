import { type FromHome, ToHome } from '../src/extension/webview/home-protocol';
import { describeInvalid } from '../src/extension/webview/invalid';
import { count, el, vscode } from './dom';

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
  // Each count opens a pick of those files (a plain text when there are none).
  const files = (n: number, noun: string, kind: 'prompt' | 'adapter'): HTMLElement | string => {
    if (n === 0) return count(n, noun);
    const a = el('a', { href: '#', class: 'count-link', title: `Pick one of the ${noun}s to open` }, count(n, noun));
    a.addEventListener('click', (e) => {
      e.preventDefault();
      vscode.postMessage({ type: 'showFiles', kind } satisfies FromHome);
    });
    return a;
  };
  const found = state.hasWorkspace
    ? el(
        'p',
        {},
        'This workspace has ',
        files(state.promptFiles, 'prompt file', 'prompt'),
        ' and ',
        files(state.adapterRecipes, 'adapter recipe', 'adapter'),
        '.',
      )
    : el('p', {}, 'Open a folder to start.');
  const trust = state.trusted
    ? []
    : [el('p', { class: 'warning', role: 'status' }, 'Untrusted workspace: files are read and checked, but no model or training runs.')];
  // The view is often short (it shares the side bar with Runs): the actions come first, so that what
  // gets cut off at the bottom is the getting-started text.
  app.replaceChildren(
    el('h2', {}, 'Tuneloop ', el('span', { class: 'muted small' }, state.version)),
    found,
    ...trust,
    el(
      'div',
      { class: 'actions' },
      commandButton('Open the panel', { type: 'runCommand', command: 'tuneloop.openPanel' }, true),
      commandButton('Describe a model…', { type: 'runCommand', command: 'tuneloop.describeModel' }),
      commandButton('Show log', { type: 'runCommand', command: 'tuneloop.showLog' }),
    ),
    steps,
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
