// deployments.js — the Deployments view: create a deployment from a manifest (built
// step by step from modules, functions and devices, or pasted as JSON), see where each
// step was placed and why, deploy it, run it with arguments or files, and see the
// result and each step's time. The pipeline shows a step moving when the orchestrator
// re-places it (a device lost, a better one found).

import { api, idOf } from './api.js';
import { state, subscribe, refresh, describedFunctions, moduleById, deviceById, deviceState } from './state.js';
import { h, clear, reconcile, notify, busy, field, select, setOptions, formatMs, shortText } from './ui.js';

// ---------------------------------------------------------------- names

function moduleName(value) {
  const m = moduleById(value);
  return m ? m.name : String(value || '?');
}

function deviceName(id, fallback) {
  const d = deviceById(id);
  return d ? d.name : fallback || id || 'not placed';
}

function stepsOf(deployment) {
  return Array.isArray(deployment.sequence) ? deployment.sequence
    : (deployment.manifest && deployment.manifest.sequence) || [];
}

// The reasons for each step: placement {steps: [...], totalCost, exact} or the steps alone.
function placementOf(deployment) {
  const p = deployment.placement;
  if (Array.isArray(p)) return p;
  return p && Array.isArray(p.steps) ? p.steps : [];
}

// ---------------------------------------------------------------- create

function functionsOf(module) {
  const described = describedFunctions(module).map((f) => f.name);
  if (described.length) return described;
  return (module.exports || []).map((e) => e.name).filter((n) => !['_initialize', '_start', 'alloc'].includes(n));
}

function stepRow(initial = {}) {
  const moduleSelect = select([]);
  const funcSelect = select([]);
  const deviceSelect = select([]);
  const remove = h('button', { type: 'button', class: 'ghost', 'aria-label': 'Remove this step' }, '×');
  const number = h('span', { class: 'step-number', 'aria-hidden': 'true' });
  const row = h('li', { class: 'row step-row' }, number,
    field('Module', moduleSelect), field('Function', funcSelect), field('Device', deviceSelect), remove);
  const fillFunctions = (value) => {
    const module = moduleById(moduleSelect.value);
    setOptions(funcSelect, module ? functionsOf(module).map((f) => [f, f]) : [], value);
  };
  row.refreshChoices = () => {
    setOptions(moduleSelect, state.modules.map((m) => [m.name, m.name]));
    fillFunctions();
    setOptions(deviceSelect, [['', 'Any: the orchestrator chooses'],
      ...state.devices.map((d) => [d.name, `${d.name} (${deviceState(d)})`])]);
  };
  moduleSelect.addEventListener('change', () => fillFunctions());
  remove.addEventListener('click', () => { const parent = row.parentElement; row.remove(); parent.dispatchEvent(new Event('input', { bubbles: true })); });
  row.refreshChoices();
  if (initial.module) { moduleSelect.value = initial.module; fillFunctions(initial.func); }
  row.read = () => ({ device: deviceSelect.value || null, module: moduleSelect.value, func: funcSelect.value });
  return row;
}

let createForm = null;

function initCreate() {
  const form = document.getElementById('deploy-create');
  const steps = form.querySelector('.steps');
  const json = form.elements.manifest;
  const error = form.querySelector('.form-error');
  const builder = form.querySelector('.builder');
  const pasted = form.querySelector('.pasted');
  const mode = () => form.elements.mode.value;

  const manifestFromBuilder = () => ({
    name: form.elements.name.value.trim(),
    sequence: [...steps.children].map((r) => r.read()),
  });
  const showMode = () => {
    const paste = mode() === 'json';
    if (paste && !json.value.trim()) json.value = JSON.stringify(manifestFromBuilder(), null, 2);
    builder.hidden = paste;
    pasted.hidden = !paste;
  };
  for (const radio of form.querySelectorAll('input[name=mode]')) radio.addEventListener('change', showMode);
  form.querySelector('.add-step').addEventListener('click', () => {
    steps.append(stepRow());
    steps.lastElementChild.querySelector('select').focus();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(form.querySelector('button[type=submit]'), async () => {
      let manifest;
      if (mode() === 'json') {
        try { manifest = JSON.parse(json.value); } catch (e) { throw new Error(`The manifest is not valid JSON: ${e.message}`); }
      } else {
        manifest = manifestFromBuilder();
        if (!manifest.name) throw new Error('Give the deployment a name.');
        if (!manifest.sequence.length) throw new Error('Add at least one step.');
      }
      const answer = await api.createDeployment(manifest);
      const id = typeof answer === 'string' ? answer.replace(/^"|"$/g, '') : idOf(answer);
      if (form.elements.apply.checked) {
        await api.deploy(id);
        notify(`Deployment ${manifest.name || id} created and deployed: run it below.`);
      } else {
        notify(`Deployment ${manifest.name || id} created: see where each step goes, then deploy it.`);
      }
      await refresh('deployments');
      const card = document.querySelector(`#deployment-list [data-key="${CSS.escape(id)}"]`);
      if (card) card.scrollIntoView({ behavior: 'smooth', block: 'start' });
    }, error);
  });
  steps.append(stepRow());
  createForm = {
    choicesChanged() { for (const row of steps.children) row.refreshChoices(); },
  };
}

