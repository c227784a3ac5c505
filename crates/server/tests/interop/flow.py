"""The three-step authorization flow with requests-oauthlib's OAuth1Session, as a Python
application connecting to NetSuite would run it; the consent is done in headless Chromium by
consent.js. Then a signed call with the token it got.

Usage: flow.py CONFIG_JSON. Prints one JSON object: what each step saw.
"""

import json
import subprocess
import sys

import requests
from requests_oauthlib import OAuth1, OAuth1Session

cfg = json.loads(sys.argv[1])
base = cfg["base"]
out = {}

session = OAuth1Session(
    cfg["consumer_key"],
    client_secret=cfg["consumer_secret"],
    callback_uri=cfg["callback"],
    signature_method="HMAC-SHA256",
)
request_token = session.fetch_request_token(base + "/rest/requesttoken")
out["request_token_fields"] = sorted(request_token)
authorization_url = session.authorization_url(
    base + "/app/login/secure/authorizetoken.nl", state="py" + "42"
)
browser = subprocess.run(
    ["node", cfg["consent_js"], json.dumps(cfg), authorization_url],
    capture_output=True,
    text=True,
)
if browser.returncode != 0:
    sys.exit("the consent in the browser failed:\n" + browser.stderr)
consented = browser.stdout.strip()
answer = session.parse_authorization_response(consented)
out["callback_fields"] = sorted(answer)
out["callback_state"] = answer.get("state")
out["callback_company"] = answer.get("company")
access = session.fetch_access_token(base + "/rest/accesstoken")
out["access_token_fields"] = sorted(access)

auth = OAuth1(
    cfg["consumer_key"],
    cfg["consumer_secret"],
    access["oauth_token"],
    access["oauth_token_secret"],
    realm=cfg["account"],
    signature_method="HMAC-SHA256",
)
reply = requests.get(
    base + "/app/site/hosting/restlet.nl", params={"script": "1", "deploy": "1"}, auth=auth
)
out["call_status"] = reply.status_code
out["call_token_name"] = reply.json().get("token", {}).get("name") if reply.ok else reply.text

# Once only: the same request token again is refused.
again = OAuth1Session(
    cfg["consumer_key"],
    client_secret=cfg["consumer_secret"],
    resource_owner_key=request_token["oauth_token"],
    resource_owner_secret=request_token["oauth_token_secret"],
    verifier=answer["oauth_verifier"],
    signature_method="HMAC-SHA256",
)
try:
    again.fetch_access_token(base + "/rest/accesstoken")
    out["second_exchange"] = "accepted"
except Exception as e:  # requests-oauthlib raises TokenRequestDenied
    out["second_exchange"] = getattr(getattr(e, "response", None), "status_code", str(e))

print(json.dumps(out))
