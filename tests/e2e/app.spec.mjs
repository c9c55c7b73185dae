// End-to-end test of the Nova Storyteller web app in a real browser (Debian's chromium driven by
// playwright-core; no browser is downloaded). Plain Node script, no test runner:
//
//   NOVA_E2E_URL=http://127.0.0.1:8000 node tests/e2e/app.spec.mjs
//
// It signs up, creates a story and watches the text appear live with a progress bar, plays the
// narration (time advances, a word is highlighted), paints the scenes (retrying failed ones),
// makes and reorders a playlist, changes settings, and signs out and in again. Screenshots go
// to tests/artifacts/e2e/. Exit 0 = passed, 1 = failed, 77 = skipped (no chromium or
// playwright-core).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const ART = path.resolve(here, '..', 'artifacts', 'e2e');
const BASE = (process.env.NOVA_E2E_URL || '').replace(/\/+$/, '');
const CHROMIUM = process.env.NOVA_E2E_CHROMIUM || '/usr/bin/chromium';
const SLOW = Number(process.env.NOVA_E2E_SLOW || '1'); // multiplies every wait

if (!BASE) {
  console.error('NOVA_E2E_URL is not set');
  process.exit(2);
}
if (!fs.existsSync(CHROMIUM)) {
  console.log(`skip: ${CHROMIUM} not found (apt-get install -y chromium)`);
  process.exit(77);
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  console.log('skip: playwright-core is not installed (npm install --prefix tests/e2e)');
  process.exit(77);
}
fs.mkdirSync(ART, { recursive: true });

// A small valid PNG (a sun over hills) to upload as the child's drawing.
function makePng(w = 96, h = 96) {
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w * 3 + 1)] = 0;
    for (let x = 0; x < w; x++) {
      const o = y * (w * 3 + 1) + 1 + x * 3;
      const sun = (x - 70) ** 2 + (y - 22) ** 2 < 180;
      const hill = y > 60 + 8 * Math.sin(x / 12);
      const [r, g, b] = sun ? [250, 204, 21] : hill ? [74, 222, 128] : [147, 197, 253];
      raw[o] = r;
      raw[o + 1] = g;
      raw[o + 2] = b;
    }
  }
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const byte of buf) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nova-e2e-'));
const context = await chromium.launchPersistentContext(userDir, {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required', '--mute-audio'],
  viewport: { width: 1280, height: 900 },
});
const page = context.pages()[0] || (await context.newPage());
page.setDefaultTimeout(20000 * SLOW);
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e && e.stack ? e.stack : e)));
page.on('console', (m) => {
  if (m.type() === 'error') console.log('  [browser] ' + m.text());
});

const passed = [];
const warnings = [];
let currentStep = '';
const shot = (name, full = false) => page.screenshot({ path: path.join(ART, name), fullPage: full });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function check(cond, msg) {
  if (!cond) throw new Error(msg);
}
function warn(msg) {
  warnings.push(msg);
  console.log('  warning: ' + msg);
}
async function step(name, fn) {
  currentStep = name;
  const t0 = Date.now();
  await fn();
  if (pageErrors.length) throw new Error('uncaught error in the page: ' + pageErrors[0]);
  passed.push(name);
  console.log(`ok   ${name} (${Date.now() - t0} ms)`);
}
// fetch() from inside the page with the stored token (to check what the server recorded).
const apiGet = (p) => page.evaluate(async (p) => {
  const r = await fetch('/api' + p, { headers: { Authorization: 'Token ' + localStorage.getItem('nova.token') } });
  return { status: r.status, body: r.ok ? await r.json() : null };
}, p);

const stamp = Date.now().toString(36);
const user = { username: 'e2e' + stamp, email: `e2e${stamp}@example.com`, password: 'story-time-' + stamp };
const title = 'The Lighthouse Cloud ' + stamp;
let storyId = '';