// ---------------------------------------------------------------- one deployment

// The value a person wants from the reference's result shapes: ["233", null]
// (Python), {"result": "233"} (Rust), [null, ["out.pgm"]] (a file) or a plain value.
function primaryResult(result) {
  for (let depth = 0; depth < 8; depth++) {
    if (result && typeof result === 'object' && !Array.isArray(result) && 'result' in result) result = result.result;
    else if (Array.isArray(result) && result.length === 2 && result[0] === null) result = result[1];
    else if (Array.isArray(result) && result.length === 2 && result[1] === null) result = result[0];
    else break;
  }
  return result;
}

// A step's own time: the supervisor's totalUs includes waiting for the steps after it.
function stepMs(step) {
  for (const key of ['durationMs', 'ms', 'elapsedMs']) if (typeof step[key] === 'number') return step[key];
  const t = step.timings || {};
  if (typeof t.totalUs === 'number') return (t.totalUs - (typeof t.chainUs === 'number' ? t.chainUs : 0)) / 1000;
  if (typeof t.runUs === 'number') return t.runUs / 1000;
  return null;
}

function renderResult(box, answer, ms) {
  clear(box);
  const value = primaryResult(answer && answer.result);
  box.append(h('p', { class: 'result-value' },
    h('span', { class: 'label', text: 'Result' }),
    h('output', { class: 'mono', text: value === undefined ? '–' : shortText(value, 400) })));
  const facts = [];
  if (answer.executionId) facts.push(`execution ${answer.executionId}`);
  if (answer.fetched_from_device) facts.push(`from ${answer.fetched_from_device}`);
  facts.push(`${formatMs(typeof answer.durationMs === 'number' ? answer.durationMs : ms)} in all`);
  if (answer.isInFailover) facts.push('running on failover devices');
  box.append(h('p', { class: 'meta', text: facts.join(' · ') }));
  const outputs = answer.outputs || (answer.result && answer.result.outputs) || [];
  if (Array.isArray(outputs) && outputs.length) {
    box.append(h('p', { class: 'meta' }, 'Output files: ',
      outputs.map((url, i) => [i ? ', ' : '', h('a', { href: url, target: '_blank', rel: 'noopener', text: url.slice(url.lastIndexOf('/') + 1) || url })])));
  }
  const steps = Array.isArray(answer.steps) ? answer.steps : [];
  if (!steps.length) return;
  const times = steps.map(stepMs);
  const longest = Math.max(1e-9, ...times.filter((t) => t !== null));
  const list = h('ol', { class: 'timings', 'aria-label': 'Time of each step' });
  steps.forEach((step, i) => {
    const fn = `${step.module || step.moduleName || '?'}.${step.func || step.function || '?'}`;
    const where = step.deviceName || deviceName(step.device, step.device);
    const bar = h('span', { class: 'fill' });
    bar.style.width = times[i] === null ? '0' : `${Math.max(2, (times[i] / longest) * 100)}%`;
    const failed = step.success === false || typeof step.error === 'string';
    list.append(h('li', { class: failed ? 'failed' : '' },
      h('span', { class: 'what' }, h('span', { class: 'mono', text: fn }), h('span', { class: 'quiet', text: ` on ${where}` })),
      h('span', { class: 'bar', 'aria-hidden': 'true' }, bar),
      h('span', { class: 'time', text: formatMs(times[i]) }),
      failed ? h('span', { class: 'error-text', text: step.error || 'failed' }) : null));
  });
  box.append(h('h4', { text: 'Steps' }), list);
}

// Inputs for the first step: its parameters and its execution-stage files.
function renderExecuteInputs(container, deployment) {
  const first = stepsOf(deployment)[0];
  const module = first && moduleById(first.module);
  const fn = module && describedFunctions(module).find((f) => f.name === first.func);
  const signature = JSON.stringify(fn ? [fn.parameters, fn.mounts] : null);
  if (container.dataset.signature === signature) return;   // keep what was typed
  container.dataset.signature = signature;
  clear(container);
  if (!fn) {
    container.append(h('p', { class: 'hint', text: 'The first step\u2019s function is not described; it runs without arguments.' }));
    return;
  }
  for (const p of fn.parameters) {
    const input = h('input', { type: 'text', inputmode: p.type === 'integer' ? 'numeric' : 'decimal', required: true, autocomplete: 'off', dataset: { param: p.name, type: p.type } });
    container.append(field(`${p.name} (${p.type})`, input));
  }
  for (const [name, m] of Object.entries(fn.mounts)) {
    if (m.stage !== 'execution') continue;
    container.append(field(`File for "${name}"`, h('input', { type: 'file', dataset: { mount: name } })));
  }
  if (!container.children.length) container.append(h('p', { class: 'hint', text: 'No arguments: the chain starts on its own.' }));
}

