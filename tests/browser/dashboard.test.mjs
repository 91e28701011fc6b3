// The dashboard in Debian's headless Chromium against a real orchestrator and two real
// supervisors on loopback: a person uploads a module, describes it, creates and deploys a
// manifest, runs it and sees the result (issue 4, Done-when 4); runs a two-step chain
// with a file; sees a device change state live; and on a phone-width screen nothing
// overflows sideways and every form control has a label.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const buildDir = process.env.LIQUID_BUILD_DIR || path.join(repo, 'build');
const liquid = process.env.LIQUID_BIN || path.join(buildDir, 'liquid');
const examples = path.join(buildDir, 'examples');
const artifacts = path.join(buildDir, 'browser-artifacts');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'liquid-browser-'));
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync'];

const processes = [];
let base;
let context;
let page;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function start(name, args) {
  const log = fs.openSync(path.join(work, `${name}.log`), 'a');
  const child = spawn(liquid, args, { stdio: ['ignore', log, log] });
  processes.push(child);
  return child;
}

async function until(what, check, seconds = 30) {
  const deadline = Date.now() + seconds * 1000;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not happen within ${seconds}s (last: ${last})`);
}

async function api(method, route, body) {
  const response = await fetch(base + route, { method, body });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${route}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// A module uploaded and described through the API (for the file test's second step).
async function addModule(name, description) {
  const form = new FormData();
  form.append('name', name);
  form.append('module', new Blob([fs.readFileSync(path.join(examples, `${name}.wasm`))],
    { type: 'application/wasm' }), `${name}.wasm`);
  const { id } = await api('POST', '/file/module', form);
  const describe = new FormData();
  describe.append('functions', JSON.stringify(description));
  await api('POST', `/file/module/${id}/upload`, describe);
}

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  start('orchestrator', ['orchestrator', '--bind', '127.0.0.1', '--port', String(port),
    '--no-mdns', '--data-dir', path.join(work, 'orchestrator')]);
  await until('the orchestrator answering', async () => (await fetch(`${base}/file/module`)).ok);
  for (const name of ['alpha', 'beta']) {
    start(name, ['supervisor', '--name', name, '--bind', '127.0.0.1', '--address', '127.0.0.1',
      '--port', String(await freePort()), '--no-mdns', '--orchestrator-url', base,
      '--instance-dir', path.join(work, name)]);
  }
  await until('both supervisors active', async () => {
    const devices = await api('GET', '/file/device');
    return devices.filter((d) => d.status === 'active').length === 2;
  });
  fs.mkdirSync(artifacts, { recursive: true });
  context = await chromium.launchPersistentContext(path.join(work, 'chromium-profile'), {
    executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 900 },
  });
  page = await context.newPage();
  page.on('pageerror', (e) => { throw new Error(`the page threw: ${e.message}`); });
});

after(async () => {
  if (context) await context.close();
  for (const child of processes) child.kill('SIGKILL');
  if (!process.env.LIQUID_KEEP_TEST_FILES) fs.rmSync(work, { recursive: true, force: true });
});

test('upload a module, describe it, deploy a manifest, run it and see the result', async () => {
  await page.goto(`${base}/#modules`);
  await page.setInputFiles('#upload-file', path.join(examples, 'fibo.wasm'));
  assert.equal(await page.inputValue('#upload-name'), 'fibo');   // taken from the file name
  await page.click('#module-upload button[type=submit]');
  const card = page.locator('#module-list > li', { hasText: 'fibo' });
  await card.waitFor();
  assert.match(await card.innerText(), /Not described yet/);

  // The describe form opens on the new module with its first export and its parameter.
  await until('the describe form on fibo', async () =>
    (await page.locator('#describe-module option:checked').innerText()) === 'fibo');
  const fn = page.locator('#module-describe fieldset.function').first();
  assert.equal(await fn.locator('select').first().inputValue(), 'fibo');
  assert.equal(await fn.locator('.param input').first().inputValue(), 'param0');
  await page.click('#module-describe button[type=submit]');
  await until('fibo described on its card', async () =>
    /fibo\s+GET\s+\(param0: integer\) → integer/.test(await card.innerText()));

  await page.click('nav a[data-tab=deployments]');
  await page.fill('#create-name', 'fib-web');
  const step = page.locator('#deploy-create .step-row').first();
  await step.locator('select').nth(0).selectOption('fibo');
  await step.locator('select').nth(1).selectOption('fibo');
  assert.equal(await step.locator('select').nth(2).inputValue(), '');   // the orchestrator chooses
  await page.click('#deploy-create button[type=submit]');

  const deployment = page.locator('#deployment-list > li', { hasText: 'fib-web' });
  await deployment.locator('.badge', { hasText: 'deployed' }).waitFor();
  const placed = await deployment.locator('.pipeline .step').innerText();
  assert.match(placed, /fibo\.fibo/);
  assert.match(placed, /alpha|beta/);
  await deployment.locator('details.why summary').click();
  assert.match(await deployment.locator('details.why').innerText(), /chosen/);

  await deployment.getByLabel('param0 (integer)').fill('12');
  await deployment.getByRole('button', { name: 'Run' }).click();
  await until('the result on the page', async () =>
    (await deployment.locator('.result output').innerText()) === '233');
  const timings = deployment.locator('.timings li');
  assert.equal(await timings.count(), 1);
  assert.match(await timings.first().innerText(), /fibo\.fibo[\s\S]*on (alpha|beta)[\s\S]*ms/);
  await page.screenshot({ path: path.join(artifacts, 'deployment-run.png'), fullPage: true });

  // A bad argument is refused next to the form, not sent.
  await deployment.getByLabel('param0 (integer)').fill('twelve');
  await deployment.getByRole('button', { name: 'Run' }).click();
  assert.match(await deployment.locator('.form-error').innerText(), /param0 must be an integer/);
});

