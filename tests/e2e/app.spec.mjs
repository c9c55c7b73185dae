// End-to-end test of the Nova Storyteller web app in a real browser (Debian's chromium driven by
// playwright-core; no browser is downloaded). Plain Node script, no test runner:
//
//   NOVA_E2E_URL=http://127.0.0.1:8000 node tests/e2e/app.spec.mjs
//
// It walks the product as a family would: signs up, creates a story with a picture and watches
// the text appear live with a progress bar, plays the narration (time advances, a word is
// highlighted, the questions come at the end), rewrites the story with a wish, edits it,
// restores an earlier version and records it again, paints the scenes (retrying failed ones),
// makes, reorders and trims a playlist, changes settings, publishes, deletes, reads the
// dashboard charts, checks labels, contrast and keyboard use on every page it visits, and at
// phone width signs out and in again. Screenshots go
// to tests/artifacts/e2e/ (or NOVA_E2E_ARTIFACTS). Exit 0 = passed, 1 = failed, 77 = skipped
// (no chromium or playwright-core).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const ART = process.env.NOVA_E2E_ARTIFACTS || path.resolve(here, '..', 'artifacts', 'e2e');
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
const getStory = async (id) => (await apiGet('/stories/' + encodeURIComponent(id) + '/')).body || {};
// Every response the page received (to check that the word timings were fetched).
const responses = [];
page.on('response', (r) => responses.push({ url: r.url(), status: r.status() }));

// What a person using a keyboard or a screen reader meets on the current page: controls
// without an accessible name, and text whose contrast with its background is below WCAG AA
// (4.5:1, or 3:1 for large text). Returns a list of problems (empty = fine).
const a11yProblems = () => page.evaluate(() => {
  const problems = [];
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const st = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && st.visibility !== 'hidden' && st.display !== 'none';
  };
  const named = (el) => {
    if ((el.getAttribute('aria-label') || '').trim()) return true;
    const lb = el.getAttribute('aria-labelledby');
    if (lb && lb.split(/\s+/).some((id) => (document.getElementById(id)?.textContent || '').trim())) return true;
    if (el.labels && [...el.labels].some((l) => l.textContent.trim())) return true;
    if (['BUTTON', 'A', 'SUMMARY'].includes(el.tagName) && el.textContent.trim()) return true;
    if (el.querySelector && el.querySelector('img[alt]:not([alt=""])')) return true;
    return !!(el.getAttribute('title') || '').trim();
  };
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href], summary, [role=switch], [role=progressbar]')) {
    const hiddenFile = el.type === 'file' && el.closest('[hidden]') === null && !visible(el);
    if (!visible(el) && !(el.type === 'radio' || el.type === 'checkbox') && !hiddenFile) continue;
    if (el.closest('[hidden], [aria-hidden=true]')) continue;
    if (!named(el)) problems.push('no accessible name: ' + el.outerHTML.slice(0, 140));
  }
  const parse = (c) => {
    const m = /rgba?\(([^)]+)\)/.exec(c || '');
    if (!m) return null;
    const v = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    return { r: v[0], g: v[1], b: v[2], a: v.length > 3 ? v[3] : 1 };
  };
  const over = (top, under) => ({
    r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a),
    b: top.b * top.a + under.b * (1 - top.a), a: 1,
  });
  const lum = (c) => {
    const f = (x) => {
      x /= 255;
      return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const background = (el) => {
    const chain = [];
    for (let e = el; e; e = e.parentElement) chain.unshift(e);
    let bg = { r: 255, g: 255, b: 255, a: 1 };
    for (const e of chain) {
      const st = getComputedStyle(e);
      if (st.backgroundImage && st.backgroundImage !== 'none') return null; // gradients: not measured
      const c = parse(st.backgroundColor);
      if (c && c.a > 0) bg = over(c, bg);
    }
    return bg;
  };
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || seen.has(el) || !n.data.trim()) continue;
    seen.add(el);
    if (!visible(el) || el.closest('[hidden], [aria-hidden=true], svg, .sr-only, noscript, option')) continue;
    if (el.closest('button:disabled, input:disabled, select:disabled')) continue; // WCAG exempts inactive controls
    const st = getComputedStyle(el);
    if (Number(st.opacity) === 0) continue;
    const bg = background(el);
    const fg = parse(st.color);
    if (!bg || !fg) continue;
    const c = over(fg, bg);
    const [hi, lo] = [lum(c), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const px = parseFloat(st.fontSize);
    const large = px >= 24 || (px >= 18.66 && Number(st.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) problems.push(`contrast ${ratio.toFixed(2)}:1 for "${n.data.trim().slice(0, 40)}" (${el.tagName.toLowerCase()}.${el.className})`);
  }
  return problems;
});
async function auditPage(name) {
  const problems = await a11yProblems();
  check(!problems.length, `accessibility problems on the ${name} page:\n    ` + problems.slice(0, 12).join('\n    '));
}
const noOverflow = async (name) => {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `the ${name} page is wider than the phone screen by ${overflow}px`);
};

