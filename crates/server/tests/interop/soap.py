"""Python's zeep against Tessera's SOAP endpoint, as a NetSuite SuiteTalk integrator would call
it: the client built from the WSDL, getServerTime with a TokenPassport header (signed as
NetSuite documents: HMAC-SHA256 over account&consumerKey&token&nonce&timestamp), then
getDataCenterUrls, then the same passport again (a replay, which must fault).

Usage: soap.py CONFIG_JSON. Prints one JSON object.
"""

import base64
import hashlib
import hmac
import json
import secrets
import string
import sys
import time

import zeep
from zeep.exceptions import Fault

cfg = json.loads(sys.argv[1])
client = zeep.Client(cfg["wsdl"])
core = "{urn:core_2024_2.platform.webservices.netsuite.com}"
Passport = client.get_type(core + "TokenPassport")
Signature = client.get_type(core + "TokenPassportSignature")


def passport():
    nonce = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(20))
    timestamp = str(int(time.time()))
    base = "&".join([cfg["account"], cfg["consumer_key"], cfg["token_id"], nonce, timestamp])
    key = cfg["consumer_secret"] + "&" + cfg["token_secret"]
    digest = hmac.new(key.encode(), base.encode(), hashlib.sha256).digest()
    return Passport(
        account=cfg["account"],
        consumerKey=cfg["consumer_key"],
        token=cfg["token_id"],
        nonce=nonce,
        timestamp=timestamp,
        signature=Signature(base64.b64encode(digest).decode(), algorithm="HMAC-SHA256"),
    )


out = {}
first = passport()
result = client.service.getServerTime(_soapheaders={"tokenPassport": first})
out["status"] = result.status.isSuccess
out["server_time"] = result.serverTime.isoformat()
urls = client.service.getDataCenterUrls(account=cfg["account"], _soapheaders={"tokenPassport": passport()})
out["data_center_rest_domain"] = urls.dataCenterUrls.restDomain
try:
    client.service.getServerTime(_soapheaders={"tokenPassport": first})
    out["replay"] = "accepted"
except Fault as fault:
    out["replay"] = fault.message
print(json.dumps(out))