function executionBody(container) {
  const files = [...container.querySelectorAll('input[type=file]')].filter((i) => i.files[0]);
  const params = [...container.querySelectorAll('input[data-param]')];
  for (const input of params) {
    if (input.value.trim() === '') throw new Error(`Give a value for ${input.dataset.param}.`);
    if (input.dataset.type === 'integer' && !/^-?\d+$/.test(input.value.trim())) throw new Error(`${input.dataset.param} must be an integer.`);
  }
  if (files.length) {
    const body = new FormData();
    for (const input of params) body.append(input.dataset.param, input.value.trim());
    for (const input of files) body.append(input.dataset.mount, input.files[0], input.files[0].name);
    return body;
  }
  const body = {};
  for (const input of params) {
    const text = input.value.trim();
    body[input.dataset.param] = Number.isNaN(Number(text)) ? text : Number(text);
  }
  return body;
}

const lastPlacement = new Map();   // deployment id -> device ids per step

function createCard(deployment) {
  const id = idOf(deployment);
  const card = h('li', { class: 'card deployment' });
  card.heading = h('h3', { class: 'name' });
  card.badges = h('span', { class: 'badges' });
  card.meta = h('p', { class: 'meta mono' });
  card.pipeline = h('ol', { class: 'pipeline', 'aria-label': 'Steps and their devices' });
  card.why = h('details', { class: 'why' });
  card.inputs = h('div', { class: 'inputs' });
  card.result = h('div', { class: 'result', 'aria-live': 'polite' });
  const runError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const run = h('button', { type: 'submit' }, 'Run');
  const execForm = h('form', { class: 'execute', 'aria-label': `Run ${deployment.name}` },
    h('h4', { text: 'Run it' }), card.inputs, runError, h('div', { class: 'actions' }, run));
  execForm.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(run, async () => {
      const body = executionBody(card.inputs);
      run.textContent = 'Running…';
      const started = performance.now();
      const answer = await api.execute(id, body);
      renderResult(card.result, answer || {}, performance.now() - started);
    }, runError);
  });
  card.deployButton = h('button', { type: 'button' });
  card.deployButton.addEventListener('click', () => {
    busy(card.deployButton, async () => {
      const answer = await api.deploy(id);
      const devices = Object.keys((answer && answer.deviceResponses) || {}).map((d) => deviceName(d, d));
      notify(`Deployed to ${devices.join(', ') || 'its devices'}`);
      await refresh('deployments');
    }, runError);
  });
  const remove = h('button', { type: 'button', class: 'danger' }, 'Delete');
  remove.addEventListener('click', () => {
    const current = state.deployments.find((d) => idOf(d) === id);
    if (!window.confirm(`Delete deployment ${current ? current.name : id} (and remove it from its devices)?`)) return;
    busy(remove, async () => {
      await api.removeDeployment(id);
      notify('Deployment deleted');
      await refresh('deployments');
    });
  });
  card.append(h('div', { class: 'card-head' }, card.heading, card.badges), card.meta,
    card.pipeline, card.why, h('div', { class: 'actions' }, card.deployButton, remove), execForm, card.result);
  return card;
}

const MOVE_NOTE_MS = 120000;
const moves = new Map();   // deployment id -> per step {from, at} of its last move

// The completed migration that brought step i from move.from, if that is how it came.
function migrationOf(deployment, i, move) {
  const records = Array.isArray(deployment.migrations) ? deployment.migrations : [];
  for (let k = records.length - 1; k >= 0; k--) {
    const r = records[k];
    if (r.step === i && r.status === 'completed') return r.from === move.from ? r : null;
  }
  return null;
}

