import { el } from '../dom';

/** What a first-time user sees in place of the compare view: no folder open, or no prompt file in it yet. */
export function gettingStarted(hasWorkspace: boolean): HTMLElement {
  return el(
    'div',
    { class: 'empty getting-started' },
    el('h2', {}, hasWorkspace ? 'No prompt file in this workspace yet' : 'Open a folder to start'),
    el(
      'p',
      {},
      'Tuneloop runs prompt files on a local model, compares base and fine-tuned adapters side by side, and fine-tunes LoRA adapters in a background process.',
    ),
    el(
      'ol',
      {},
      el('li', {}, 'Create ', el('code', {}, 'NAME.prompt.yml'), ' with messages, ', el('code', {}, '{{variables}}'), ' and test data:'),
      el(
        'pre',
        { class: 'snippet' },
        'name: Summarize\nmodel: ./models/my-model\nmessages:\n  - role: user\n    content: "Summarize: {{text}}"\ntestData:\n  - text: The quick brown fox…\nevaluators:\n  - name: short\n    maxLength: 200',
      ),
      el('li', {}, 'Click ', el('strong', {}, 'Run'), ' or ', el('strong', {}, 'Compare'), ' above its first line (the CodeLens), or come back here.'),
      el('li', {}, 'Write ', el('code', {}, 'NAME.adapter.yml'), ' to fine-tune an adapter, then compare it with the base model.'),
    ),
  );
}
