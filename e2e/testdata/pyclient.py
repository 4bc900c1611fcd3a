"""A cookie-keeping HTTP client for clients_test.go, on Python's standard
library only: urllib.request with an http.cookiejar.CookieJar, as scripts
and many tools use it.

It reads one JSON command a line from stdin and answers each with one JSON
line on stdout, so that one process, and so one jar, lives through a whole
flow:

  {"op": "request", "method": "GET", "url": "http://..."}
      -> {"status": 200, "body": "..."}
  {"op": "save", "name": "x"}     keeps a copy of the jar's cookies
  {"op": "restore", "name": "x"}  replaces the jar's cookies with the copy
      -> {}
Failures answer {"error": "..."}.
"""

import copy
import http.cookiejar
import json
import sys
import urllib.error
import urllib.request


def main():
    jar = http.cookiejar.CookieJar()
    # No proxy: the environment's must not see, or break, loopback requests.
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPCookieProcessor(jar),
    )
    saved = {}
    for line in sys.stdin:
        try:
            cmd = json.loads(line)
            op = cmd["op"]
            if op == "request":
                data = b"" if cmd["method"] == "POST" else None
                req = urllib.request.Request(cmd["url"], data=data, method=cmd["method"])
                try:
                    with opener.open(req, timeout=15) as resp:
                        status, body = resp.status, resp.read()
                except urllib.error.HTTPError as err:
                    # The cookie processor has run by then: a 500 is an
                    # answer, not a failure of the client.
                    status, body = err.code, err.read()
                out = {"status": status, "body": body.decode("utf-8", "replace")}
            elif op == "save":
                saved[cmd["name"]] = [copy.copy(c) for c in jar]
                out = {}
            elif op == "restore":
                jar.clear()
                for c in saved[cmd["name"]]:
                    jar.set_cookie(copy.copy(c))
                out = {}
            else:
                out = {"error": "unknown op %r" % op}
        except Exception as err:  # reported to the test, which fails
            out = {"error": "%s: %s" % (type(err).__name__, err)}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
