import type { DistillSide, ToPanel } from '../../src/extension/panel/protocol';
import { button, count, el, icon } from '../dom';
import type { Ctx } from './app';
import { wordDiffNodes } from './output';

export type DistillData = Extract<ToPanel, { type: 'distill/data' }>;
export type DistillReport = Extract<ToPanel, { type: 'distill/report' }>;

/** What the Distill tab shows: the job going (if any), the rows of the last data stage, the last comparison. */
export interface DistillState {
  running?: 'run' | 'compare' | undefined;
  progress?: string | undefined;
  data?: DistillData | undefined;
  report?: DistillReport | undefined;
  error?: string | undefined;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/**
 * The Distill tab: a distillation recipe (teacher: a long prompt or another model; student: the
 * short prompt) made into an adapter. "Distill and train" has the teacher answer the inputs (cached,
 * so a stopped run goes on), previews the rows (the dataset opens in the editor to edit), then trains
 * (the Fine-tune tab follows the curve). "Compare with the teacher" runs both on the held-out cases:
 * pass rates, agreement, input tokens per call and time per case, and each case's two answers with
 * the student's word diff against the teacher's.
 */
export class DistillView {
  readonly root = el('div', { class: 'distill' });

  constructor(private readonly ctx: Ctx) {}

  render(): void {
    const s = this.ctx.s;
    const recipes = s.recipes.filter((r) => r.distill);
    // From a prompt file: its starter recipe, student prompt and inputs (written beside it, opened to edit).
    const prompt = s.prompts.find((p) => p.file === s.file);
    const fromPrompt = prompt
      ? button([icon('mortar-board'), ` New distillation recipe from ${prompt.label}`], { class: 'secondary', id: 'distill-new' }, () =>
          this.ctx.post({ type: 'distill/new', file: prompt.file }),
        )
      : '';
    if (recipes.length === 0) {
      this.root.replaceChildren(
        el(
          'div',
          { class: 'empty' },
          el('p', {}, 'No distillation recipe in this workspace. An adapter recipe with a teacher distils a long prompt (or a larger model) into an adapter:'),
          el('div', { class: 'toolbar' }, fromPrompt),
          el(
            'pre',
            { class: 'snippet' },
            'teacher:\n  prompt: long.prompt.yml   # its testData are the held-out cases\nstudent:\n  prompt: short.prompt.yml\ninputs:\n  path: data/inputs.jsonl  # rows of variables\ndataset:\n  path: data/distilled.jsonl',
          ),
        ),
      );
      return;
    }
    if (!s.distillRecipe || !recipes.some((r) => r.file === s.distillRecipe)) s.distillRecipe = recipes[0]!.file;
    const recipe = s.distillRecipe;
    const d = s.distill;
    const select = el(
      'select',
      { id: 'distill-recipe', 'aria-label': 'Distillation recipe' },
      ...recipes.map((r) => el('option', { value: r.file, selected: r.file === recipe }, r.label)),
    );
    select.addEventListener('change', () => {
      s.distillRecipe = select.value;
      this.ctx.save();
      this.render();
    });
    const why = !s.trusted ? 'Trust the workspace to run a model.' : d.running ? 'A distillation is going.' : undefined;
    const start = button([icon('mortar-board'), ' Distill and train'], { class: 'primary', id: 'distill-run', disabled: why !== undefined, title: why }, () =>
      this.ctx.post({ type: 'distill/run', recipe }),
    );
    const compare = button(
      [icon('diff'), ' Compare with the teacher'],
      { class: 'secondary', id: 'distill-compare', disabled: why !== undefined, title: why },
      () => this.ctx.post({ type: 'distill/compare', recipe }),
    );
    const stop = button([icon('stop'), ' Stop'], { class: 'secondary', id: 'distill-stop', disabled: !d.running }, () =>
      this.ctx.post({ type: 'distill/stop' }),
    );
    const open = button([icon('file'), ' Open recipe'], { class: 'secondary' }, () => this.ctx.post({ type: 'panel/openFile', file: recipe }));
    this.root.replaceChildren(
      el('div', { class: 'file-row' }, el('label', { for: 'distill-recipe' }, 'Distillation recipe'), select, open, fromPrompt),
      el(
        'p',
        { class: 'muted small' },
        'The teacher answers the recipe’s inputs; its answers become the student’s rows; the adapter trains on them; then both run on the teacher prompt’s held-out cases.',
      ),
      el('div', { class: 'toolbar' }, start, compare, stop, why && !d.running ? el('span', { class: 'muted small' }, why) : ''),
      el('p', { class: 'muted small progress', role: 'status', id: 'distill-status' }, d.running ? (d.progress ?? 'Starting…') : (d.error ?? '')),
      ...(d.data && d.data.recipe === recipe ? [this.rows(d.data)] : []),
      ...(d.report && d.report.recipe === recipe ? [this.report(d.report)] : []),
    );
  }

