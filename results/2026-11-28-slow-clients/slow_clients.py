#!/usr/bin/env python3
"""Opens N connections that send half a request header, then counts how many the server closed."""
import socket, time, sys, urllib.request, urllib.error


def health(port):
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError as e:
        return f"no answer ({e})"


port = int(sys.argv[1]); n = int(sys.argv[2]); wait = float(sys.argv[3])
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /api HTTP/1.1\r\nHost: x\r\nContent-")
    socks.append(s)
t = time.time()
h = health(port)
print(f"opened {n} half-header connections; /healthz meanwhile: {h}")
time.sleep(wait)
closed = 0; busy = 0
for s in socks:
    s.setblocking(False)
    try:
        d = s.recv(4096)
        if d.startswith(b"HTTP/1.1 503"): busy += 1
        closed += 1
    except BlockingIOError:
        pass
    except ConnectionResetError:
        closed += 1
print(f"after {wait}s: {closed} of {n} closed by the server ({busy} answered 503 first)")
h = health(port)
print(f"/healthz afterwards: {h}")