test('describe a function with a deployment-stage data file through the form', async () => {
  await page.goto(`${base}/#modules`);
  await page.setInputFiles('#upload-file', path.join(examples, 'datafile.wasm'));
  await page.click('#module-upload button[type=submit]');
  const card = page.locator('#module-list > li', { hasText: 'datafile' });
  await card.waitFor();
  assert.match(await card.locator('details.imports summary').innerText(), /wasi_snapshot_preview1 \(\d+\)/);
  await until('the describe form on datafile', async () =>
    (await page.locator('#describe-module option:checked').innerText()) === 'datafile');
  const fn = page.locator('#module-describe fieldset.function').first();
  await fn.locator('select').first().selectOption('total');
  await fn.getByRole('button', { name: 'Add mount' }).click();
  await fn.locator('.mount').getByLabel('File name').fill('data');
  await fn.locator('.mount').getByLabel('Stage').selectOption('deployment');
  // The description asks for the mount's file; saving without it is refused with the reason.
  const dataFile = page.getByLabel('Data file for mount "data"');
  await dataFile.waitFor();
  await page.click('#module-describe button[type=submit]');
  await until('the refusal next to the form', async () =>
    /missing mounts/i.test(await page.locator('#module-describe .form-error').innerText()));
  await dataFile.setInputFiles(path.join(repo, 'examples/descriptions/datafile-data.csv'));
  await page.click('#module-describe button[type=submit]');
  await until('total described with its data file', async () => {
    const text = await card.innerText();
    return /total\s+GET\s+\(param0: integer\) → integer/.test(text) && /data \(deployment\)/.test(text)
      && /Data files: data ← datafile-data\.csv/.test(text);
  });
  const fd = JSON.parse(await page.inputValue('#describe-fd'));
  assert.deepEqual(fd.total.mounts, [{ name: 'data', mediaType: 'application/octet-stream', stage: 'deployment' }]);
});

test('run a two-step chain with a file and see each step', async () => {
  await addModule('grayscale', JSON.parse(fs.readFileSync(path.join(repo, 'examples/descriptions/grayscale.json'))));
  await addModule('classify', JSON.parse(fs.readFileSync(path.join(repo, 'examples/descriptions/classify.json'))));
  await page.goto(`${base}/#deployments`);
  await page.check('input[name=mode][value=json]');
  await page.fill('#create-manifest', fs.readFileSync(path.join(repo, 'examples/manifests/grayscale-classify.json'), 'utf8'));
  await page.click('#deploy-create button[type=submit]');
  const deployment = page.locator('#deployment-list > li', { hasText: 'grayscale-classify' });
  await deployment.locator('.badge', { hasText: 'deployed' }).waitFor();
  await deployment.getByLabel('File for "image.jpeg"').setInputFiles(
    path.join(repo, 'tests/data/images/gray_33x17.jpg'));
  await deployment.getByRole('button', { name: 'Run' }).click();
  const output = deployment.locator('.result output');
  await output.waitFor();
  assert.match(await output.innerText(), /^[0-4]$/);
  const steps = await deployment.locator('.timings li').allInnerTexts();
  assert.equal(steps.length, 2);
  assert.match(steps[0], /grayscale\.grayscale/);
  assert.match(steps[1], /classify\.classify/);
});

test('a device blacklisted elsewhere changes state on the page without a reload', async () => {
  await page.goto(`${base}/#devices`);
  const beta = page.locator('#device-list > li', { hasText: 'beta' });
  await beta.locator('.badge', { hasText: 'active' }).waitFor();
  const devices = await api('GET', '/file/device');
  const id = devices.find((d) => d.name === 'beta')._id;
  await api('POST', `/file/device/${id}/blacklist`);
  await beta.locator('.badge', { hasText: 'blacklisted' }).waitFor({ timeout: 15000 });
  await page.click('nav a[data-tab=activity]');
  await page.locator('#event-list li', { hasText: 'blacklist' }).first().waitFor({ timeout: 15000 });
  await api('POST', `/file/device/${id}/unblacklist`);
  await beta.locator('.badge', { hasText: 'blacklisted' }).waitFor({ state: 'detached', timeout: 15000 });
});

