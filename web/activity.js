// activity.js — the Events & logs view: the orchestrator's events as they happen
// (devices found, suspect, lost; deployments; executions) and the logs supervisors
// forward to it.

import { api, idOf } from './api.js';
import { state, deviceById, moduleById } from './state.js';
import { h, clear, formatTime, shortText, busy, notify } from './ui.js';

const MAX_EVENTS = 300;
let eventList, filterInput, emptyEvents;

// A name for an id: a device, module or deployment the dashboard knows.
function nameOf(id) {
  if (typeof id !== 'string') return id;
  const device = deviceById(id);
  if (device) return device.name;
  const module = moduleById(id);
  if (module) return module.name;
  const deployment = state.deployments.find((d) => idOf(d) === id);
  return deployment ? deployment.name : id;
}

function subjectName(event) {
  const data = event.data || {};
  return nameOf(event.subject) || data.name || data.deviceName || '';
}

function eventKind(type) {
  const t = String(type || '');
  if (/lost|failed|error|refused|rollback/.test(t)) return 'bad';
  if (/^(migration\.completed|checkpoint\.(stored|restored))$/.test(t)) return 'good';
  if (/retried|draining|route\.changed/.test(t)) return 'warn';
  if (/suspect|blacklist|failover|moved|replaced|migrat/.test(t)) return 'warn';
  if (/active|found|deployed|finished|success|created|added|described/.test(t)) return 'good';
  return 'plain';
}

function bytesText(n) {
  if (typeof n !== 'number') return '? bytes';
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} bytes`;
}

function msText(ms) {
  return typeof ms === 'number' ? (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`) : '?';
}

// Moving functions (docs/migration.md) said in words: where a step went, what a
// checkpoint weighed, who was rerouted.
function movingSummary(event) {
  const d = event.data || {};
  const step = `step ${d.step ?? '?'}${d.module ? ` (${d.module})` : ''}`;
  const from = d.fromName || nameOf(d.from), to = d.toName || nameOf(d.to);
  switch (event.type) {
    case 'migration.started': return `${step}: ${from} → ${to} (${d.trigger || 'api'})`;
    case 'migration.completed': return `${step} moved ${from} → ${to}: ${bytesText(d.bytes)} in ${msText(d.durationMs)}, unavailable ${msText(d.unavailableMs)}${d.resumedCall ? `, call ${d.resumedCall} resumed there` : ''}`;
    case 'migration.failed': return `${step} stays on ${from}: ${d.reason || 'failed'}`;
    case 'checkpoint.stored': return `${d.module}: ${bytesText(d.bytes)} sent, ${bytesText(d.fullSize)} kept (epoch ${d.epoch})`;
    case 'checkpoint.restored': return `${d.module} restored on ${nameOf(d.device)} from its checkpoint (${bytesText(d.bytes)})`;
    case 'route.changed': return d.by === 'supervisor'
      ? `${d.module} asked for by a supervisor: now on ${d.deviceName || nameOf(d.device)}`
      : `${d.deviceName || nameOf(d.device)} given new routes (epoch ${d.epoch})`;
    case 'execution.retried': return `step ${d.failedStep} was on ${nameOf(d.device)}, which died: running again`;
    default: return null;
  }
}

// The event's data as "key=value" pairs, ids as names, the subject left out.
function summary(event) {
  const data = event.data;
  if (data === undefined || data === null) return '';
  if (typeof data !== 'object') return String(data);
  const moving = movingSummary(event);
  if (moving) return moving;
  for (const key of ['reason', 'message', 'error']) if (typeof data[key] === 'string') return data[key];
  return Object.entries(data)
    .filter(([, v]) => v !== event.subject)
    .map(([k, v]) => {
      let text = typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(1) : typeof v === 'object' ? shortText(v, 60) : String(nameOf(v));
      if (/\s/.test(text)) text = `"${text}"`;
      return `${k}=${text}`;
    })
    .join(' ');
}

function matches(item) {
  const text = filterInput.value.trim().toLowerCase();
  return !text || item.dataset.search.includes(text);
}

export function addEvent(event) {
  const item = h('li', { class: `event kind-${eventKind(event.type)}` },
    h('time', { datetime: event.time || '', text: formatTime(event.time) }),
    h('span', { class: 'type mono', text: event.type || 'event' }),
    h('span', { class: 'subject', text: subjectName(event) }),
    h('span', { class: 'summary', text: summary(event) }));
  item.dataset.search = `${event.type} ${subjectName(event)} ${summary(event)}`.toLowerCase();
  item.hidden = !matches(item);
  eventList.prepend(item);
  while (eventList.children.length > MAX_EVENTS) eventList.lastElementChild.remove();
  emptyEvents.hidden = true;
}

function logFields(entry) {
  let data = entry.logData !== undefined ? entry.logData : entry;
  if (typeof data === 'string') {
    try { data = JSON.parse(data); } catch (_) { data = { message: data }; }
  }
  return Object.assign({ dateReceived: entry.dateReceived }, data || {});
}

async function loadLogs() {
  const table = document.getElementById('log-list');
  const empty = document.getElementById('log-empty');
  const deviceFilter = document.getElementById('log-device').value;
  const logs = (await api.logs(deviceFilter)) || [];
  const rows = logs.map(logFields).filter((l) => !deviceFilter || l.deviceName === deviceFilter).slice(-200).reverse();
  clear(table);
  for (const l of rows) {
    const level = String(l.loglevel || l.level || '').toUpperCase();
    table.append(h('li', { class: `log level-${level.toLowerCase()}` },
      h('time', { text: formatTime(l.timestamp || l.time || l.dateReceived) }),
      h('span', { class: 'who', text: l.deviceName || '–' }),
      h('span', { class: 'level mono', text: level || '–' }),
      h('span', { class: 'message' },
        l.funcName ? h('span', { class: 'mono strong', text: `${l.funcName} ` }) : null,
        l.message || shortText(l, 200))));
  }
  empty.hidden = rows.length > 0;
  const select = document.getElementById('log-device');
  const names = [...new Set([...state.devices.map((d) => d.name), ...logs.map(logFields).map((l) => l.deviceName)].filter(Boolean))].sort();
  const chosen = select.value;
  clear(select);
  select.append(h('option', { value: '', text: 'All devices' }));
  for (const n of names) select.append(h('option', { value: n, text: n }));
  select.value = names.includes(chosen) ? chosen : '';
}

export function refreshLogs() {
  return loadLogs().catch((e) => notify(e.message, 'error'));
}

export async function initActivity() {
  eventList = document.getElementById('event-list');
  filterInput = document.getElementById('event-filter');
  emptyEvents = document.getElementById('event-empty');
  filterInput.addEventListener('input', () => {
    for (const item of eventList.children) item.hidden = !matches(item);
  });
  const refreshButton = document.getElementById('log-refresh');
  refreshButton.addEventListener('click', () => busy(refreshButton, loadLogs));
  document.getElementById('log-device').addEventListener('change', refreshLogs);
  // The recent past first, so the view is not empty; the stream continues after it.
  let lastSeq = null;
  try {
    const recent = await api.recentEvents(100);
    const events = Array.isArray(recent) ? recent : (recent && recent.events) || [];
    for (const e of events) {
      addEvent(e);
      if (typeof e.seq === 'number') lastSeq = Math.max(lastSeq ?? e.seq, e.seq);
    }
  } catch (_) { /* the stream still works, or the page says the orchestrator is away */ }
  return lastSeq;
}
