"""Screenshots of the running demo (setup/run) with headless Chromium, for the README and for
looking at the screens: python setup/screenshots.py [--url http://localhost:8069] [--db mfg_demo]
[--out docs/screens] [--only NAME ...]

Logs in as admin over JSON-RPC, gives the session cookie to Chromium through the DevTools
protocol, opens each screen and saves a PNG. Needs Debian's chromium and websocket-client.
"""

import argparse
import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import websocket

SCREENS = {
    "dashboard": "/odoo/action-mfg_integration_base.action_mfg_dashboard",
    "messages": "/odoo/action-mfg_integration_base.action_mfg_message",
    "message_form": "/odoo/action-mfg_integration_base.action_mfg_message/{message_id}",
    "backend_form": "/odoo/action-mfg_integration_base.action_mfg_backend/{backend_id}",
    "exchange_types": "/odoo/action-mfg_integration_base.action_mfg_exchange_type",
    "incidents": "/odoo/action-mfg_integration_base.action_mfg_incident",
    "incident_form": "/odoo/action-mfg_integration_base.action_mfg_incident/{incident_id}",
    "alerts": "/odoo/action-mfg_integration_base.action_mfg_backend_alert",
    "flatfile_batches": "/odoo/action-mfg_legacy_flatfile.action_mfg_flatfile_batch",
}
# Screens reached by clicking on a record (path, CSS selectors clicked one after the other), with
# mfg_traceability and its demo genealogy (setup/demo_plant.py): the thread of the finished lot
# DEMO-P-1, what it was made from, and what the steel lot DEMO-ST-1 went into.
TRACE_SCREENS = {
    "lot_thread": (
        "/odoo/action-stock.action_production_lot_form/{finished_lot_id}",
        ["button[name='action_mfg_traceability']"],
    ),
    "lot_genealogy_made_from": ("/odoo/mfg.genealogy/{finished_genealogy_id}", []),
    "lot_genealogy_went_into": (
        "/odoo/mfg.genealogy/{raw_genealogy_id}",
        [".o_notebook .nav-link[name='downstream']"],
    ),
}


def login(url, db, user, password):
    body = json.dumps({"jsonrpc": "2.0", "params": {"db": db, "login": user, "password": password}}).encode()
    req = urllib.request.Request(
        f"{url}/web/session/authenticate", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        cookie = resp.headers.get("Set-Cookie", "")
        result = json.loads(resp.read())
    if result.get("error"):
        raise SystemExit(f"login failed: {result['error']}")
    return cookie.split("session_id=", 1)[1].split(";", 1)[0]


def rpc(url, session, model, method, args, kwargs=None):
    body = json.dumps(
        {"jsonrpc": "2.0", "params": {"model": model, "method": method, "args": args, "kwargs": kwargs or {}}}
    ).encode()
    req = urllib.request.Request(
        f"{url}/web/dataset/call_kw",
        body,
        {"Content-Type": "application/json", "Cookie": f"session_id={session}"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())["result"]


class Chrome:
    def __init__(self, width=1400, height=900):
        self.profile = tempfile.mkdtemp(prefix="mfg-chrome-")
        self.port = 9333
        self.proc = subprocess.Popen(
            [
                shutil.which("chromium") or "/usr/bin/chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={self.profile}",
                f"--remote-debugging-port={self.port}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json", timeout=1) as resp:
                    tabs = [t for t in json.loads(resp.read()) if t["type"] == "page"]
                    if tabs:
                        self.ws = websocket.create_connection(tabs[0]["webSocketDebuggerUrl"], timeout=30)
                        break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("chromium did not start")
        self.msg_id = 0
        self.call("Page.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def call(self, method, **params):
        self.msg_id += 1
        self.ws.send(json.dumps({"id": self.msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.msg_id:
                return msg.get("result", {})

    def wait_for(self, selector, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.call("Runtime.evaluate", expression=f"!!document.querySelector({selector!r})")
            if found.get("result", {}).get("value"):
                return True
            time.sleep(0.25)
        return False

    def shot(self, url, path, wait=4.0, selector=".o_action_manager .o_view_controller", clicks=()):
        self.call("Page.navigate", url=url)
        self.wait_for(selector)  # wait for the view, then let it settle
        time.sleep(wait)
        for click in clicks:
            if not self.wait_for(click):
                raise SystemExit(f"{url}: nothing to click at {click}")
            self.call("Runtime.evaluate", expression=f"document.querySelector({click!r}).click()")
            time.sleep(wait)
        data = self.call("Page.captureScreenshot", format="png")["data"]
        Path(path).write_bytes(base64.b64decode(data))

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://localhost:8069")
    parser.add_argument("--db", default="mfg_demo")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "docs" / "screens"))
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these screens (e.g. lot_thread)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    session = login(args.url, args.db, "admin", "admin")
    ids = {
        "message_id": (
            rpc(args.url, session, "mfg.message", "search", [[["state", "=", "failed"]]], {"limit": 1})
            or rpc(args.url, session, "mfg.message", "search", [[["state", "=", "rejected"]]], {"limit": 1})
            or rpc(args.url, session, "mfg.message", "search", [[]], {"limit": 1})
            or [0]
        )[0],
        "backend_id": (rpc(args.url, session, "mfg.backend", "search", [[]], {"limit": 1}) or [0])[0],
        "incident_id": (rpc(args.url, session, "mfg.incident", "search", [[]], {"limit": 1}) or [0])[0],
    }
    screens = {name: (path, []) for name, path in SCREENS.items()}
    lots = {
        name: rpc(args.url, session, "stock.lot", "search", [[["name", "=", name]]], {"limit": 1})
        for name in ("DEMO-P-1", "DEMO-ST-1")
    }
    if all(lots.values()):
        ids["finished_lot_id"], ids["raw_lot_id"] = lots["DEMO-P-1"][0], lots["DEMO-ST-1"][0]
        for key, lot_id in (
            ("finished_genealogy_id", ids["finished_lot_id"]),
            ("raw_genealogy_id", ids["raw_lot_id"]),
        ):
            ids[key] = rpc(args.url, session, "stock.lot", "action_mfg_genealogy", [[lot_id]])["res_id"]
        screens.update(TRACE_SCREENS)
    if args.only:
        unknown = set(args.only) - set(screens)
        if unknown:
            raise SystemExit(
                f"--only: no screen named {', '.join(sorted(unknown))} (screens: {', '.join(screens)})"
            )
        screens = {name: screens[name] for name in args.only}
    chrome = Chrome()
    try:
        host = args.url.split("//", 1)[1].split(":")[0]
        chrome.call("Network.enable")
        chrome.call("Network.setCookie", name="session_id", value=session, domain=host, path="/")
        for name, (path, clicks) in screens.items():
            target = out / f"{name}.png"
            chrome.shot(args.url + path.format(**ids), target, clicks=clicks)
            print(target)
    finally:
        chrome.close()


if __name__ == "__main__":
    main()
