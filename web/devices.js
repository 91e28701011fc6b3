// devices.js — the Devices view: one card per supervisor with its state
// (active / suspect / lost / blacklisted), CPU, memory and round-trip time, kept
// current by the event stream and a light poll of the health figures.

import { api, idOf } from './api.js';
import { state, subscribe, refresh, deviceState } from './state.js';
import { h, clear, reconcile, notify, busy, percent, formatMs, formatTime } from './ui.js';

const STATES = ['active', 'suspect', 'lost', 'blacklisted'];

function meter(label) {
  const fill = h('span', { class: 'fill' });
  const value = h('span', { class: 'value' });
  const el = h('div', { class: 'metric' },
    h('span', { class: 'label', text: label }),
    h('span', { class: 'bar', 'aria-hidden': 'true' }, fill),
    value);
  el.set = (fraction) => {
    const p = percent(fraction);
    fill.style.width = p === null ? '0' : `${p}%`;
    fill.classList.toggle('high', p !== null && p >= 85);
    value.textContent = p === null ? '–' : `${Math.round(p)}%`;
  };
  return el;
}

function createCard(device) {
  const id = idOf(device);
  const card = h('li', { class: 'card device' });
  card.title_ = h('h3', { class: 'name' });
  card.badge = h('span', { class: 'badge' });
  card.cpu = meter('CPU');
  card.memory = meter('Memory');
  card.rtt = h('span', { class: 'value wide' });
  card.address = h('span', { class: 'value wide mono' });
  card.seen = h('span', { class: 'value wide' });
  card.caps = h('p', { class: 'chips' });
  card.blacklistButton = h('button', { type: 'button', class: 'secondary' });
  card.blacklistButton.addEventListener('click', () => {
    const current = state.devices.find((d) => idOf(d) === id);
    const blacklisted = current && current.blacklisted;
    busy(card.blacklistButton, async () => {
      await (blacklisted ? api.unblacklist(id) : api.blacklist(id));
      notify(`${current ? current.name : id} ${blacklisted ? 'may be used again' : 'is blacklisted: placement keeps away from it'}`);
      await refresh('devices');
    });
  });
  const remove = h('button', { type: 'button', class: 'danger' }, 'Remove');
  remove.addEventListener('click', () => {
    const current = state.devices.find((d) => idOf(d) === id);
    const name = current ? current.name : id;
    if (!window.confirm(`Forget device ${name}? It is found again if it registers or advertises itself.`)) return;
    busy(remove, async () => {
      await api.removeDevice(id);
      notify(`${name} removed`);
      await refresh('devices');
    });
  });
  card.append(
    h('div', { class: 'card-head' }, card.title_, card.badge),
    h('div', { class: 'metrics' }, card.cpu, card.memory,
      h('div', { class: 'metric' }, h('span', { class: 'label', text: 'Round trip' }), card.rtt),
      h('div', { class: 'metric' }, h('span', { class: 'label', text: 'Address' }), card.address),
      h('div', { class: 'metric' }, h('span', { class: 'label', text: 'Last health' }), card.seen)),
    card.caps,
    h('div', { class: 'actions' }, card.blacklistButton, remove));
  return card;
}

function updateCard(card, device) {
  const s = deviceState(device);
  const report = (device.health && device.health.report) || {};
  card.className = `card device state-${s}`;
  card.title_.textContent = device.name || idOf(device);
  card.badge.textContent = s;
  card.badge.className = `badge state-${s}`;
  card.cpu.set(report.cpuUsage);
  card.memory.set(report.memoryUsage);
  card.rtt.textContent = formatMs(device.rttMs);
  const comm = device.communication || {};
  const host = (comm.addresses || [])[0];
  card.address.textContent = host ? `${host}${comm.port ? `:${comm.port}` : ''}` : '–';
  card.seen.textContent = formatTime(device.health && device.health.timeOfQuery);
  const caps = (device.description && device.description.capabilities) || {};
  clear(card.caps);
  for (const [name, value] of Object.entries(caps)) {
    if (value === false || value === null) continue;
    card.caps.append(h('span', { class: 'chip', text: value === true ? name : `${name}: ${value}` }));
  }
  const interfaces = (device.description && device.description.supervisorInterfaces) || [];
  card.caps.append(h('span', { class: 'chip quiet', text: `${interfaces.length} host functions` }));
  card.blacklistButton.textContent = device.blacklisted ? 'Unblacklist' : 'Blacklist';
}

export function initDevices() {
  const list = document.getElementById('device-list');
  const empty = document.getElementById('device-empty');
  const summary = document.getElementById('device-summary');
  const count = document.getElementById('count-devices');
  subscribe('devices', (devices, error) => {
    if (error && !state.loaded.devices) {
      empty.hidden = false;
      empty.textContent = error.message;
      return;
    }
    empty.hidden = devices.length > 0;
    reconcile(list, devices, idOf, createCard, updateCard);
    const byState = Object.fromEntries(STATES.map((s) => [s, 0]));
    for (const d of devices) byState[deviceState(d)] = (byState[deviceState(d)] || 0) + 1;
    clear(summary);
    for (const s of STATES) {
      if (!byState[s] && s !== 'active') continue;
      summary.append(h('span', { class: `badge state-${s}`, text: `${byState[s]} ${s}` }));
    }
    count.textContent = devices.length ? String(devices.length) : '';
  });
}
