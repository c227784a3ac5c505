// The admin web UI in a real browser (Debian's chromium, driven by playwright-core): the seed's
// two procedures end to end, the way an administrator clicks through them, plus the checks a
// browser alone can make (stored XSS never runs, a form without its token is refused).
// Usage: node ui.js CONFIG_JSON. Exits non-zero on the first failed check, naming it.
'use strict';
const assert = require('assert/strict');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const OAuth = require('oauth-1.0a');
const { chromium } = require('playwright-core');

const cfg = JSON.parse(process.argv[2]);
const base = cfg.base;
const echo = `${base}/app/site/hosting/restlet.nl?script=1&deploy=1`;

// Stored in every editable text field; must come back as text and never run.
const XSS = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>"'&`;

/** A signed GET to the echo RESTlet, as an integration would send it. */
async function signedCall(consumer, token) {
  const oauth = OAuth({
    consumer,
    signature_method: 'HMAC-SHA256',
    realm: cfg.account,
    hash_function(baseString, key) {
      return crypto.createHmac('sha256', key).update(baseString).digest('base64');
    },
  });
  const headers = oauth.toHeader(oauth.authorize({ url: echo, method: 'GET' }, token));
  const response = await fetch(echo, { headers });
  return { status: response.status, body: await response.text() };
}

let step = 'start';
function check(name) {
  step = name;
  process.stderr.write(`- ${name}\n`);
}

async function noScriptRan(page, where) {
  assert.equal(await page.evaluate(() => window.__xss), undefined, `a stored payload ran on ${where}`);
  assert.equal(await page.locator('img[src="x"]').count(), 0, `a stored <img> became markup on ${where}`);
}

async function screenshot(page, name) {
  if (!cfg.screenshots) return;
  fs.mkdirSync(cfg.screenshots, { recursive: true });
  await page.screenshot({ path: path.join(cfg.screenshots, name), fullPage: true });
}

