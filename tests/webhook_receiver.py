"""A real chat-webhook receiver on 127.0.0.1 for the alert tests: records each POST's path and
JSON body, and answers the status it is told to (200 unless set)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"null")
                receiver.requests.append({"path": self.path, "body": body})
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format, *args) -> None:
                pass  # the test reads self.requests; stderr stays quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        # The path stands for a Slack-style token: it must never appear in a log or a page.
        return f"http://127.0.0.1:{self.server.server_port}/services/T0SECRET/B0SECRET/tok3nXyZ"

    def texts(self) -> list[str]:
        return [request["body"]["text"] for request in self.requests]

    def __enter__(self) -> "WebhookReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
