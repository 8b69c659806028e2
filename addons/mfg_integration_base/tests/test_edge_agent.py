"""Edge agents' status: the listener's edge_status claim (transports/mqtt/edge_status.py) fed
directly with what an agent publishes on <root>/edge/<agent>/status, the mfg.edge.agent records
it writes, the alerts through the backend's alert mechanism, the screens' access rights."""

import json
import time
from datetime import UTC, datetime, timedelta

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from ..transports.mqtt import edge_status
from ..transports.mqtt.claims import Services
from .common import MfgPipelineCase


def rfc(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@tagged("post_install", "-at_install")
class TestEdgeAgentStatus(MfgPipelineCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls.env["mfg.backend"].create(
            {
                "name": "Plant 7 MES",
                "code": "p7-mes",
                "plant_code": "P7",
                "system_kind": "mes",
                "mqtt_enabled": True,
            }
        )
        cls.topic = "mfg/P7/mes/edge/edge-1/status"

    def setUp(self):
        super().setUp()
        settings = self.backend._mfg_mqtt_settings()
        self.assertEqual(settings["claims"]["edge_status"], "mfg/P7/mes")
        self.claim = edge_status.EdgeStatusClaim(
            self.backend.id, settings["claims"]["edge_status"], Services(in_db=lambda fn: fn(self.env))
        )
        self.assertEqual(self.claim.filters(), ["mfg/P7/mes/edge/+/status"])

    def _status(self, sent_ago=0, **over):
        now = datetime.now(UTC)
        data = {
            "agent": "edge-1",
            "version": "1.0.0",
            "online": True,
            "started_at": rfc(now - timedelta(hours=1)),
            "sent_at": rfc(now - timedelta(seconds=sent_ago)),
            "link": "up",
            "spool": {"depth": 0, "oldest_at": None},
            "cache": {"entries": 12, "newest_at": rfc(now - timedelta(minutes=5)), "age_seconds": 300.5},
            "sources": {"folder": {"files": 3}, "rest": {"posts": 0}},
        }
        data.update(over)
        return json.dumps(data).encode()

    def _feed(self, payload, received_ago=0, retained=False, topic=None):
        return self.claim.handle(topic or self.topic, payload, time.time() - received_ago, retained)

    def _agent(self):
        return (
            self.env["mfg.edge.agent"]
            .with_context(active_test=False)
            .search([("backend_id", "=", self.backend.id), ("name", "=", "edge-1")])
        )

    def test_status_then_will(self):
        self.assertTrue(self._feed(self._status(spool={"depth": 42, "oldest_at": "2026-03-01T08:00:00Z"})))
        agent = self._agent()
        self.assertEqual(
            (agent.version, agent.online, agent.state, agent.link, agent.spool_depth, agent.cache_entries),
            ("1.0.0", True, "online", "up", 42, 12),
        )
        self.assertEqual(agent.spool_oldest_at, datetime(2026, 3, 1, 8, 0))
        self.assertEqual(agent.cache_age_seconds, 300.5)
        self.assertEqual(json.loads(agent.sources)["folder"], {"files": 3})
        self.assertEqual(self.backend.edge_agent_count, 1)
        seen = agent.last_seen
        self._feed(json.dumps({"agent": "edge-1", "online": False}).encode())
        self.assertEqual((agent.online, agent.state, agent.last_seen), (False, "offline", seen))
        self.assertEqual(agent.status_count, 2)

    def test_a_retained_replay_is_seen_when_sent_and_an_older_status_changes_nothing(self):
        self._feed(self._status(sent_ago=3600), retained=True)
        agent = self._agent()
        self.assertLess(agent.last_seen, datetime.now() - timedelta(minutes=59))
        self.assertEqual(agent.state, "silent")
        self._feed(self._status(sent_ago=5, link="down"))
        self.assertEqual((agent.state, agent.link), ("online", "down"))
        self._feed(self._status(sent_ago=600, link="up"), retained=True)  # older than the one stored
        self.assertEqual(agent.link, "down")

    def test_bad_statuses_are_refused_counted_and_named(self):
        cases = [
            (b"not json", "not JSON"),
            (b"[1, 2]", "must be a JSON object"),
            (self._status(agent="edge-2"), "Field 'agent': 'edge-2' must be the agent of the topic"),
            (self._status(online="yes"), "Field 'online': 'yes' must be true or false"),
            (self._status(link="sideways"), "Field 'link': 'sideways' must be one of up, down, unknown"),
            (self._status(spool={"depth": -1}), "Field 'spool/depth': -1 must be a whole number"),
            (self._status(spool={"depth": True}), "Field 'spool/depth': True"),
            (self._status(cache={"entries": 1, "age_seconds": "old"}), "Field 'cache/age_seconds'"),
            (self._status(sent_at="yesterday"), "'sent_at'"),
            (self._status(version=""), "Field 'version'"),
            (b'{"agent": "edge-1", "online": true, "x": NaN}', "not a finite number"),
            (json.dumps({"agent": "edge-1", "online": True, "a": [[[[[[[[[[1]]]]]]]]]]}).encode(), "deeper"),
            (b"{" + b" " * edge_status.MAX_BYTES + b"}", "more than"),
        ]
        with mute_logger(edge_status.__name__):
            for payload, expected in cases:
                self.assertIsNone(self._feed(payload), expected)
                self.assertIn(expected, self._agent().last_error, payload[:60])
            # a topic that names no valid agent id: logged and counted, no record
            self.assertIsNone(self._feed(self._status(), topic="mfg/P7/mes/edge/../status"))
        agent = self._agent()
        self.assertEqual((agent.error_count, agent.status_count, agent.online), (len(cases), 0, False))
        self.assertEqual(self.claim.stats, {"statuses": 0, "refused": len(cases) + 1, "failed": 0})
        # the claim goes on: the next good status is stored
        self.assertTrue(self._feed(self._status()))
        self.assertTrue(agent.online)

    def test_alerts_raised_and_cleared_with_the_backend_alerts(self):
        def kinds():
            self.backend._mfg_monitor()
            return sorted(
                self.backend.alert_ids.filtered(lambda a: a.res_model == "mfg.edge.agent").mapped("kind")
            )

        self._feed(self._status(sent_ago=600), received_ago=600)  # heard from 10 minutes ago
        self.assertEqual(kinds(), ["edge_silent"])
        alert = self.backend.alert_ids.filtered(lambda a: a.kind == "edge_silent")
        self.assertEqual(json.loads(alert.domain), [["id", "in", self._agent().ids]])
        self.assertIn("edge-1", alert.name)
        self._feed(self._status())
        self.assertEqual(kinds(), [], "heard from again: the alert is cleared")
        old = rfc(datetime.now(UTC) - timedelta(hours=1))
        self._feed(self._status(spool={"depth": 20000, "oldest_at": old}))
        self.assertEqual(kinds(), ["edge_spool_age", "edge_spool_depth"])
        self.backend.write({"edge_spool_depth_max": 50000, "edge_spool_age_seconds": 0})
        self.assertEqual(kinds(), [])
        self._feed(self._status(spool={"depth": 0, "oldest_at": None}))
        self.backend.write({"edge_spool_depth_max": 10, "edge_spool_age_seconds": 60})
        self.assertEqual(kinds(), [], "the spool drained")
        self._agent().active = False  # taken out of service
        self._feed(self._status(sent_ago=600), received_ago=600)
        self.assertEqual(kinds(), [])

    def test_users_read_managers_configure(self):
        self._feed(self._status())
        user = new_test_user(self.env, "edge-user", groups="mfg_integration_base.group_mfg_user")
        manager = new_test_user(self.env, "edge-manager", groups="mfg_integration_base.group_mfg_manager")
        self.assertEqual(self._agent().with_user(user).read(["spool_depth"])[0]["spool_depth"], 0)
        with self.assertRaises(AccessError):
            self._agent().with_user(user).write({"active": False})
        self._agent().with_user(manager).write({"active": False})
        self.assertFalse(self._agent().active)
        self.backend.with_user(manager).edge_silent_seconds = 300
        with self.assertRaises(AccessError):
            self.backend.with_user(user).edge_silent_seconds = 30
