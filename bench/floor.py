"""The floor: the smallest WSGI app the same server can serve, answering a fixed ~1 KB
JSON body. Every scenario is reported as a ratio to it, measured in the same run."""

import json

BODY = json.dumps(
    {
        "status": {"success": True, "description": "ok"},
        "result": [
            {"entityId": f"{n:022d}", "name": "floor", "padding": "x" * 40} for n in range(12)
        ],
    }
).encode()
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
