// app.js — the dashboard's start: tabs (from the URL's #fragment, so a view can be
// bookmarked and the back button works), the first loads, the live event stream
// driving refreshes, and a light poll of the health figures while Devices is shown.

import { followEvents } from './api.js';
import { refresh, refreshSoon } from './state.js';
import { initDevices } from './devices.js';
import { initModules } from './modules.js';
import { initDeployments } from './deployments.js';
import { initActivity, addEvent, refreshLogs } from './activity.js';

const VIEWS = ['devices', 'modules', 'deployments', 'activity'];
const HEALTH_POLL_MS = 3000;
let current = null;

function show(view) {
  if (!VIEWS.includes(view)) view = 'devices';
  current = view;
  for (const name of VIEWS) {
    document.getElementById(name).hidden = name !== view;
    const link = document.querySelector(`nav a[data-tab="${name}"]`);
    if (name === view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (view === 'activity') refreshLogs();
}

function setLive(status) {
  const live = document.getElementById('live');
  live.dataset.state = status;
  live.querySelector('.text').textContent = status === 'live' ? 'live' : 'reconnecting…';
}

function onEvent(event) {
  addEvent(event);
  const type = String(event.type || '');
  if (type.startsWith('device.')) { refreshSoon('devices'); refreshSoon('deployments', 600); }
  if (type.startsWith('module.')) refreshSoon('modules');
  if (/^(deployment|execution|migration|placement|step|failover|checkpoint)\./.test(type)) refreshSoon('deployments');
  if (type.startsWith('log') && current === 'activity') refreshLogs();
}

async function start() {
  initDevices();
  initModules();
  initDeployments();
  window.addEventListener('hashchange', () => {
    show(location.hash.slice(1));
    document.getElementById('main').focus({ preventScroll: true });
  });
  show(location.hash.slice(1));
  await Promise.all([refresh('devices'), refresh('modules')]);
  await refresh('deployments');
  const lastSeq = await initActivity();
  followEvents({ onEvent, onState: setLive }).start(lastSeq ?? undefined);
  setInterval(() => {
    if (document.visibilityState === 'visible' && (current === 'devices' || current === 'deployments')) refresh('devices');
  }, HEALTH_POLL_MS);
}

start();