(async () => {
  const browser = await chromium.launch({
    executablePath: cfg.chromium,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const dialogs = [];
  page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  const cspViolations = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });

  check('signing in: a page asked for while signed out leads to the sign-in form and back');
  await page.goto(`${base}/app/setup/access-tokens`);
  assert.match(page.url(), /\/app\/login\?next=/);
  assert.equal(await page.inputValue('#account'), cfg.account, 'the only account is filled in');
  await page.fill('#email', cfg.email);
  await page.fill('#password', 'wrong password!!');
  await page.click('button[type=submit]');
  assert.match(await page.textContent('.error-text'), /incorrect/);
  assert.equal(await page.inputValue('#email'), cfg.email, 'what was typed is kept');
  await page.fill('#password', cfg.password);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/app/setup/access-tokens`);
  assert.equal(await page.textContent('h1'), 'Access Tokens');
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name.endsWith('tessera-session'));
  assert.ok(session, 'a session cookie is set');
  assert.ok(session.httpOnly, 'the session cookie is HttpOnly');
  assert.equal(session.sameSite, 'Strict');

  check('Manage Integrations: New; the consumer key and secret shown once');
  await page.click('nav.setup >> text=Manage Integrations');
  await page.click('a.button:has-text("New")');
  const appName = 'Order Sync';
  await page.fill('#name', appName);
  await page.fill('#description', 'Pushes web orders to the warehouse system');
  assert.ok(await page.isChecked('input[name=token_based_auth]'), 'Token-based Authentication is on by default');
  await page.check('input[name=tba_issuetoken_endpoint]');
  await page.click('button:has-text("Save")');
  const consumerKey = await page.inputValue('#consumer-key');
  const consumerSecret = await page.inputValue('#consumer-secret');
  assert.match(consumerKey, /^[0-9a-f]{64}$/);
  assert.match(consumerSecret, /^[0-9a-f]{64}$/);
  assert.match(await page.textContent('.secret .warning'), /will not be shown again/);
  assert.equal(await page.textContent('dd.name'), appName);
  // The key and secret come in the answer to the post itself (never through a redirect that
  // would have to keep them somewhere); the record's own address is on its Edit link.
  const integrationId = (await page.getAttribute('a.button:has-text("Edit")', 'href')).match(/integrations\/(\d+)/)[1];
  const integrationUrl = `${base}/app/setup/integrations/${integrationId}`;

  check('the record page never shows the secret again');
  await page.goto(integrationUrl);
  assert.equal(await page.locator('#consumer-secret').count(), 0);
  assert.ok(!(await page.content()).includes(consumerSecret), 'the consumer secret is not on the page');

  check('New Access Token: the default name is filled in as the choices are made');
  await page.goto(`${base}/app/setup/access-tokens`);
  await page.click('a.button:has-text("New Access Token")');
  await page.selectOption('#application', { label: appName });
  await page.selectOption('#grant', { label: 'Alice Able — Integration User' });
  assert.equal(await page.inputValue('#name'), `${appName} - Alice Able - Integration User`.slice(0, 100));
  const tokenName = `${appName} - Alice Able - Integration User`;
  await page.click('button:has-text("Save")');
  const tokenId = await page.inputValue('#token-id');
  const tokenSecret = await page.inputValue('#token-secret');
  assert.match(tokenId, /^[0-9a-f]{64}$/);
  assert.match(await page.textContent('.secret .warning'), /will not be shown again/);
  assert.equal(await page.textContent('dd.name'), tokenName);
  const tokenPage = await page.getAttribute('a.button:has-text("Done")', 'href');
  await page.reload(); // the browser posts the form again: no second token
  assert.equal(await page.textContent('h1'), 'Already done');
  await page.goto(`${base}/app/setup/access-tokens?search=${encodeURIComponent(tokenName)}`);
  assert.equal(await page.locator('table.list tbody tr').count(), 1, 'one token, however often the page was reloaded');

  check('the token works: a signed call to the echo RESTlet');
  const consumer = { key: consumerKey, secret: consumerSecret };
  let reply = await signedCall(consumer, { key: tokenId, secret: tokenSecret });
  assert.equal(reply.status, 200, reply.body);
  assert.equal(JSON.parse(reply.body).token.name, tokenName, 'the echo names the token');

  check('a second token, kept for the reset');
  await page.goto(`${base}/app/setup/access-tokens/new`);
  await page.selectOption('#application', { label: appName });
  await page.selectOption('#grant', { label: 'Alice Able — Integration User' });
  await page.fill('#name', 'Kept through the reset');
  await page.click('button:has-text("Save")');
  const keptId = await page.inputValue('#token-id');
  const keptSecret = await page.inputValue('#token-secret');

  check('the list: Revoked = No shows it, Revoked = Yes does not, Search finds it');
  await page.goto(`${base}/app/setup/access-tokens`);
  await page.selectOption('#f-revoked', 'no');
  await page.click('button:has-text("Apply")');
  assert.ok((await page.textContent('table.list')).includes(tokenName), 'listed under Revoked = No');
  await page.selectOption('#f-revoked', 'yes');
  await page.click('button:has-text("Apply")');
  assert.ok(!(await page.textContent('table.list')).includes(tokenName), 'not listed under Revoked = Yes');
  await page.selectOption('#f-revoked', 'all');
  await page.fill('#f-search', 'order sync - alice');
  await page.click('button:has-text("Apply")');
  const found = await page.locator('table.list tbody tr').allTextContents();
  assert.equal(found.length, 1, `the search finds exactly the one token: ${found}`);
  assert.ok(found[0].includes(tokenName));
  await page.fill('#f-search', 'no such token anywhere');
  await page.click('button:has-text("Apply")');
  assert.match(await page.textContent('td.empty'), /No token matches/);

  check('a form posted without its security token is refused, and changes nothing');
  await page.goto(`${base}${tokenPage}/revoke`);
  await page.evaluate(() => document.querySelector('main form[action$="/revoke"] input[name=csrf]').remove());
  await page.click('button:has-text("Revoke token")');
  assert.equal(await page.textContent('h1'), 'Refused');
  assert.match(await page.textContent('.error-text'), /security token/);
  reply = await signedCall(consumer, { key: tokenId, secret: tokenSecret });
  assert.equal(reply.status, 200, 'the token still works');
  const forged = await context.request.post(`${base}${tokenPage}/revoke`, {
    form: { confirm: 'T' },
    headers: { Origin: base },
    maxRedirects: 0,
  });
  assert.equal(forged.status(), 403, 'a post without the token is refused');
  const csrf = await (async () => {
    await page.goto(`${base}${tokenPage}/revoke`);
    return page.inputValue('main form[action$="/revoke"] input[name=csrf]');
  })();
  const foreign = await context.request.post(`${base}${tokenPage}/revoke`, {
    form: { confirm: 'T', csrf },
    headers: { Origin: 'https://evil.example.com' },
    maxRedirects: 0,
  });
  assert.equal(foreign.status(), 403, 'a post from another origin is refused even with the token');

  check('Revoke through the confirmation: the call now fails');
  await page.goto(`${base}${tokenPage}`);
  await page.click('a.button:has-text("Revoke")');
  assert.match(await page.textContent('h1'), /Revoke this access token\?/);
  await page.click('button:has-text("Revoke token")');
  assert.match(await page.textContent('.flash'), /is revoked/);
  assert.equal(await page.textContent('.badge'), 'Revoked');
  assert.equal(await page.locator('a.button:has-text("Revoke")').count(), 0, 'a revoked token offers no Revoke');
  reply = await signedCall(consumer, { key: tokenId, secret: tokenSecret });
  assert.equal(reply.status, 401, 'a revoked token is refused');
  await page.goto(`${base}/app/setup/access-tokens?revoked=yes`);
  assert.ok((await page.textContent('table.list')).includes(tokenName), 'listed under Revoked = Yes');

  check('Edit: Inactive stops a token, and undoing it restores it');
  const fixture = { key: cfg.fixture.consumer_key, secret: cfg.fixture.consumer_secret };
  const second = { key: cfg.fixture.token_id, secret: cfg.fixture.token_secret };
  assert.equal((await signedCall(fixture, second)).status, 200);
  await page.goto(`${base}/app/setup/access-tokens?search=alice%20second`);
  await page.click('table.list tbody a:text-is("Edit")');
  await page.check('input[name=inactive]');
  await page.click('button:has-text("Save")');
  assert.equal(await page.textContent('.badge'), 'Inactive');
  assert.equal((await signedCall(fixture, second)).status, 401, 'an inactive token is refused');
  await page.goto(`${base}/app/setup/access-tokens`);
  await screenshot(page, 'access-tokens.png');
  await page.goto(`${base}/app/setup/access-tokens?search=alice%20second`);
  await page.click('table.list tbody a:text-is("Edit")');
  await page.uncheck('input[name=inactive]');
  await page.click('button:has-text("Save")');
  assert.equal(await page.textContent('.badge'), 'Active');
  assert.equal((await signedCall(fixture, second)).status, 200, 'active again, it works again');

  check('the signature debugger: opened on the token, a real mis-signed request, the first difference and its cause');
  await page.goto(`${base}/app/setup/access-tokens?search=alice%20second`);
  await page.click('table.list tbody a:text-is("View")');
  await page.selectOption('#minutes', '60');
  await page.click('button:has-text("Open the signature debugger")');
  assert.match(await page.textContent('.flash'), /open until/);
  // A client that signs a parameter it does not send (a common slip: the data of another
  // call left in the signing call).
  const misSigning = OAuth({
    consumer: fixture,
    signature_method: 'HMAC-SHA256',
    realm: cfg.account,
    hash_function(baseString, key) {
      return crypto.createHmac('sha256', key).update(baseString).digest('base64');
    },
  });
  const signedRequest = { url: echo, method: 'GET', data: { status: 'open' } };
  const oauthData = misSigning.authorize(signedRequest, second);
  const headers = misSigning.toHeader(oauthData);
  assert.equal((await fetch(echo, { headers })).status, 401, 'the mis-signed request is refused');
  const { oauth_signature: _signature, ...signedParams } = oauthData;
  const clientBaseString = misSigning.getBaseString(signedRequest, signedParams);
  await page.goto(`${base}/app/setup/login-audit-trail?detail=InvalidSignature`);
  await page.click('a:has-text("Debug this signature")');
  assert.match(await page.textContent('h1'), /Why was this signature refused/);
  const serverBase = await page.textContent('#server-base-string');
  assert.ok(serverBase.startsWith('GET&'), serverBase);
  assert.ok(!serverBase.includes(cfg.fixture.token_id), 'the token id is masked');
  await page.fill('#base_string', clientBaseString);
  await page.click('button:has-text("Compare")');
  const marked = await page.textContent('#client-diff mark');
  assert.ok(marked.length > 0, 'the first difference is marked');
  assert.ok(marked.startsWith('%26status%3Dopen') || marked.includes('status'), marked);
  assert.match(await page.textContent('ul.causes'), /Parameters are signed that the server does not see/);
  await screenshot(page, 'signature-debugger.png');

  check('Reset Credentials: confirmation, the new pair shown once; old pair fails, the token works with the new');
  await page.goto(integrationUrl);
  await page.click('a.button:has-text("Reset Credentials")');
  assert.match(await page.textContent('h1'), /Reset the credentials/);
  await page.click('button:has-text("Reset Credentials")');
  const newKey = await page.inputValue('#consumer-key');
  const newSecret = await page.inputValue('#consumer-secret');
  assert.notEqual(newKey, consumerKey);
  assert.notEqual(newSecret, consumerSecret);
  assert.match(await page.textContent('.secret .warning'), /will not be shown again/);
  await screenshot(page, 'reset-credentials.png');
  const resetUrl = page.url();
  await page.reload(); // the browser posts the same form again
  assert.equal(await page.textContent('h1'), 'Already done', `a reload does not reset again (${resetUrl})`);
  assert.equal(await page.locator('#consumer-secret').count(), 0);
  reply = await signedCall(consumer, { key: keptId, secret: keptSecret });
  assert.equal(reply.status, 401, 'the old consumer pair is refused at once');
  reply = await signedCall({ key: newKey, secret: newSecret }, { key: keptId, secret: keptSecret });
  assert.equal(reply.status, 200, `the token works with the new pair: ${reply.body}`);

  check('the Login Audit Trail shows the refusals with their Detail');
  await page.goto(`${base}/app/setup/login-audit-trail?status=failure`);
  const trail = await page.textContent('table.list');
  assert.ok(trail.includes('TokenRevoked'), 'the revoked token call is in the trail');
  assert.ok(trail.includes('InvalidCredentials'), 'the wrong password is in the trail');

  check('a payload stored in every editable text field is shown as text and never runs');
  await page.goto(`${integrationUrl}/edit`);
  await page.fill('#name', `Order Sync ${XSS}`);
  await page.fill('#description', `Description ${XSS}`);
  await page.fill('#note', `Note ${XSS}`);
  await page.check('input[name=tba_authorization_flow]');
  await page.fill('#callback', `https://app.example.com/cb?x="><script>window.__xss=3</script>`);
  await page.click('button:has-text("Save")');
  assert.match(await page.textContent('.flash'), /saved/);
  assert.equal(await page.textContent('dd.name'), `Order Sync ${XSS}`);
  assert.equal(await page.textContent('dd.description'), `Description ${XSS}`);
  assert.equal(await page.textContent('dd.note'), `Note ${XSS}`);
  assert.ok((await page.textContent('dl.record >> nth=1')).includes('<script>window.__xss=3</script>'));
  await noScriptRan(page, 'the integration record');
  await page.goto(`${base}/app/setup/access-tokens/new`);
  await page.selectOption('#application', { label: `Order Sync ${XSS}` });
  await page.selectOption('#grant', { label: 'Alice Able — Integration User' });
  await page.fill('#name', `Token ${XSS}`);
  await page.click('button:has-text("Save")');
  assert.equal(await page.textContent('dd.name'), `Token ${XSS}`);
  await noScriptRan(page, 'the new token');
  const xssToken = await page.getAttribute('a.button:has-text("Done")', 'href');
  await page.goto(`${base}${xssToken}/edit`);
  await page.fill('#name', `Renamed ${XSS}`);
  await page.click('button:has-text("Save")');
  assert.equal(await page.textContent('dd.name'), `Renamed ${XSS}`);
  const pages = [
    '/app/setup/integrations',
    `/app/setup/integrations/${integrationId}`,
    `/app/setup/integrations/${integrationId}/edit`,
    `/app/setup/integrations/${integrationId}/reset`,
    '/app/setup/access-tokens',
    xssToken,
    `${xssToken}/edit`,
    `${xssToken}/revoke`,
    `/app/setup/access-tokens?search=${encodeURIComponent(XSS)}`,
    `/app/setup/login-audit-trail?detail=${encodeURIComponent(XSS)}&token_name=${encodeURIComponent(XSS)}`,
    '/app/setup/login-audit-trail',
  ];
  for (const p of pages) {
    await page.goto(`${base}${p}`);
    await noScriptRan(page, p);
  }
  await page.goto(`${base}/app/setup/access-tokens?search=${encodeURIComponent(XSS)}`);
  assert.equal(await page.inputValue('#f-search'), XSS, 'a searched payload comes back as the typed text');
  const stranger = await browser.newContext();
  const anon = await stranger.newPage();
  await anon.goto(`${base}/app/login`);
  await anon.fill('#account', cfg.account);
  await anon.fill('#email', `x${XSS}@example.com`.replace(/[<>"' ]/g, ''));
  await anon.fill('#password', 'not the password');
  await anon.evaluate((v) => { document.querySelector('#email').type = 'text'; document.querySelector('#email').value = v; }, `a${XSS}@x.com`);
  await anon.click('button[type=submit]');
  assert.equal(await anon.inputValue('#email'), `a${XSS}@x.com`);
  await noScriptRan(anon, 'the sign-in form');
  await stranger.close();

  check('on a phone the list is still usable');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/app/setup/access-tokens`);
  assert.ok(await page.isVisible('a.button:has-text("New Access Token")'));
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no sideways scrolling on a phone (${overflow}px too wide)`);
  await screenshot(page, 'access-tokens-phone.png');
  await page.setViewportSize({ width: 1280, height: 900 });

  check('every page passes axe-core\'s accessibility rules (no serious or critical finding)');
  // axe is injected as a script, which the pages' CSP rightly forbids: a context that
  // bypasses CSP, with the same session, runs it.
  const audit = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 }, storageState: await context.storageState() });
  const auditPage = await audit.newPage();
  const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  const accessible = [
    '/app',
    '/app/setup/access-tokens',
    '/app/setup/access-tokens/new',
    `${tokenPage}`,
    `${tokenPage}/edit`,
    `${tokenPage}/revoke`,
    '/app/setup/my-access-tokens',
    '/app/setup/integrations',
    '/app/setup/integrations/new',
    `/app/setup/integrations/${integrationId}`,
    `/app/setup/integrations/${integrationId}/edit`,
    `/app/setup/integrations/${integrationId}/reset`,
    `/app/setup/integrations/${integrationId}/delete`,
    '/app/setup/users',
    '/app/setup/users/1/edit',
    '/app/setup/users/2/delete',
    '/app/setup/users/1',
    '/app/setup/users/new',
    '/app/setup/roles',
    '/app/setup/roles/3',
    '/app/setup/roles/new',
    '/app/setup/login-audit-trail',
    '/app/preferences/password',
  ];
  for (const p of accessible) {
    await auditPage.goto(`${base}${p}`);
    await auditPage.evaluate(axeSource);
    const result = await auditPage.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`), [], `accessibility of ${p}`);
  }
  const anonymous = await browser.newContext({ bypassCSP: true });
  const loginPage = await anonymous.newPage();
  await loginPage.goto(`${base}/app/login`);
  await loginPage.evaluate(axeSource);
  const loginResult = await loginPage.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  assert.deepEqual(loginResult.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id), [], 'accessibility of the sign-in page');
  await anonymous.close();
  await audit.close();

  check('without JavaScript: sign in, make a token (the server names it), copy buttons stay hidden');
  const plain = await browser.newContext({ javaScriptEnabled: false });
  const noJs = await plain.newPage();
  await noJs.goto(`${base}/app/login`);
  await noJs.fill('#email', cfg.email);
  await noJs.fill('#password', cfg.password);
  await noJs.click('button[type=submit]');
  await noJs.goto(`${base}/app/setup/access-tokens/new`);
  await noJs.selectOption('#application', { label: 'Acme Sync' });
  await noJs.selectOption('#grant', { label: 'Alice Able — Integration User' });
  assert.equal(await noJs.inputValue('#name'), '', 'nothing fills the name without the script');
  await noJs.click('button:has-text("Save")');
  assert.equal(await noJs.textContent('dd.name'), 'Acme Sync - Alice Able - Integration User');
  assert.match(await noJs.inputValue('#token-secret'), /^[0-9a-f]{64}$/);
  assert.equal(await noJs.isVisible('button[data-copy]'), false, 'no dead Copy button without the script');
  await plain.close();

  check('signing out ends the session');
  await page.click('button:has-text("Sign out")');
  assert.match(page.url(), /\/app\/login\?reason=signed_out/);
  await page.goto(`${base}/app/setup/access-tokens`);
  assert.match(page.url(), /\/app\/login/);

  assert.deepEqual(dialogs, [], 'no script ever opened a dialog');
  assert.deepEqual(cspViolations, [], 'nothing the pages load breaks their Content-Security-Policy');
  await browser.close();
  console.log(JSON.stringify({ ok: true }));
})().catch((e) => {
  console.error(`failed at: ${step}\n${e.stack || e}`);
  process.exit(1);
});