test('a step re-placed after its device is taken away moves in the pipeline', async () => {
  const manifest = { name: 'mover', sequence: [{ device: null, module: 'fibo', func: 'fibo' }] };
  const id = JSON.parse(await (await fetch(`${base}/file/manifest`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(manifest),
  })).text());
  await api('POST', `/file/manifest/${id}`);
  await page.goto(`${base}/#deployments`);
  const card = page.locator('#deployment-list > li', { hasText: 'mover' });
  const where = card.locator('.pipeline .step .where');
  await where.waitFor();
  const before = await where.getAttribute('data-device');
  assert.ok(['alpha', 'beta'].includes(before), before);
  const after = before === 'alpha' ? 'beta' : 'alpha';
  await until(`${after} active again`, async () =>
    (await api('GET', '/file/device')).some((d) => d.name === after && d.status === 'active'));

  const devices = await api('GET', '/file/device');
  const gone = devices.find((d) => d.name === before)._id;
  await api('POST', `/file/device/${gone}/blacklist`);
  try {
    await card.locator('.pipeline .step.moved').waitFor({ timeout: 20000 });
    assert.equal(await where.getAttribute('data-device'), after);
    assert.equal(await card.locator('.moved-note').innerText(), `moved here from ${before}`);
    await page.screenshot({ path: path.join(artifacts, 'step-moved.png'), fullPage: true });
  } finally {
    await api('POST', `/file/device/${gone}/unblacklist`);
  }
});

test('a step migrated through the API moves in the pipeline and is told in the events', async () => {
  for (const name of ['alpha', 'beta']) {
    await until(`${name} active`, async () =>
      (await api('GET', '/file/device')).some((d) => d.name === name && d.status === 'active'));
  }
  const manifest = { name: 'migrant', sequence: [{ device: 'alpha', module: 'fibo', func: 'fibo' }] };
  const id = JSON.parse(await (await fetch(`${base}/file/manifest`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(manifest),
  })).text());
  await api('POST', `/file/manifest/${id}`);
  await page.goto(`${base}/#deployments`);
  const card = page.locator('#deployment-list > li', { hasText: 'migrant' });
  const where = card.locator('.pipeline .step .where');
  await until('the step shown on alpha', async () => (await where.getAttribute('data-device')) === 'alpha');

  const answer = await fetch(`${base}/file/manifest/${id}/migrate`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ step: 0, device: 'beta' }),
  });
  assert.equal(answer.status, 200, await answer.text());
  await card.locator('.pipeline .step.moved').waitFor({ timeout: 20000 });
  assert.equal(await where.getAttribute('data-device'), 'beta');
  assert.match(await card.locator('.moved-note').innerText(), /^migrated here from alpha \(unavailable [\d.]+ ms\)$/);
  assert.match(await card.locator('p.meta.mono').innerText(), /migrated 1×/);
  await page.goto(`${base}/#activity`);
  const done = page.locator('#event-list li', { hasText: 'migration.completed' }).first();
  await done.waitFor({ timeout: 15000 });
  assert.match(await done.locator('.summary').innerText(), /^step 0 \(fibo\) moved alpha → beta: /);
  await page.screenshot({ path: path.join(artifacts, 'step-migrated.png'), fullPage: true });
});

test('at phone width nothing overflows sideways, and every control has a label', async () => {
  await page.setViewportSize({ width: 375, height: 812 });
  for (const view of ['devices', 'modules', 'deployments', 'activity']) {
    await page.goto(`${base}/#${view}`);
    await page.locator(`#${view}`).waitFor();
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(artifacts, `phone-${view}.png`), fullPage: true });
    const widths = await page.evaluate(() => ({
      document: document.documentElement.scrollWidth,
      body: document.body.scrollWidth,
      viewport: window.innerWidth,
    }));
    assert.ok(widths.document <= widths.viewport && widths.body <= widths.viewport,
      `${view} is ${widths.document}px wide on a ${widths.viewport}px screen`);
    const unlabelled = await page.evaluate((v) => [...document.querySelectorAll(`#${v} input, #${v} select, #${v} textarea`)]
      .filter((el) => el.type !== 'hidden' && !el.labels.length && !el.getAttribute('aria-label'))
      .map((el) => el.outerHTML.slice(0, 80)), view);
    assert.deepEqual(unlabelled, [], `${view} has controls without a label`);
  }
});
