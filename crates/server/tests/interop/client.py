"""Drives a Tessera server with requests-oauthlib, as a NetSuite integrator's Python would.

Usage: client.py CONFIG_JSON. Prints one JSON list: every case's name, status and body.
"""

import json
import sys
import time

import requests
from requests_oauthlib import OAuth1

cfg = json.loads(sys.argv[1])
base = cfg["base"]
restlet = base + "/app/site/hosting/restlet.nl"
rest = base + "/services/rest/record/v1"
results = []


def auth(consumer_secret=None, token=None, **kwargs):
    token_id, token_secret = token or (cfg["token_id"], cfg["token_secret"])
    kwargs.setdefault("signature_method", "HMAC-SHA256")
    return OAuth1(
        cfg["consumer_key"],
        consumer_secret or cfg["consumer_secret"],
        token_id,
        token_secret,
        realm=cfg["realm"],
        **kwargs,
    )


def record(case, response):
    results.append({"case": case, "status": response.status_code, "body": response.text})


q = {"script": "7", "deploy": "1"}
record("restlet GET with a query", requests.get(restlet, params={**q, "q": "a b/ü~"}, auth=auth()))
record("restlet JSON POST", requests.post(restlet, params=q, json={"a": 1, "ü": "x"}, auth=auth()))
record("restlet form POST", requests.post(restlet, params=q, data={"name": "Jürgen", "x": "1 2&3"}, auth=auth()))
record("restlet PUT", requests.put(restlet, params=q, json={"b": 2}, auth=auth()))
record("restlet DELETE", requests.delete(restlet, params=q, auth=auth()))
record("rest GET with a query", requests.get(rest + "/customer/42", params={"expand": "true", "q": "ü"}, auth=auth()))
record("rest JSON POST", requests.post(rest + "/customer", json={"companyName": "Acme"}, auth=auth()))
record("rest form POST", requests.post(rest + "/customer", data={"a": "b c"}, auth=auth()))
record("rest PUT", requests.put(rest + "/customer/42", json={"x": 1}, auth=auth()))
record("rest DELETE", requests.delete(rest + "/customer/42", auth=auth()))
record("rest percent-encoded path", requests.get(rest + "/customer/a%2Fb%20c", auth=auth()))
record("rest unicode path", requests.get(rest + "/customer/Jürgen", auth=auth()))
record("restlet unicode query", requests.get(restlet, params={**q, "name": "Jürgen Straße"}, auth=auth()))

record("wrong secret", requests.get(restlet, params=q, auth=auth(consumer_secret="f" * 64)))
prepared = requests.Request("GET", restlet, params=q, auth=auth()).prepare()
session = requests.Session()
record("replay", session.send(prepared))
record("replay: second", session.send(prepared))
stale = str(int(time.time()) - 3600)
record("stale timestamp", requests.get(restlet, params=q, auth=auth(timestamp=stale)))
record("HMAC-SHA1", requests.get(restlet, params=q, auth=auth(signature_method="HMAC-SHA1")))
revoked = (cfg["revoked_token_id"], cfg["revoked_token_secret"])
record("revoked token", requests.get(restlet, params=q, auth=auth(token=revoked)))
record("rest wrong secret", requests.get(rest + "/customer/42", auth=auth(consumer_secret="f" * 64)))

print(json.dumps(results))