  /** The progress line alone (no rebuild while a job reports). */
  progress(): void {
    const status = this.root.querySelector('#distill-status');
    if (status) status.textContent = this.ctx.s.distill.progress ?? '';
  }

  private rows(d: DistillData): HTMLElement {
    return el(
      'section',
      { class: 'distill-rows' },
      el(
        'h3',
        {},
        `Rows: ${d.total} in ${d.datasetLabel} `,
        el('span', { class: 'muted small' }, `(${d.generated} answers generated, ${d.cached} from the cache)`),
        ' ',
        button([icon('edit'), ' Open to edit'], { class: 'secondary small', id: 'distill-open-dataset' }, () =>
          this.ctx.post({ type: 'panel/openFile', file: d.dataset }),
        ),
      ),
      ...(d.warning ? [el('p', { class: 'warn small' }, d.warning.split('\n')[0]!)] : []),
      el(
        'table',
        { class: 'distill-table' },
        el('thead', {}, el('tr', {}, el('th', {}, 'Student’s input'), el('th', {}, 'Teacher’s answer'))),
        el(
          'tbody',
          {},
          ...d.rows.map((r) =>
            el('tr', {}, el('td', {}, el('pre', { class: 'cell-output' }, r.input)), el('td', {}, el('pre', { class: 'cell-output' }, r.answer))),
          ),
        ),
      ),
      d.total > d.rows.length ? el('p', { class: 'muted small' }, `and ${count(d.total - d.rows.length, 'more row')}`) : '',
    );
  }

  private report(r: DistillReport): HTMLElement {
    const side = (x: DistillSide) =>
      el(
        'li',
        {},
        el('strong', {}, x.name),
        ` ${pct(x.passRate)} (${x.passed}/${x.cases}) · ${x.meanPromptTokens.toFixed(1)} input tokens per call · ${(x.meanSeconds * 1000).toFixed(0)} ms per case`,
        x.agreement
          ? ` · passes ${pct(x.agreement.passedWhereTeacherPassed)} of the ${x.agreement.teacherPassed} the teacher passes · agrees exactly on ${pct(x.agreement.exact)}`
          : '',
      );
    const mark = (passed: boolean | undefined) => el('span', { class: passed ? 'pass' : 'fail' }, passed ? '✓' : '✗');
    return el(
      'section',
      { class: 'distill-report' },
      el('h3', {}, `Held-out cases: student (${r.adapterLabel}) against teacher`),
      el('ul', { class: 'distill-figures' }, side(r.teacher), side(r.student)),
      el('p', { class: 'distill-saving' }, `Input tokens per call fall by ${pct(r.inputTokenSaving)}.`),
      el(
        'table',
        { class: 'distill-table' },
        el('thead', {}, el('tr', {}, el('th', {}, 'Case'), el('th', {}, 'Teacher (long prompt)'), el('th', {}, 'Student (short prompt, adapter)'))),
        el(
          'tbody',
          {},
          ...r.cases.map((c, i) =>
            el(
              'tr',
              { class: r.student.outputs[i] === r.teacher.outputs[i] ? 'same' : 'differs' },
              el('td', {}, c),
              el('td', {}, mark(r.teacher.casePassed[i]), ' ', el('span', { class: 'cell-output' }, r.teacher.outputs[i] ?? '')),
              el('td', {}, mark(r.student.casePassed[i]), ' ', diffAgainst(r.teacher.outputs[i] ?? '', r.student.outputs[i] ?? '')),
            ),
          ),
        ),
      ),
    );
  }
}

/** The student's answer, word by word against the teacher's. */
function diffAgainst(teacher: string, student: string): HTMLElement {
  return el('span', { class: 'cell-output' }, ...wordDiffNodes(teacher, student, { added: 'the student’s', removed: 'the teacher’s' }));
}
