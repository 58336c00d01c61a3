"""A stand-in for systemd's notify socket, for tests (Node cannot open unix datagram sockets).

Usage: python3 fake-notify-socket.py SOCKET_PATH [--hold-barrier-after ASSIGNMENT]

Binds a unix datagram socket at SOCKET_PATH, prints `listening`, then one JSON line per datagram:
{"pid": <sender pid from SCM_CREDENTIALS>, "assignments": ["READY=1", ...], "fds": <fds passed>}.
Like systemd, it closes file descriptors passed with a message (that is what ends a
`BARRIER=1` wait). With --hold-barrier-after (e.g. STOPPING=1) it keeps them open once that
assignment has arrived: a manager that stops answering.
"""
import array
import json
import os
import socket
import struct
import sys

path = sys.argv[1]
hold_after = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--hold-barrier-after" else None
hold = False
try:
    os.unlink(path)
except FileNotFoundError:
    pass
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print("listening", flush=True)
held = []
while True:
    data, ancillary, _flags, _addr = sock.recvmsg(65536, socket.CMSG_SPACE(64 * 4) + socket.CMSG_SPACE(12))
    fds = []
    pid = None
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            a = array.array("i")
            a.frombytes(payload[: len(payload) - len(payload) % a.itemsize])
            fds.extend(a)
        elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", payload[:12])[0]
    assignments = [l for l in data.decode("utf-8", "replace").split("\n") if l]
    print(json.dumps({"pid": pid, "assignments": assignments, "fds": len(fds)}), flush=True)
    if hold_after in assignments:
        hold = True
    if hold:
        held.extend(fds)
    else:
        for fd in fds:
            os.close(fd)