function renderPipeline(card, deployment) {
  const id = idOf(deployment);
  const steps = stepsOf(deployment);
  const placement = placementOf(deployment);
  const before = lastPlacement.get(id);
  const now = steps.map((s) => s.device || null);
  const stepMoves = moves.get(id) || [];
  const justMoved = new Set();
  if (before) {
    now.forEach((device, i) => {
      if (before[i] !== undefined && before[i] !== device) {
        stepMoves[i] = { from: before[i], at: Date.now() };
        justMoved.add(i);
      }
    });
  }
  moves.set(id, stepMoves);
  lastPlacement.set(id, now);
  clear(card.pipeline);
  steps.forEach((step, i) => {
    const device = deviceById(step.device);
    const s = device ? deviceState(device) : 'unknown';
    const name = deviceName(step.device, placement[i] && placement[i].deviceName);
    const move = stepMoves[i] && Date.now() - stepMoves[i].at < MOVE_NOTE_MS ? stepMoves[i] : null;
    const li = h('li', { class: `step${justMoved.has(i) ? ' moving' : ''}${move ? ' moved' : ''}` },
      h('span', { class: 'fn mono', text: `${moduleName(step.module)}.${step.func}` }),
      h('span', { class: `where state-${s}`, dataset: { device: name } }, h('span', { class: 'dot', 'aria-hidden': 'true' }), name,
        h('span', { class: 'visually-hidden', text: ` (${s})` })));
    if (move) {
      // a planned migration says so (and how long the step was unavailable)
      const record = migrationOf(deployment, i, move);
      li.append(h('span', { class: 'moved-note', text: record
        ? `migrated here from ${deviceName(move.from)}${typeof record.unavailableMs === 'number' ? ` (unavailable ${record.unavailableMs.toFixed(1)} ms)` : ''}`
        : `moved here from ${deviceName(move.from)}` }));
    }
    card.pipeline.append(li);
  });
  if (justMoved.size) {
    notify(`${deployment.name}: ${[...justMoved].map((i) => `step ${i} moved to ${deviceName(now[i])}`).join(', ')}`);
  }
}

function renderWhy(card, deployment) {
  const placement = placementOf(deployment);
  const wasOpen = card.why.open;
  clear(card.why);
  card.why.hidden = !placement.length;
  card.why.open = wasOpen;
  if (!placement.length) return;
  card.why.append(h('summary', { text: 'Why these devices' }));
  const total = deployment.placement && deployment.placement.totalCost;
  if (typeof total === 'number') {
    card.why.append(h('p', { class: 'hint', text: `The chain costs ${total.toFixed(1)} in all (CPU and memory load, round trips, hops between devices).${deployment.placement.exact === false ? ' The search skipped some candidates: a cheaper chain may exist.' : ''}` }));
  }
  placement.forEach((p, i) => {
    if (typeof p === 'string') { card.why.append(h('p', { text: `Step ${i}: ${p}` })); return; }
    const others = Array.isArray(p.others) ? p.others : [];
    card.why.append(h('div', { class: 'reason' },
      h('h5', {}, `Step ${i}: `, h('span', { class: 'mono', text: `${p.module || '?'}.${p.function || p.func || '?'}` }),
        ` on ${p.deviceName || deviceName(p.device)}`),
      p.reason ? h('p', { class: 'chosen', text: p.reason }) : null,
      others.length ? h('ul', { class: 'others' }, others.map((o) => h('li', { class: `verdict-${String(o.verdict || '').replace(/\s+/g, '-')}` },
        h('strong', { text: `${o.deviceName || deviceName(o.device)}: ` }), typeof o === 'string' ? o : o.reason || o.verdict || ''))) : null,
      p.othersOmitted ? h('p', { class: 'hint', text: `and ${p.othersOmitted} more devices` }) : null));
  });
}

function updateCard(card, deployment) {
  card.heading.textContent = deployment.name || idOf(deployment);
  clear(card.badges);
  card.badges.append(h('span', { class: `badge ${deployment.active ? 'state-active' : 'quiet'}`, text: deployment.active ? 'deployed' : 'not deployed' }));
  if (deployment.isInFailover) card.badges.append(h('span', { class: 'badge state-suspect', text: 'failover' }));
  const epoch = typeof deployment.epoch === 'number' ? ` · epoch ${deployment.epoch}` : '';
  const migrated = Array.isArray(deployment.migrations) ? deployment.migrations.filter((m) => m.status === 'completed').length : 0;
  card.meta.textContent = `id ${idOf(deployment)}${epoch}${migrated ? ` · migrated ${migrated}×` : ''}`;
  card.deployButton.textContent = deployment.active ? 'Redeploy' : 'Deploy';
  renderPipeline(card, deployment);
  renderWhy(card, deployment);
  renderExecuteInputs(card.inputs, deployment);
}

export function initDeployments() {
  initCreate();
  const list = document.getElementById('deployment-list');
  const empty = document.getElementById('deployment-empty');
  const rerender = () => reconcile(list, state.deployments, idOf, createCard, updateCard);
  subscribe('deployments', (deployments, error) => {
    if (error && !state.loaded.deployments) {
      empty.hidden = false;
      empty.textContent = error.message;
      return;
    }
    empty.hidden = deployments.length > 0;
    rerender();
  });
  // Names and device states shown in the pipelines come from the other lists.
  subscribe('devices', () => { createForm.choicesChanged(); rerender(); });
  subscribe('modules', () => { createForm.choicesChanged(); rerender(); });
}
