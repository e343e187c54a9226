# Load for the `vnfsync lab --vyos 1000` RSS figure in BENCHMARKS.md: one 20-rule firewall
# commit and one showConfig per appliance, over the HTTP API. Usage: lab_load.py JSON_LINES_FILE
import json, sys, http.client, urllib.parse
lines = [json.loads(l) for l in open(sys.argv[1])]
for a in lines:
    u = urllib.parse.urlparse(a["api"])
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    body = json.dumps({"key": a["api_key"], "commands": [
        {"op": "set", "path": ["firewall", "ipv4", "name", "WAN-IN", "rule", str(r), "action"], "value": "accept"} for r in range(1, 21)]})
    c.request("POST", "/configure", body, {"Content-Type": "application/json"})
    r = c.getresponse(); d = r.read()
    assert r.status == 200, d
    c.request("POST", "/retrieve", json.dumps({"key": a["api_key"], "op": "showConfig", "path": []}), {"Content-Type": "application/json"})
    r = c.getresponse(); r.read(); assert r.status == 200
    c.close()
print("ok", len(lines))
