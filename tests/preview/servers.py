"""More apps for preview tests (tests.preview.apps has the to-do page): one that says
what it received, and a WebSocket endpoint. No package to install for either."""

# Answers every request with what it received, as JSON, on HTTP/1.1 keep-alive (as most
# dev servers do): method, path, headers, the body's length; /slow first sleeps 5 s.
ECHO_APP = """\
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.echo(b"")

    def do_POST(self):
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            body = self.chunked()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.echo(body)

    def chunked(self):
        body = b""
        while True:
            size = int(self.rfile.readline().strip(), 16)
            body += self.rfile.read(size)
            self.rfile.readline()
            if size == 0:
                return body

    def echo(self, body):
        if self.path == "/slow":
            time.sleep(5)
        seen = {"method": self.command, "path": self.path, "headers": self.headers.items(),
                "body": len(body), "peer": self.client_address[1]}
        data = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-App", "echo")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""

# A WebSocket endpoint with Node's own modules (no package to install), as a dev server's
# hot reload has one: on upgrade it says what it saw (path, cookies, subprotocol), then
# echoes text ("echo: …") and bytes; the text "bye" makes it close with code 4000.
WEBSOCKET_APP = r"""
const http = require("http");
const crypto = require("crypto");
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

function frame(opcode, payload) {
  let head;
  if (payload.length < 126) head = Buffer.from([0x80 | opcode, payload.length]);
  else if (payload.length < 65536) {
    head = Buffer.alloc(4); head[0] = 0x80 | opcode; head[1] = 126;
    head.writeUInt16BE(payload.length, 2);
  } else {
    head = Buffer.alloc(10); head[0] = 0x80 | opcode; head[1] = 127;
    head.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  return Buffer.concat([head, payload]);
}

const server = http.createServer((req, res) => res.end("a page"));
server.on("upgrade", (req, socket) => {
  const accept = crypto.createHash("sha1").update(req.headers["sec-websocket-key"] + GUID)
    .digest("base64");
  const protocol = (req.headers["sec-websocket-protocol"] || "").split(",")[0].trim();
  socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
    "Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n" +
    (protocol ? "Sec-WebSocket-Protocol: " + protocol + "\r\n" : "") + "\r\n");
  const seen = {path: req.url, cookie: req.headers.cookie || "", protocol: protocol,
                agent: req.headers["user-agent"], origin: req.headers.origin};
  socket.write(frame(1, Buffer.from(JSON.stringify(seen))));
  let buffer = Buffer.alloc(0);
  socket.on("data", (data) => {
    buffer = Buffer.concat([buffer, data]);
    while (buffer.length >= 2) {
      const opcode = buffer[0] & 0x0f;
      let length = buffer[1] & 0x7f, offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2); offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2)); offset = 10;
      }
      const mask = offset;
      if (buffer[1] & 0x80) offset += 4;
      if (buffer.length < offset + length) return;
      const payload = Buffer.from(buffer.subarray(offset, offset + length));
      if (buffer[1] & 0x80) for (let i = 0; i < length; i++) payload[i] ^= buffer[mask + (i % 4)];
      buffer = buffer.subarray(offset + length);
      if (opcode === 8) {
        socket.end(frame(8, payload.subarray(0, 2)));
        console.log("closed by client");
        return;
      }
      if (opcode === 9) { socket.write(frame(10, payload)); continue; }
      if (opcode === 1 && payload.toString() === "bye") {
        socket.end(frame(8, Buffer.from([0x0f, 0xa0])));
        return;
      }
      socket.write(frame(opcode, opcode === 1 ? Buffer.from("echo: " + payload) : payload));
    }
  });
});
const port = Number(process.env.PORT);
server.listen(port, "127.0.0.1", () => console.log("listening on", port));
"""

# An answer without end on /endless, written as fast as the way to the visitor takes it;
# /written says how many bytes it has written so far.
ENDLESS_APP = """\
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WRITTEN = [0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/written":
            body = str(WRITTEN[0]).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        self.close_connection = True
        chunk = b"x" * 65536
        while True:
            self.wfile.write(chunk)
            WRITTEN[0] += len(chunk)

    def log_message(self, fmt, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""
