// Drives a Tessera server with the npm package oauth-1.0a and Node's fetch, as a NetSuite
// integrator's JavaScript would. Usage: node client.js CONFIG_JSON. Prints one JSON list.
// The URL signed is the URL sent, already percent-encoded (oauth-1.0a encodes what it is given
// once more, as RFC 5849 asks); no literal `+` in queries (oauth-1.0a signs it as `+`).
'use strict';
const crypto = require('crypto');
const OAuth = require('oauth-1.0a');

const cfg = JSON.parse(process.argv[2]);
const restlet = `${cfg.base}/app/site/hosting/restlet.nl?script=7&deploy=1`;
const rest = `${cfg.base}/services/rest/record/v1`;

function signer(consumerSecret, method) {
  return OAuth({
    consumer: { key: cfg.consumer_key, secret: consumerSecret },
    signature_method: method,
    realm: cfg.realm,
    hash_function(base, key) {
      const algorithm = method === 'HMAC-SHA1' ? 'sha1' : 'sha256';
      return crypto.createHmac(algorithm, key).update(base).digest('base64');
    },
  });
}

async function call(name, method, url, options = {}) {
  const oauth = signer(options.consumerSecret || cfg.consumer_secret, options.signatureMethod || 'HMAC-SHA256');
  if (options.timestamp) oauth.getTimeStamp = () => options.timestamp;
  const token = options.token || { key: cfg.token_id, secret: cfg.token_secret };
  let body;
  let contentType;
  if (options.form) {
    contentType = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString().replace(/\+/g, '%20');
  } else if (options.json) {
    contentType = 'application/json';
    body = JSON.stringify(options.json);
  }
  // authorize() merges the URL's query into the object it is given: give it a copy.
  const data = options.form ? { ...options.form } : undefined;
  const headers = oauth.toHeader(oauth.authorize({ url, method, data }, token));
  if (contentType) headers['Content-Type'] = contentType;
  const send = async () => {
    const response = await fetch(url, { method, headers, body });
    return { case: name, status: response.status, body: await response.text() };
  };
  if (options.twice) return [await send(), { ...(await send()), case: `${name}: second` }];
  return [await send()];
}

(async () => {
  const cases = [
    ['restlet GET with a query', 'GET', `${restlet}&q=a%20b%2F%C3%BC~`],
    ['restlet JSON POST', 'POST', restlet, { json: { a: 1, 'ü': 'x' } }],
    ['restlet form POST', 'POST', restlet, { form: { name: 'Jürgen', x: '1 2&3' } }],
    ['restlet PUT', 'PUT', restlet, { json: { b: 2 } }],
    ['restlet DELETE', 'DELETE', restlet],
    ['rest GET with a query', 'GET', `${rest}/customer/42?expand=true&q=%C3%BC`],
    ['rest JSON POST', 'POST', `${rest}/customer`, { json: { companyName: 'Acme' } }],
    ['rest form POST', 'POST', `${rest}/customer`, { form: { a: 'b c' } }],
    ['rest PUT', 'PUT', `${rest}/customer/42`, { json: { x: 1 } }],
    ['rest DELETE', 'DELETE', `${rest}/customer/42`],
    ['rest percent-encoded path', 'GET', `${rest}/customer/a%2Fb%20c`],
    ['rest unicode path', 'GET', `${rest}/customer/J%C3%BCrgen`],
    ['restlet unicode query', 'GET', `${restlet}&name=J%C3%BCrgen%20Stra%C3%9Fe`],
    ['wrong secret', 'GET', restlet, { consumerSecret: 'f'.repeat(64) }],
    ['replay', 'GET', restlet, { twice: true }],
    ['stale timestamp', 'GET', restlet, { timestamp: Math.floor(Date.now() / 1000) - 3600 }],
    ['HMAC-SHA1', 'GET', restlet, { signatureMethod: 'HMAC-SHA1' }],
    ['revoked token', 'GET', restlet, { token: { key: cfg.revoked_token_id, secret: cfg.revoked_token_secret } }],
    ['rest wrong secret', 'GET', `${rest}/customer/42`, { consumerSecret: 'f'.repeat(64) }],
  ];
  const results = [];
  for (const [name, method, url, options] of cases) {
    results.push(...(await call(name, method, url, options)));
  }
  console.log(JSON.stringify(results));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
