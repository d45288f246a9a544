"""A container health check: exit 0 when ``PATH`` on this container's server answers 200.

    healthcheck.py /healthz | /readyz [PORT]     (PORT: default $PORT, else 8000)

The request names a host from ALLOWED_HOSTS (Django refuses any other) and says it came
over HTTPS as a proxy would (X-Forwarded-Proto), so SECURE_SSL_REDIRECT does not answer
it with a redirect. Standard library only: it runs every few seconds.
"""

from __future__ import annotations

import http.client
import os
import sys


def probe_host(allowed_hosts: str) -> str:
    """A name Django accepts: the first entry of ALLOWED_HOSTS that is one host name
    (``.example.com`` means example.com and its subdomains; ``*`` any name)."""
    for entry in (h.strip() for h in allowed_hosts.split(",")):
        if entry and entry != "*":
            return entry.lstrip(".")
    return "localhost"


def main(argv: list[str]) -> int:
    path = argv[0] if argv else "/healthz"
    port = int(argv[1] if len(argv) > 1 else os.environ.get("PORT", "8000"))
    host = probe_host(os.environ.get("ALLOWED_HOSTS", "localhost"))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=4)
    try:
        connection.request("GET", path, headers={"Host": host, "X-Forwarded-Proto": "https"})
        response = connection.getresponse()
        body = response.read(2000).decode("utf-8", "replace")
    except OSError as exc:
        print(f"{path}: {exc}")
        return 1
    finally:
        connection.close()
    print(f"{path}: {response.status} {body}")
    return 0 if response.status == 200 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
