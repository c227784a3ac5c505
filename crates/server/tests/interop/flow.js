// The three-step authorization flow with Node's `oauth` package (getOAuthRequestToken,
// getOAuthAccessToken), the consent done in headless Chromium by consent.js; then a signed
// call with the token (oauth-1.0a, which sends the realm NetSuite wants).
// Usage: node flow.js CONFIG_JSON. Prints one JSON object: what each step saw.
'use strict';
const crypto = require('crypto');
const { OAuth } = require('oauth');
const OAuth1a = require('oauth-1.0a');
const { consent } = require('./consent.js');

const cfg = JSON.parse(process.argv[2]);
const base = cfg.base;

const client = new OAuth(
  `${base}/rest/requesttoken`,
  `${base}/rest/accesstoken`,
  cfg.consumer_key,
  cfg.consumer_secret,
  '1.0',
  cfg.callback,
  'HMAC-SHA256',
);

function requestToken() {
  return new Promise((resolve, reject) => client.getOAuthRequestToken((err, token, secret, rest) =>
    err ? reject(new Error(JSON.stringify(err))) : resolve({ token, secret, rest })));
}

function accessToken(token, secret, verifier) {
  return new Promise((resolve) => client.getOAuthAccessToken(token, secret, verifier, (err, t, s, rest) =>
    resolve(err ? { error: err.statusCode } : { token: t, secret: s, rest })));
}

(async () => {
  const out = {};
  const rt = await requestToken();
  out.request_token_ok = /^[0-9a-f]{64}$/.test(rt.token) && /^[0-9a-f]{64}$/.test(rt.secret);
  out.callback_confirmed = rt.rest.oauth_callback_confirmed;
  const url = `${base}/app/login/secure/authorizetoken.nl?oauth_token=${rt.token}&state=node7`;
  const back = new URL(await consent(cfg, url));
  out.callback_state = back.searchParams.get('state');
  out.callback_company = back.searchParams.get('company');
  const verifier = back.searchParams.get('oauth_verifier');
  const at = await accessToken(rt.token, rt.secret, verifier);
  out.access_token_ok = /^[0-9a-f]{64}$/.test(at.token || '') && /^[0-9a-f]{64}$/.test(at.secret || '');

  const signer = OAuth1a({
    consumer: { key: cfg.consumer_key, secret: cfg.consumer_secret },
    signature_method: 'HMAC-SHA256',
    realm: cfg.account,
    hash_function(baseString, key) {
      return crypto.createHmac('sha256', key).update(baseString).digest('base64');
    },
  });
  const echo = `${base}/app/site/hosting/restlet.nl?script=1&deploy=1`;
  const headers = signer.toHeader(signer.authorize({ url: echo, method: 'GET' }, { key: at.token, secret: at.secret }));
  const reply = await fetch(echo, { headers });
  out.call_status = reply.status;

  out.second_exchange = (await accessToken(rt.token, rt.secret, verifier)).error || 'accepted';
  // A denied request: the callback learns it, and the request token gives nothing.
  const denied = await requestToken();
  const deniedBack = new URL(await consent(cfg, `${base}/app/login/secure/authorizetoken.nl?oauth_token=${denied.token}`, 'deny'));
  out.denied_error = deniedBack.searchParams.get('error');
  out.denied_exchange = (await accessToken(denied.token, denied.secret, 'x')).error || 'accepted';
  process.stdout.write(`${JSON.stringify(out)}\n`);
})().catch((e) => { process.stderr.write(`${e.stack || e}\n`); process.exit(1); });