const stamp = Date.now().toString(36);
const user = { username: 'e2e' + stamp, email: `e2e${stamp}@example.com`, password: 'story-time-' + stamp };
const title = 'The Lighthouse Cloud ' + stamp;
let storyId = '';
let secondId = '';
let originalText = '';

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

  // Samples the story page while a job writes text: returns what was seen until done() holds.
  async function watchWriting(done, timeoutMs) {
    const samples = [];
    let shotTaken = false;
    const deadline = Date.now() + timeoutMs * SLOW;
    for (;;) {
      check(Date.now() < deadline, 'the story was not finished in time');
      const s = await page.evaluate(() => {
        const t = document.querySelector('#story-text');
        const bars = [...document.querySelectorAll('.jobs [role=progressbar]')];
        return {
          len: t ? t.textContent.length : 0,
          live: !!(t && t.classList.contains('live')),
          bars: bars.length,
          labels: bars.map((b) => b.getAttribute('aria-label')),
          pct: bars.map((b) => b.getAttribute('aria-valuenow')),
          audio: !!document.querySelector('.player:not([hidden])'),
        };
      });
      samples.push(s);
      if (s.live && s.len > 60 && !shotTaken) {
        shotTaken = true;
        samples.shot = true;
      }
      if (await done(s)) break;
      await sleep(80);
    }
    const live = samples.filter((x) => x.live);
    samples.grew = new Set(live.map((x) => x.len)).size;
    samples.liveCount = live.length;
    return samples;
  }

  await step('create a story: template, picture, live text and progress bar', async () => {
    await page.getByRole('link', { name: 'New story' }).first().click();
    await page.getByRole('heading', { name: 'Make a new story' }).waitFor();
    await auditPage('create');
    await page.getByLabel('Story title').fill(title);
    await page.locator('label.template-card', { hasText: 'Fantasy' }).click();
    check(await page.locator('input[name=template][value=fantasy]').isChecked(), 'template card not selected');
    // The template cards are radio buttons: the arrow keys move between them.
    await page.locator('input[name=template][value=fantasy]').focus();
    await page.keyboard.press('ArrowRight');
    check(!(await page.locator('input[name=template][value=fantasy]').isChecked()), 'the arrow key did not move the template choice');
    await page.keyboard.press('ArrowLeft');
    check(await page.locator('input[name=template][value=fantasy]').isChecked(), 'the arrow key did not come back to Fantasy');
    // "kill" is a mild word the safety screen rewrites: the owner then sees a gentle note.
    await page.getByLabel('Your story idea').fill('A shy little cloud who is afraid of thunder wants to kill the loud noise, and becomes friends with a lighthouse.');
    await page.getByLabel(/drawing or photo/).setInputFiles({ name: 'drawing.png', mimeType: 'image/png', buffer: makePng() });
    await page.locator('.image-preview img').waitFor();
    check(await page.locator('.image-preview img').evaluate((i) => i.complete && i.naturalWidth === 96), 'the picture preview does not show the picture');
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
    let shotTaken = false;
    const samples = await watchWriting(async (s) => {
      if (s.live && s.len > 60 && !shotTaken) {
        shotTaken = true;
        await shot('02-writing.png');
      }
      return s.audio && !s.live && s.bars === 0;
    }, 180000);
    console.log(`  ${samples.length} samples, ${samples.liveCount} while writing, ${samples.grew} different text lengths, progress seen: ${samples.some((x) => x.bars > 0)}`);
    check(samples.some((x) => x.labels.includes('Writing the story')), 'no "Writing the story" progress bar was shown');
    check(samples.liveCount > 0 && samples.grew >= 3, 'the text did not appear live (story.delta)');
    check(samples.some((x) => x.pct.some((v) => v !== null && Number(v) > 0)), 'the progress bar never moved');
    await page.locator('#story-text .word').first().waitFor();
    const story = await getStory(storyId);
    originalText = story.story_text || '';
    check(story.status === 'ready' && originalText.length > 100, 'the story is not ready: ' + story.status);
    // The page shows exactly the saved words (the live text was not duplicated or cut).
    const shown = await page.locator('#story-text').evaluate((t) => t.textContent.replace(/\s+/g, ''));
    check(shown === originalText.replace(/\s+/g, ''), 'the words on the page differ from the saved story');
    check(await page.locator('.story-image img').evaluate((i) => i.complete && i.naturalWidth > 0), 'the uploaded picture is not shown on the story page');
    await auditPage('story');
  });

  await step('play the narration with read-along, then the questions', async () => {
    const story = await getStory(storyId);
    check(story.marks_url, 'the story has no marks_url');
    const marksPath = new URL(story.marks_url, BASE).pathname;
    check(responses.some((r) => new URL(r.url).pathname === marksPath && r.status === 200), 'the word timings (marks_url) were not fetched');
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
    // The highlight follows the seek: a word later in the story is lit.
    await page.waitForFunction((t) => {
      const w = document.querySelector('#story-text .word.is-current');
      return w && Number(w.dataset.time) / 1000 > t + 4;
    }, t0);
    await page.getByRole('button', { name: 'Pause' }).click();
    await sleep(800);
    const sess = await apiGet('/story-sessions/?story=' + encodeURIComponent(storyId));
    const rows = sess.body ? sess.body.results || sess.body : [];
    check(sess.status === 200 && rows.length >= 1, 'no listening session was recorded');
    if (!(Number(rows[0].position_ms) > 0)) warn('the session has no position_ms after pause');
    // Listen to the end: the questions appear, each answer behind its button.
    check(await page.locator('section.questions').isHidden(), 'the questions show before the narration ended');
    await page.evaluate(() => {
      const a = document.querySelector('.player audio');
      a.currentTime = Math.max(0, a.duration - 1.5);
    });
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await page.waitForFunction(() => document.querySelector('.player audio').ended, null, { timeout: 30000 * SLOW });
    const qs = Array.isArray(story.questions) ? story.questions : [];
    if (qs.length) {
      const box = page.locator('section.questions');
      await box.waitFor();
      check((await box.locator('li').count()) === qs.length, 'not every question is shown');
      const first = qs[0];
      if (first && typeof first === 'object' && first.answer) {
        const answer = box.locator('.answer').first();
        check(await answer.isHidden(), 'the answer is visible before asking');
        const btn = box.locator('li').first().getByRole('button');
        check((await btn.textContent()).trim() === 'Show answer', 'no "Show answer" button');
        await btn.click();
        await answer.waitFor();
        check((await answer.textContent()).trim() === first.answer.trim(), 'the wrong answer is shown');
        check((await btn.getAttribute('aria-expanded')) === 'true', 'the answer button does not say it is open');
      }
      await shot('03b-questions.png');
    } else warn('the story has no comprehension questions');
    // A gentle note for the owner when the safety screen changed the idea, and none otherwise.
    const sf = story.safety;
    const changed = !!(sf && typeof sf === 'object' && sf.action && sf.action !== 'allowed');
    const notes = await page.locator('.safety-note').count();
    check(notes === (changed ? 1 : 0), `safety note shown ${notes} time(s) for safety ${JSON.stringify(sf)}`);
    if (changed) {
      await page.locator('.safety-note').scrollIntoViewIfNeeded();
      await shot('03c-safety-note.png');
    }
    check(!(await page.locator('#story-text .word.is-current').count()), 'a word is still lit after the narration ended');
  });

  await step('change the story: regenerate with a wish, written live', async () => {
    await page.locator('details.tool summary', { hasText: 'Change the story' }).click();
    await page.getByLabel('What should change?').fill('Add a friendly whale who sings to the cloud.');
    await page.getByRole('button', { name: 'Write it again' }).click();
    const samples = await watchWriting(async (s) => {
      if (s.live || s.bars) return false;
      const st = await getStory(storyId);
      return st.status === 'ready' && st.story_text && st.story_text !== originalText;
    }, 120000);
    console.log(`  ${samples.length} samples, ${samples.liveCount} while rewriting`);
    check(samples.some((x) => x.labels.includes('Rewriting the story')), 'no "Rewriting the story" progress bar');
    check(samples.liveCount > 0, 'the new text did not appear live');
    const story = await getStory(storyId);
    await page.waitForFunction((want) => document.querySelector('#story-text').textContent.replace(/\s+/g, '') === want,
      story.story_text.replace(/\s+/g, ''));
    await shot('09-regenerated.png');
  });

  await step('edit the words, see earlier versions, restore one', async () => {
    await page.locator('details.tool summary', { hasText: 'Edit the words' }).click();
    const area = page.getByLabel('Story words');
    const edited = (await area.inputValue()).replace(/\s*$/, '') + '\n\nAnd everyone slept happily ever after.';
    await area.fill(edited);
    await page.getByRole('button', { name: 'Save the words' }).click();
    await page.locator('#story-text', { hasText: 'slept happily ever after' }).waitFor();
    check((await getStory(storyId)).story_text === edited, 'the edited words were not saved');
    await page.locator('details.tool summary', { hasText: 'Earlier versions' }).click();
    // The original (from before the rewrite) and the rewrite (from before the edit) are kept.
    await page.waitForFunction(() => document.querySelectorAll('.rev-list .rev').length >= 2);
    await shot('10-revisions.png', true);
    const revs = page.locator('.rev-list .rev');
    const texts = await revs.evaluateAll((list) => list.map((r) => r.querySelector('.rev-text').textContent));
    const idx = texts.findIndex((t) => t === originalText);
    check(idx >= 0, 'the original text is not among the earlier versions');
    await revs.nth(idx).getByRole('button', { name: 'Restore' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Restore' }).click();
    await page.waitForFunction(async (id) => {
      const r = await fetch('/api/stories/' + id + '/', { headers: { Authorization: 'Token ' + localStorage.getItem('nova.token') } });
      return (await r.json()).story_text.length > 0;
    }, storyId);
    const back = await getStory(storyId);
    check(back.story_text === originalText, 'restoring did not bring the original words back');
    await page.waitForFunction((want) => document.querySelector('#story-text').textContent.replace(/\s+/g, '') === want,
      originalText.replace(/\s+/g, ''));
    // Record the narration again so voice and words match; it has its own progress bar.
    const oldAudio = back.audio_url;
    await page.getByRole('button', { name: /Record again|Record narration/ }).click();
    const samples = await watchWriting(async (s) => {
      if (s.bars) return false;
      const st = await getStory(storyId);
      return st.audio_url && st.audio_url !== oldAudio;
    }, 120000);
    check(samples.some((x) => x.labels.includes('Recording the narration')), 'no "Recording the narration" progress bar');
    await page.locator('#story-text .word').first().waitFor();
  });

  await step('paint the scenes: a live gallery, upload one, delete one', async () => {
    // Every state any scene card passes through (a poll could miss a quick one).
    await page.evaluate(() => {
      const seen = (window.sceneStates = new Set());
      new MutationObserver((records) => {
        for (const m of records) {
          if (m.type === 'attributes' && m.target.classList.contains('scene-card')) {
            if (m.oldValue) seen.add(m.oldValue);
            seen.add(m.target.dataset.state);
          }
        }
      }).observe(document.querySelector('.scene-grid'), { subtree: true, attributes: true, attributeFilter: ['data-state'], attributeOldValue: true });
    });
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
      const busy = st.length === 0 || st.includes('drawing') || st.includes('waiting') || st.includes('empty');
      if (!busy && st.includes('failed')) {
        check(retries < 3, 'scenes still fail after 3 retries: ' + st.join(','));
        retries++;
        await shot('04b-scene-failed.png', true);
        await page.locator('.scene-card[data-state=failed]').first().getByRole('button', { name: 'Try again' }).click();
        await sleep(300);
        continue;
      }
      if (!busy && st.every((x) => x === 'ready')) break;
      await sleep(150);
    }
    const imgs = await page.locator('.scene-card img.scene-img').evaluateAll(async (list) => {
      await Promise.all(list.map((i) => (i.complete ? null : new Promise((r) => { i.onload = r; i.onerror = r; }))));
      return list.map((i) => i.naturalWidth);
    });
    const cards = await page.locator('.scene-card').count();
    console.log(`  ${cards} scenes, ${retries} retry round(s), image widths ${imgs.join(',')}`);
    const states = await page.evaluate(() => [...window.sceneStates]);
    check(states.includes('drawing'), 'no scene was ever shown while it was being painted: ' + states.join(','));
    check(cards >= 2 && imgs.length === cards && imgs.every((w) => w > 0), 'not every scene shows its picture');
    const saved = (await getStory(storyId)).scenes || [];
    check(saved.length === cards, `the page shows ${cards} scenes, the server has ${saved.length}`);
    await page.locator('.scene-grid').scrollIntoViewIfNeeded();
    await shot('04-scenes.png', true);
    await auditPage('story with scenes');
    // Replace the first picture with our own drawing (through the card's Upload button).
    const card1 = page.locator('.scene-card[data-scene="1"]');
    const oldSrc = await card1.locator('img.scene-img').getAttribute('src');
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'),
      card1.getByRole('button', { name: 'Upload a picture for scene 1' }).click()]);
    await chooser.setFiles({ name: 'mine.png', mimeType: 'image/png', buffer: makePng(64, 48) });
    await page.waitForFunction((old) => {
      const i = document.querySelector('.scene-card[data-scene="1"] img.scene-img');
      return i && i.getAttribute('src') !== old && i.complete && i.naturalWidth > 0;
    }, oldSrc);
    // Delete the last scene (after saying yes).
    await page.getByRole('button', { name: `Delete scene ${cards}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await page.waitForFunction((n) => !document.querySelector(`.scene-card[data-scene="${n}"]`), cards);
    const left = (await getStory(storyId)).scenes || [];
    check(left.length === cards - 1, `after deleting a scene the server has ${left.length} scenes`);
    const first = left.find((x) => Number(x.scene_number) === 1);
    check(first && first.image_url && first.image_url !== oldSrc, 'the uploaded picture was not saved for scene 1');
  });

  await step('playlist: make, reorder, play all, remove', async () => {
    // A second story (through the API, no need to wait for it) so there is something to reorder.
    secondId = await page.evaluate(async () => {
      const r = await fetch('/api/stories/', {
        method: 'POST',
        headers: { Authorization: 'Token ' + localStorage.getItem('nova.token'), 'Content-Type': 'application/json', Prefer: 'respond-async' },
        body: JSON.stringify({ title: 'A Second Story', prompt: 'A turtle who wants to fly learns to swim fast.', template: 'adventure' }),
      });
      const b = await r.json();
      return (b.story || b).id;
    });
    check(secondId, 'could not create a second story');
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
    check(saved && saved.stories.map((x) => x.title).join('|') === [before[1], before[0]].join('|'),
      'the new order was not saved: ' + JSON.stringify(saved && saved.stories.map((x) => x.title)));
    await page.getByRole('button', { name: 'Play all' }).click();
    await page.getByText(/Now playing 1 of 2/).waitFor();
    await shot('05-playlist.png', true);
    await auditPage('playlist');
    await page.getByRole('button', { name: /Pause|Play/ }).first().click().catch(() => {});
    await page.getByRole('button', { name: 'Remove A Second Story from the playlist' }).click();
    await page.waitForFunction(() => document.querySelectorAll('.pl-item').length === 1);
    const after = (await apiGet('/playlists/' + encodeURIComponent(plId) + '/')).body;
    check(after && after.stories.length === 1 && after.stories[0].title === title, 'removing a story was not saved');
    // ...and add it back through the picker.
    await page.getByLabel('Add a story').selectOption({ label: 'A Second Story' });
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.waitForFunction(() => document.querySelectorAll('.pl-item').length === 2);
    check((await apiGet('/playlists/' + encodeURIComponent(plId) + '/')).body.stories.length === 2, 'adding a story was not saved');
  });

  await step('change the story settings', async () => {
    await page.getByRole('link', { name: 'Settings' }).first().click();
    await page.getByRole('heading', { name: 'Story settings' }).waitFor();
    await auditPage('settings');
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
    const saved = (await apiGet('/story-settings/')).body || {};
    check(saved.age_range === '9-12' && Number(saved.story_parts) === 6, 'the settings were not saved on the server');
    await shot('06-settings.png', true);
  });

  await step('stories list: search, publish, delete', async () => {
    await page.getByRole('link', { name: 'My stories' }).click();
    await page.getByRole('heading', { name: 'My stories' }).waitFor();
    await page.getByRole('link', { name: title }).waitFor();
    await page.getByLabel('Search stories').fill('Lighthouse ' + stamp);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText(/1 story matches/).waitFor();
    check((await page.locator('.story-row').count()) === 1, 'search did not narrow the list');
    const sw = page.getByRole('switch', { name: 'Published: ' + title });
    check((await sw.getAttribute('aria-checked')) === 'false', 'a new story should be a draft');
    await sw.click();
    await page.waitForFunction(() => document.querySelector('.story-row [role=switch]').getAttribute('aria-checked') === 'true');
    check((await getStory(storyId)).is_published === true, 'publishing was not saved');
    await shot('07-stories.png', true);
    await auditPage('stories');
    await page.getByLabel('Search stories').fill('');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('button', { name: 'Delete A Second Story' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('link', { name: 'A Second Story' }).waitFor({ state: 'detached' });
    check((await apiGet('/stories/' + encodeURIComponent(secondId) + '/')).status === 404, 'the deleted story is still on the server');
  });

  await step('dashboard with stats and charts', async () => {
    await page.getByRole('link', { name: 'Home', exact: true }).click();
    await page.getByRole('heading', { name: /^Hello/ }).waitFor();
    await page.locator('.stats').waitFor();
    const stats = (await apiGet('/dashboard-stats/')).body.stats;
    const shownStories = await page.locator('.stat', { hasText: 'Stories' }).locator('.stat-value').first().textContent();
    check(Number(shownStories) === stats.total_stories && stats.total_stories >= 1, `stories stat shows ${shownStories}, server says ${stats.total_stories}`);
    const charts = await page.locator('figure.chart svg[role=img]').count();
    check(charts >= 3, 'the dashboard has ' + charts + ' charts');
    // Today's bar in "Stories made" is drawn (this user made stories today).
    const tallest = await page.locator('figure.chart').first().locator('rect.chart-bar').evaluateAll((r) => Math.max(...r.map((x) => Number(x.getAttribute('height')))));
    check(tallest > 0, 'the stories chart has no bar');
    await shot('11-dashboard-charts.png', true);
    await auditPage('dashboard');
  });

  await step('keyboard: skip link, focus is visible, menus and dialogs', async () => {
    // Start from the top of the document, as after opening the site.
    await page.evaluate(() => {
      const root = document.documentElement;
      root.setAttribute('tabindex', '-1');
      root.focus();
      root.removeAttribute('tabindex');
    });
    await page.keyboard.press('Tab');
    check(await page.evaluate(() => document.activeElement.id === 'skip-link'), 'the first Tab does not reach the skip link');
    const ring = await page.evaluate(() => {
      const st = getComputedStyle(document.activeElement);
      return st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) >= 2;
    });
    check(ring, 'the focused skip link has no visible focus ring');
    await page.keyboard.press('Enter');
    check(await page.evaluate(() => document.activeElement.id === 'main'), 'the skip link does not move focus to the page');
    // Tab reaches the page's buttons, each with a visible ring.
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      const st = getComputedStyle(el);
      return { tag: el.tagName, ring: st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) >= 2 };
    });
    check(focused.ring, `the focused ${focused.tag} has no visible focus ring`);
    // Escape closes a confirm dialog and nothing is deleted.
    await page.goto(BASE + '/#/stories/' + encodeURIComponent(storyId));
    await page.getByRole('heading', { name: title }).waitFor();
    await page.getByRole('button', { name: 'Delete', exact: true }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog').waitFor();
    check(await page.evaluate(() => document.activeElement.closest('dialog') !== null), 'focus is not inside the dialog');
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    check((await apiGet('/stories/' + encodeURIComponent(storyId) + '/')).status === 200, 'Escape deleted the story');
  });

  await step('phone width, sign out and sign in', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(BASE + '/#/stories/' + encodeURIComponent(storyId));
    await page.getByRole('heading', { name: title }).waitFor();
    await page.locator('#story-text .word').first().waitFor();
    await page.locator('.scene-card img.scene-img').first().waitFor();
    await noOverflow('story');
    await shot('08-phone-story.png');
    for (const [hash, heading] of [['#/stories/new', 'Make a new story'], ['#/dashboard', /^Hello/], ['#/playlists', 'Playlists'], ['#/settings', 'Story settings'], ['#/stories', 'My stories']]) {
      await page.goto(BASE + '/' + hash);
      await page.getByRole('heading', { name: heading, exact: typeof heading === 'string' }).first().waitFor();
      await sleep(200);
      await noOverflow(hash);
    }
    await shot('08a-phone-stories.png', true);
    const menu = page.getByRole('button', { name: 'Menu' });
    check(await menu.isVisible(), 'the menu button is not shown at phone width');
    check(!(await page.getByRole('button', { name: 'Sign out' }).isVisible()), 'the menu should be closed');
    await menu.click();
    check((await menu.getAttribute('aria-expanded')) === 'true', 'the menu button does not say it is open');
    await shot('08b-phone-menu.png');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Welcome back!' }).waitFor();
    check(!(await page.evaluate(() => localStorage.getItem('nova.token'))), 'token still stored after sign-out');
    await auditPage('sign-in');
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
