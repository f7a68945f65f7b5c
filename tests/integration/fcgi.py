"""A minimal FastCGI client (the responder role), to talk to a worker without a front end."""

import socket
import struct

BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 3, 4, 5, 6, 7
RESPONDER = 1


def record(kind, content, request_id=1):
    out = b""
    for start in range(0, max(len(content), 1), 65535):
        chunk = content[start:start + 65535]
        padding = (8 - len(chunk) % 8) % 8
        out += struct.pack("!BBHHBx", 1, kind, request_id, len(chunk), padding) + chunk + b"\0" * padding
        if not content:
            break
    return out


def encode_params(params):
    out = b""
    for name, value in params.items():
        name, value = name.encode(), value.encode()
        for item in (name, value):
            out += struct.pack("!B", len(item)) if len(item) < 128 else struct.pack("!I", len(item) | 0x80000000)
        out += name + value
    return out


class Request:
    """One request on its own connection: begin(), send_body() in pieces, then response()."""

    def __init__(self, address, method, path, query="", body=b"", content_type="", headers=None):
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(address)
        params = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
                  "CONTENT_LENGTH": str(len(body)) if body else "", "CONTENT_TYPE": content_type,
                  "SCRIPT_NAME": "/api", "SERVER_PROTOCOL": "HTTP/1.1"}
        params.update(headers or {})
        self.sock.sendall(record(BEGIN_REQUEST, struct.pack("!HB5x", RESPONDER, 0)) +
                          record(PARAMS, encode_params(params)) + record(PARAMS, b""))

    def send_body(self, piece):
        self.sock.sendall(record(STDIN, piece))

    def response(self, close=True):
        """(status, headers, body) once the worker ends the request; close=False keeps this
        end of the connection open (the caller closes self.sock)."""
        self.sock.sendall(record(STDIN, b""))
        data, stdout = b"", b""
        while True:
            while len(data) < 8:
                more = self.sock.recv(65536)
                if not more:
                    raise ConnectionError("connection closed before the end of the request")
                data += more
            _, kind, _, length, padding = struct.unpack("!BBHHBx", data[:8])
            while len(data) < 8 + length + padding:
                more = self.sock.recv(65536)
                if not more:
                    raise ConnectionError("connection closed inside a record")
                data += more
            content, data = data[8:8 + length], data[8 + length + padding:]
            if kind == STDOUT:
                stdout += content
            elif kind == END_REQUEST:
                break
        if close:
            self.sock.close()
        head, _, body = stdout.partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n") if ": " in line)
        status = int(headers.get("Status", "200").split()[0])
        return status, headers, body


def call(address, method, path, **kwargs):
    body = kwargs.pop("body", b"")
    request = Request(address, method, path, body=body, **kwargs)
    if body:
        request.send_body(body)
    return request.response()
