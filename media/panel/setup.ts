import { GenerationOverrides, numberLimits, type VariantInfo } from '../../src/extension/panel/protocol';
import { button, el, icon } from '../dom';
import type { Ctx } from './app';
import { selectedVariants } from './state';

/** An input's limits, from the parameters' schema (core/infer/parameters.ts). */
const limits = (key: keyof GenerationOverrides) => {
  const l = numberLimits(key);
  return { integer: l.integer, ...(l.min !== undefined ? { min: String(l.min) } : {}), ...(l.max !== undefined ? { max: String(l.max) } : {}) };
};

/**
 * What a run is made of, shared by the compare view and the matrix: the model, the variants to
 * compare, and the generation settings (the prompt file's, each overridable here).
 */
const PARAMS: { key: keyof GenerationOverrides; label: string; step: string; min?: string; max?: string; integer?: boolean }[] = [
  { key: 'maxTokens', label: 'Max tokens', step: '1', ...limits('maxTokens') },
  { key: 'temperature', label: 'Temperature', step: '0.1', ...limits('temperature') },
  { key: 'topP', label: 'Top p', step: '0.05', ...limits('topP') },
  { key: 'topK', label: 'Top k', step: '1', ...limits('topK') },
  { key: 'repetitionPenalty', label: 'Repetition penalty', step: '0.05', ...limits('repetitionPenalty') },
  { key: 'seed', label: 'Seed', step: '1', ...limits('seed') },
];

let paramsOpen = false;

export function renderModel(ctx: Ctx): HTMLElement {
  const info = ctx.s.info!;
  const select = el('select', { id: 'model', 'aria-describedby': info.modelNote ? 'model-note' : undefined });
  for (const m of info.models)
    select.append(
      el(
        'option',
        { value: m.id, selected: m.id === info.model },
        `${m.label}${m.from === 'prompt' ? ' (the prompt’s model)' : m.from === 'setting' ? ' (tuneloop.defaultModel)' : m.from === 'run' ? ' (a run’s base model)' : ''}`,
      ),
    );
  if (info.models.length === 0) select.append(el('option', { value: '', selected: true }, 'No model found'));
  select.disabled = info.models.length === 0;
  select.addEventListener('change', () => ctx.post({ type: 'panel/selectModel', file: info.file, model: select.value }));
  return el(
    'div',
    { class: 'field model-field' },
    el('label', { for: 'model' }, 'Model'),
    el(
      'div',
      { class: 'row' },
      select,
      button(
        [icon('folder'), ' Other folder…'],
        { class: 'secondary', title: 'Pick a model folder: a Hugging Face checkpoint or a transformers.js export' },
        () => ctx.post({ type: 'panel/pickModel', file: info.file }),
      ),
    ),
    info.modelNote ? el('p', { id: 'model-note', class: 'warning' }, info.modelNote) : null,
  );
}

function variantCheckbox(ctx: Ctx, v: VariantInfo, selected: Set<string>): HTMLElement {
  const id = `variant-${v.id.replace(/[^\w-]/g, '_')}`;
  const box = el('input', { type: 'checkbox', id, checked: selected.has(v.id), disabled: !v.available, 'data-variant': v.id });
  box.addEventListener('change', () => {
    if (box.checked) selected.add(v.id);
    else selected.delete(v.id);
    ctx.save();
    ctx.onSelectionChange();
  });
  const title = v.available ? v.detail : `${v.detail}: ${v.reason ?? 'not available'}`;
  return el(
    'label',
    { class: `chip${v.available ? '' : ' unavailable'}`, for: id, title },
    box,
    el('span', { class: 'chip-name' }, v.name),
    el('span', { class: 'chip-kind' }, v.kind === 'recipe' ? 'recipe' : v.kind),
    v.available ? null : el('span', { class: 'chip-reason' }, v.reason ?? 'not available'),
  );
}

export function renderVariants(ctx: Ctx): HTMLElement {
  const info = ctx.s.info!;
  const selected = selectedVariants(ctx.s);
  const listed = info.variants.filter((v) => v.listed);
  const others = info.variants.filter((v) => !v.listed);
  const usable = others.filter((v) => v.available).length;
  return el(
    'fieldset',
    { class: 'field variants' },
    el('legend', {}, 'Variants'),
    el('div', { class: 'chips' }, ...listed.map((v) => variantCheckbox(ctx, v, selected))),
    others.length
      ? el(
          'details',
          { class: 'more-variants', open: others.some((v) => selected.has(v.id)) },
          el('summary', {}, `Runs and checkpoints (${usable} of ${others.length} on this model)`),
          el('div', { class: 'chips' }, ...others.map((v) => variantCheckbox(ctx, v, selected))),
        )
      : el('p', { class: 'muted small' }, 'Finished fine-tuning runs and their checkpoints will be listed here too.'),
  );
}

export function renderParams(ctx: Ctx): HTMLElement {
  const info = ctx.s.info!;
  const o = ctx.s.overrides;
  const error = el('p', { class: 'error small', role: 'alert', hidden: true });
  const inputs = PARAMS.map((p) => {
    const fromFile = info.params[p.key];
    const input = el('input', {
      type: 'number',
      id: `param-${p.key}`,
      step: p.step,
      min: p.min,
      max: p.max,
      placeholder: fromFile === undefined ? 'default' : String(fromFile),
      value: o[p.key] === undefined ? undefined : String(o[p.key]),
    });
    input.addEventListener('change', () => {
      const next = { ...ctx.s.overrides } as Record<string, unknown>;
      if (input.value.trim() === '') delete next[p.key];
      else next[p.key] = p.integer ? Math.round(Number(input.value)) : Number(input.value);
      const checked = GenerationOverrides.safeParse(next);
      input.setAttribute('aria-invalid', String(!checked.success));
      if (!checked.success) {
        error.hidden = false;
        error.textContent = `${p.label}: ${checked.error.issues[0]?.message ?? 'invalid'}`;
        return;
      }
      error.hidden = true;
      ctx.s.overrides = checked.data;
      ctx.save();
      summary.textContent = summaryText();
    });
    return el('div', { class: 'param' }, el('label', { for: `param-${p.key}` }, p.label), input);
  });
  const stop = el('input', { type: 'text', id: 'param-stop', placeholder: info.params.stop?.join(' | ') ?? 'none', value: o.stop?.join(' | ') });
  stop.addEventListener('change', () => {
    const parts = stop.value
      .split('|')
      .map((x) => x.trim())
      .filter(Boolean);
    const next = { ...ctx.s.overrides };
    if (parts.length) next.stop = parts;
    else delete next.stop;
    ctx.s.overrides = next;
    ctx.save();
    summary.textContent = summaryText();
  });
  const summaryText = () => {
    const n = Object.keys(ctx.s.overrides).length;
    return n ? `Generation settings (${n} overridden)` : 'Generation settings (from the prompt file)';
  };
  const summary = el('summary', {}, summaryText());
  const details = el(
    'details',
    { class: 'params', open: paramsOpen },
    summary,
    el(
      'div',
      { class: 'param-grid' },
      ...inputs,
      el('div', { class: 'param wide' }, el('label', { for: 'param-stop' }, 'Stop strings (separated by |)'), stop),
    ),
    error,
    button('Reset to the file’s settings', { class: 'secondary' }, () => {
      ctx.s.overrides = {};
      ctx.save();
      ctx.render();
    }),
  );
  details.addEventListener('toggle', () => (paramsOpen = details.open));
  return details;
}
