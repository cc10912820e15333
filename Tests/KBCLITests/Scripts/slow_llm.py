"""A slow OpenAI-compatible chat server for the cancellation test: streams one word every 0.1 s for a minute.
Prints `port N`, then `streaming` once five words are out, then `disconnected after N words` when kb closes the
connection (or `finished` if nobody does)."""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for n in range(1, 601):
            event = {"choices": [{"index": 0, "delta": {"content": "word "}}]}
            try:
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                print(f"disconnected after {n} words", flush=True)
                return
            if n == 5:
                print("streaming", flush=True)
            time.sleep(0.1)
        print("finished", flush=True)
        self.close_connection = True


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"port {server.server_address[1]}", flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    sys.exit(0)