try {
  await step('sign up', async () => {
    await page.goto(BASE + '/');
    await page.getByRole('heading', { name: 'Welcome back!' }).waitFor();
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByRole('heading', { name: 'Create an account' }).waitFor();
    // The form refuses mismatched passwords before asking the server.
    await page.getByLabel('First name').fill('Robin');
    await page.getByLabel('Last name').fill('Parent');
    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password', { exact: true }).fill(user.password);
    await page.getByLabel('Type the password again').fill(user.password + 'x');
    await page.getByLabel(/accept the terms/).check();
    await page.getByRole('button', { name: 'Create my account' }).click();
    await page.getByText('The two passwords are different.').waitFor();
    await page.getByLabel('Type the password again').fill(user.password);
    await page.getByRole('button', { name: 'Create my account' }).click();
    await page.getByRole('heading', { name: /^Hello/ }).waitFor();
    check(await page.evaluate(() => !!localStorage.getItem('nova.token')), 'no token stored after sign-up');
    // The dashboard shows its numbers, or a friendly notice when the server has no stats yet.
    await page.locator('.stats, .notice-error').first().waitFor();
    if (!(await page.locator('.stats').count())) warn('the dashboard has no stats (GET /api/dashboard-stats/ failed)');
    await shot('01-dashboard.png', true);
  });

  await step('create a story: live text and progress bar', async () => {
    await page.getByRole('link', { name: 'New story' }).first().click();
    await page.getByRole('heading', { name: 'Make a new story' }).waitFor();
    await page.getByLabel('Story title').fill(title);
    await page.locator('label.template-card', { hasText: 'Fantasy' }).click();
    check(await page.locator('input[name=template][value=fantasy]').isChecked(), 'template card not selected');
    await page.getByLabel('Your story idea').fill('A shy little cloud who is afraid of thunder becomes friends with a lighthouse.');
    await page.getByLabel(/drawing or photo/).setInputFiles({ name: 'drawing.png', mimeType: 'image/png', buffer: makePng() });
    await page.locator('.image-preview img').waitFor();
    const voice = page.getByLabel('Narrator voice');
    await page.waitForFunction(() => document.querySelectorAll('select[name=voice_id] option[value]:not([value=""])').length > 0);
    const opts = await voice.locator('option').evaluateAll((o) => o.map((x) => x.value));
    if (opts.length > 1) await voice.selectOption(opts[1]);
    await page.getByRole('button', { name: 'Make my story' }).click();
    // Either the story page opens or the form says why not (fail fast with its message).
    await page.waitForFunction(() => /#\/stories\/(?!new$)[^/]+$/.test(location.hash) ||
      (document.querySelector('.form-status') || {}).textContent, null, { timeout: 180000 * SLOW });
    const formError = await page.evaluate(() => (/#\/stories\/new$/.test(location.hash) && (document.querySelector('.form-status') || {}).textContent) || '');
    check(!formError, 'creating the story failed: ' + formError);
    storyId = decodeURIComponent(page.url().split('#/stories/')[1]);
    // Sample the page while the story is written.
    const samples = [];
    let shotTaken = false;
    const deadline = Date.now() + 180000 * SLOW;
    while (Date.now() < deadline) {
      const s = await page.evaluate(() => {
        const t = document.querySelector('#story-text');
        return {
          len: t ? t.textContent.length : 0,
          live: !!(t && t.classList.contains('live')),
          bars: document.querySelectorAll('.jobs [role=progressbar]').length,
          pct: [...document.querySelectorAll('.jobs [role=progressbar]')].map((b) => b.getAttribute('aria-valuenow')),
          audio: !!document.querySelector('.player:not([hidden])'),
        };
      });
      samples.push(s);
      if (s.live && s.len > 60 && !shotTaken) {
        shotTaken = true;
        await shot('02-writing.png');
      }
      if (s.audio && !s.live) break;
      await sleep(80);
    }
    const live = samples.filter((s) => s.live);
    const grew = new Set(live.map((s) => s.len)).size;
    console.log(`  ${samples.length} samples, ${live.length} while writing, ${grew} different text lengths, progress seen: ${samples.some((s) => s.bars > 0)}`);
    check(samples.some((s) => s.bars > 0), 'no progress bar was shown while the story was made');
    check(live.length > 0 && grew >= 2, 'the text did not appear live (story.delta)');
    check(samples.some((s) => s.pct.some((p) => p !== null && Number(p) > 0)), 'the progress bar never moved');
    check(samples[samples.length - 1].audio, 'the narration player did not appear');
    await page.locator('#story-text .word').first().waitFor();
  });

  await step('play the narration with read-along', async () => {
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await page.waitForFunction(() => document.querySelector('.player audio').currentTime > 1.2, null, { timeout: 30000 * SLOW });
    await page.locator('#story-text .word.is-current').waitFor();
    const hl = await page.locator('#story-text .word.is-current').textContent();
    console.log(`  highlighted word: "${hl}"`);
    await shot('03-read-along.png');
    const t0 = await page.evaluate(() => document.querySelector('.player audio').currentTime);
    await page.getByRole('button', { name: 'Forward 10 seconds' }).click();
    const t1 = await page.evaluate(() => document.querySelector('.player audio').currentTime);
    check(t1 >= t0 + 5, `seeking forward did not move the time (${t0} -> ${t1})`);
    await page.getByRole('button', { name: 'Pause' }).click();
    await sleep(800);
    const sess = await apiGet('/story-sessions/?story=' + encodeURIComponent(storyId));
    const rows = sess.body ? sess.body.results || sess.body : [];
    check(sess.status === 200 && rows.length >= 1, 'no listening session was recorded');
    if (!(Number(rows[0].position_ms) > 0)) warn('the session has no position_ms after pause');
    // Listen to the end: the questions appear.
    const story = (await apiGet('/stories/' + encodeURIComponent(storyId) + '/')).body || {};
    await page.evaluate(() => {
      const a = document.querySelector('.player audio');
      a.currentTime = Math.max(0, a.duration - 1.5);
    });
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await page.waitForFunction(() => document.querySelector('.player audio').ended, null, { timeout: 30000 * SLOW });
    if (Array.isArray(story.questions) && story.questions.length) {
      await page.locator('section.questions:not([hidden])').waitFor();
      await shot('03b-questions.png');
    } else warn('the story has no comprehension questions');
  });

  await step('paint the scenes', async () => {
    await page.getByRole('button', { name: 'Make pictures' }).click();
    const deadline = Date.now() + 240000 * SLOW;
    let retries = 0;
    let shotDrawing = false;
    for (;;) {
      check(Date.now() < deadline, 'the scenes did not finish in time');
      const st = await page.locator('.scene-card').evaluateAll((cs) => cs.map((c) => c.dataset.state));
      if (st.includes('drawing') && !shotDrawing) {
        shotDrawing = true;
        await shot('04a-scenes-drawing.png', true);
      }
      const busy = st.length === 0 || st.includes('drawing') || st.includes('empty');
      if (!busy && st.includes('failed')) {
        check(retries < 3, 'scenes still fail after 3 retries: ' + st.join(','));
        retries++;
        await shot('04b-scene-failed.png', true);
        const failedCards = page.locator('.scene-card[data-state=failed]');
        const n = await failedCards.count();
        for (let i = 0; i < n; i++) await page.locator('.scene-card[data-state=failed]').first().getByRole('button', { name: 'Try again' }).click();
        await sleep(300);
        continue;
      }
      if (!busy && st.every((s) => s === 'ready')) break;
      await sleep(250);
    }
    const imgs = await page.locator('.scene-card img.scene-img').evaluateAll(async (list) => {
      await Promise.all(list.map((i) => (i.complete ? null : new Promise((r) => { i.onload = r; i.onerror = r; }))));
      return list.map((i) => i.naturalWidth);
    });
    const cards = await page.locator('.scene-card').count();
    console.log(`  ${cards} scenes, ${retries} retry round(s), image widths ${imgs.join(',')}`);
    check(cards >= 1 && imgs.length === cards && imgs.every((w) => w > 0), 'not every scene shows its picture');
    await page.locator('.scene-grid').scrollIntoViewIfNeeded();
    await shot('04-scenes.png', true);
  });

  await step('make and reorder a playlist', async () => {
    // A second story (through the API, no need to wait for it) so there is something to reorder.
    const second = await page.evaluate(async () => {
      const r = await fetch('/api/stories/', {
        method: 'POST',
        headers: { Authorization: 'Token ' + localStorage.getItem('nova.token'), 'Content-Type': 'application/json' },
        body: JSON.stringify({ title: 'A Second Story', prompt: 'A turtle who wants to fly learns to swim fast.', template: 'adventure' }),
      });
      const b = await r.json();
      return (b.story || b).id;
    });
    check(second, 'could not create a second story');
    await page.getByRole('link', { name: 'Playlists' }).first().click();
    await page.getByRole('heading', { name: 'Playlists', exact: true }).waitFor();
    await page.locator('#new-playlist summary').click();
    await page.getByLabel('Playlist name').fill('Bedtime ' + stamp);
    await page.getByLabel(title).check();
    await page.getByLabel('A Second Story').check();
    await page.getByRole('button', { name: 'Create playlist' }).click();
    await page.getByRole('heading', { name: 'Bedtime ' + stamp }).waitFor();
    const order = () => page.locator('.pl-item .pl-main a').allTextContents();
    const before = await order();
    check(before.length === 2, 'the playlist should hold 2 stories, has ' + before.length);
    await page.getByRole('button', { name: `Move ${before[0]} down` }).click();
    await page.waitForFunction((first) => document.querySelector('.pl-item .pl-main a').textContent !== first, before[0]);
    const plId = decodeURIComponent(page.url().split('#/playlists/')[1]);
    const saved = (await apiGet('/playlists/' + encodeURIComponent(plId) + '/')).body;
    check(saved && saved.stories.map((s) => s.title).join('|') === [before[1], before[0]].join('|'),
      'the new order was not saved: ' + JSON.stringify(saved && saved.stories.map((s) => s.title)));
    await page.getByRole('button', { name: 'Play all' }).click();
    await page.getByText(/Now playing 1 of 2/).waitFor();
    await shot('05-playlist.png', true);
    await page.getByRole('button', { name: /Pause|Play/ }).first().click().catch(() => {});
  });

  await step('change the story settings', async () => {
    await page.getByRole('link', { name: 'Settings' }).first().click();
    await page.getByRole('heading', { name: 'Story settings' }).waitFor();
    await page.getByLabel('Age of the listener').selectOption('9-12');
    await page.getByLabel('Parts in a story').fill('12');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Choose a number from 3 to 8.').first().waitFor();
    await shot('06a-settings-hint.png', true);
    await page.getByLabel('Parts in a story').fill('6');
    await page.getByLabel('Explain hard words').uncheck();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText(/^Saved!/).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Story settings' }).waitFor();
    check((await page.getByLabel('Age of the listener').inputValue()) === '9-12', 'age range not kept');
    check((await page.getByLabel('Parts in a story').inputValue()) === '6', 'story parts not kept');
    check(!(await page.getByLabel('Explain hard words').isChecked()), 'switch not kept');
    await shot('06-settings.png', true);
  });

  await step('stories list with search', async () => {
    await page.getByRole('link', { name: 'My stories' }).click();
    await page.getByRole('heading', { name: 'My stories' }).waitFor();
    await page.getByRole('link', { name: title }).waitFor();
    await page.getByLabel('Search stories').fill('Lighthouse ' + stamp);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText(/1 story matches/).waitFor();
    check((await page.locator('.story-row').count()) === 1, 'search did not narrow the list');
    await shot('07-stories.png', true);
  });

  await step('phone width, sign out and sign in', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(BASE + '/#/stories/' + encodeURIComponent(storyId));
    await page.getByRole('heading', { name: title }).waitFor();
    await page.locator('#story-text .word').first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `the page is wider than the phone screen by ${overflow}px`);
    await shot('08-phone-story.png');
    const menu = page.getByRole('button', { name: 'Menu' });
    check(await menu.isVisible(), 'the menu button is not shown at phone width');
    check(!(await page.getByRole('button', { name: 'Sign out' }).isVisible()), 'the menu should be closed');
    await menu.click();
    await shot('08b-phone-menu.png');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Welcome back!' }).waitFor();
    check(!(await page.evaluate(() => localStorage.getItem('nova.token'))), 'token still stored after sign-out');
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: /^Hello/ }).waitFor();
  });

  console.log(`\nall ${passed.length} steps passed${warnings.length ? `, ${warnings.length} warning(s)` : ''}; screenshots in ${ART}`);
  console.log(`${passed.length} passed, 0 failed`);
  await context.close();
  fs.rmSync(userDir, { recursive: true, force: true });
  process.exit(0);
} catch (e) {
  console.log(`FAIL ${currentStep}: ${e.message}`);
  if (pageErrors.length) console.log('page errors:\n' + pageErrors.join('\n'));
  try {
    await shot('failure.png', true);
    console.log('  screenshot: ' + path.join(ART, 'failure.png'));
  } catch {
    /* the browser may be gone */
  }
  console.log(`${passed.length} passed, 1 failed`);
  await context.close().catch(() => {});
  fs.rmSync(userDir, { recursive: true, force: true });
  process.exit(1);
}
