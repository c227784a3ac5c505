// Step 2 of the authorization flow the way a person does it: headless Chromium opens the
// authorization URL, signs in on the page it is sent to, keeps the role offered first and
// presses Allow (or Deny); the callback URL the browser is sent to is the result.
// As a module: consent(cfg, authorizationUrl, decision) → callback URL.
// As a program: node consent.js CONFIG_JSON AUTHORIZATION_URL [allow|deny] prints it.
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

async function consent(cfg, authorizationUrl, decision = 'allow') {
  const browser = await chromium.launch({
    executablePath: cfg.chromium,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  try {
    const page = await (await browser.newContext({ viewport: { width: 1000, height: 760 } })).newPage();
    await page.goto(authorizationUrl);
    if (/\/app\/login\?/.test(page.url())) {
      await page.fill('#account', cfg.account);
      await page.fill('#email', cfg.email);
      await page.fill('#password', cfg.password);
      await Promise.all([page.waitForURL(/authorizetoken\.nl/), page.click('button[type=submit]')]);
    }
    const heading = await page.textContent('h1');
    if (!/^Allow .+ to use your account\?$/.test(heading.trim())) {
      throw new Error(`not the consent page: ${heading}`);
    }
    if (cfg.screenshots) {
      fs.mkdirSync(cfg.screenshots, { recursive: true });
      await page.screenshot({ path: path.join(cfg.screenshots, 'consent.png'), fullPage: true });
    }
    // The application's callback is not served by this test: the browser's request for it is
    // the result (the page itself then fails to load, as nothing listens there).
    const [request] = await Promise.all([
      page.waitForRequest((r) => r.url().startsWith(cfg.callback_prefix), { timeout: 15000 }),
      page.click(decision === 'deny' ? '#deny' : '#allow'),
    ]);
    return request.url();
  } finally {
    await browser.close();
  }
}

module.exports = { consent };

if (require.main === module) {
  const cfg = JSON.parse(process.argv[2]);
  consent(cfg, process.argv[3], process.argv[4]).then(
    (url) => process.stdout.write(`${url}\n`),
    (e) => { process.stderr.write(`${e.stack || e}\n`); process.exit(1); },
  );
}
