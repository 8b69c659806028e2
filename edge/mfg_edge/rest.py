"""The local REST endpoint (standard library ``ThreadingHTTPServer``), 127.0.0.1 by default.

    POST /v1/facts/<contract code>        a JSON object with message_id → 202 {"spooled": id}
                                          (200 with the same id when that message is still spooled)
    GET  /v1/lots/<lot>/hold[?product=P]  is the lot on hold? from the cache, with its age
    GET  /v1/work-orders/<ref>/materials/<code>   is the material part of the released work order?
    GET  /v1/status                       the heartbeat's content

Optional bearer token (``rest.token``) for every request. Errors are JSON ``{"error", "field",
"value"}``: 400 malformed, 401 no/wrong token, 404 unknown path, 411 no length, 413 too large,
415 not JSON, 422 not a fact, 503 spool full (``Retry-After``).
"""

import hmac
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from .spool import SpoolFull
from .validate import Invalid, check_contract, parse_fact

_logger = logging.getLogger(__name__)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mfg-edge"

    def setup(self):
        super().setup()
        # headers and body are two writes: without this, Nagle + the client's delayed ACK hold
        # each answer ~40 ms (a plant system posting one fact at a time gets ~25/s)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # access log at debug level only
        _logger.debug("%s " + fmt, self.address_string(), *args)

    @property
    def agent(self):
        return self.server.agent

    def _send(self, status, body, headers=()):
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self):
        token = self.agent.config.rest.token
        if not token:
            return True
        given = self.headers.get("Authorization", "")
        if given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode()):
            return True
        self._send(401, {"error": "a valid bearer token is required", "field": "Authorization", "value": None},
                   [("WWW-Authenticate", 'Bearer realm="mfg-edge"')])  # fmt: skip
        return False

    def _parts(self):
        url = urlsplit(self.path)
        return [unquote(p) for p in url.path.strip("/").split("/")], parse_qs(url.query)

    def do_POST(self):
        counts = self.agent.counts["rest"]
        length = self.headers.get("Content-Length")
        parts, _query = self._parts()
        try:
            if length is None or not length.isdigit():
                self.close_connection = True
                raise Invalid(411, "Content-Length", length, "Content-Length: required (a number of bytes)")
            length = int(length)
            limit = self.agent.config.rest.max_body_bytes
            if length > limit:
                self.close_connection = True  # the body is not read
                raise Invalid(
                    413, "body", length, f"body: {length} bytes, more than {limit} (max_body_bytes)"
                )
            raw = self.rfile.read(length)
            if not self._authorised():
                return
            if len(parts) != 3 or parts[:2] != ["v1", "facts"]:
                raise Invalid(
                    404, "path", self.path, f"path: {self.path!r} is not POST /v1/facts/<contract code>"
                )
            contract = check_contract(parts[2])
            ctype = self.headers.get("Content-Type", "application/json").split(";")[0].strip().lower()
            if ctype != "application/json":
                raise Invalid(415, "Content-Type", ctype, f"Content-Type: {ctype!r} is not application/json")
            fact = parse_fact(raw, limit, self.agent.config.rest.max_depth)
        except Invalid as e:
            counts["rejected"] += 1
            self._send(e.status, e.body())
            return
        topic = f"{self.agent.config.topic_root}/{contract}"
        try:
            row_id, duplicate = self.agent.spool.put(topic, raw, message_id=fact["message_id"])
        except SpoolFull as e:
            counts["refused_full"] += 1
            self._send(503, {"error": str(e), "field": "spool", "value": self.agent.spool.depth},
                       [("Retry-After", "5")])  # fmt: skip
            return
        if duplicate:
            counts["duplicates"] += 1
            self._send(200, {"spooled": row_id, "duplicate": True})
        else:
            counts["accepted"] += 1
            self._send(202, {"spooled": row_id})

    def do_GET(self):
        if not self._authorised():
            return
        parts, query = self._parts()
        agent = self.agent
        if parts == ["v1", "status"]:
            self._send(200, agent.status())
        elif len(parts) == 4 and parts[:2] == ["v1", "lots"] and parts[3] == "hold" and parts[2]:
            product = (query.get("product") or [None])[0]
            self._send(200, agent.answer(agent.cache.lot_hold(parts[2], product)))
        elif (
            len(parts) == 5
            and parts[:2] == ["v1", "work-orders"]
            and parts[3] == "materials"
            and parts[2]
            and parts[4]
        ):
            self._send(200, agent.answer(agent.cache.work_order_material(parts[2], parts[4])))
        else:
            self._send(
                404, {"error": f"path: {self.path!r} is not known", "field": "path", "value": self.path}
            )


class RestServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, agent):
        self.agent = agent
        super().__init__((agent.config.rest.bind, agent.config.rest.port), Handler)

    def start(self):
        threading.Thread(target=self.serve_forever, name="rest", daemon=True).start()
        return self

    @property
    def port(self):
        return self.server_address[1]

    def stop(self):
        self.shutdown()
        self.server_close()
