import os
import secrets
import shutil

import psycopg2
import pyarrow.parquet as pq

from odoo.exceptions import AccessError, ValidationError
from odoo.fields import Command
from odoo.tools import config

from odoo.addons.mfg_integration_base.lib import safe_files
from odoo.addons.mfg_mes_connector.tests.common import MfgMesCase

from ..lib import measures
from ..lib.facts import data_dictionary_markdown
from ..lib.pseudonym import Pseudonymiser

DAY = "2026-03-02"


class TestAnalyticsExport(MfgMesCase):
    """A small known day on work center WC-1, exported to Parquet and recomputed by hand.

    2 MOs of 10 valves each; the routing says 6 min per valve on WC-1 (60 min per MO).
    MO1 runs 08:00-09:00 and makes 10. A breakdown stops WC-1 09:00-09:50 (loss reason BRK).
    MO2 runs 09:50-11:20, scraps 2 valves (reason DMG) and makes 8.
    Four lots of housings are inspected; HL-2 fails, then passes a re-inspection.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.valve = env["product.product"].create(
            {"name": "Valve", "default_code": "VALVE-1", "is_storable": True}
        )
        cls.bom_valve = env["mrp.bom"].create(
            {
                "product_tmpl_id": cls.valve.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [
                    Command.create(
                        {"product_id": cls.comp_kg.id, "product_qty": 0.5, "product_uom_id": cls.kg.id}
                    )
                ],
                "operation_ids": [
                    Command.create(
                        {
                            "name": "Assemble",
                            "workcenter_id": cls.workcenter.id,
                            "time_cycle_manual": 6,
                            "sequence": 10,
                        }
                    )
                ],
            }
        )
        ref = env.ref
        cls.qms = cls._create_backend(
            "Test QMS",
            "test-qms",
            ref("mfg_quality_connector.exchange_type_inspection_result")
            | ref("mfg_quality_connector.exchange_type_lot_hold")
            | ref("mfg_quality_connector.exchange_type_lot_release"),
            system_kind="quality",
        )
        cls.lots = {
            name: env["stock.lot"].create(
                {"name": name, "product_id": cls.comp_lot.id, "company_id": env.company.id}
            )
            for name in ("HL-2", "HL-3", "HL-4")
        }

    def setUp(self):
        super().setUp()
        # Files outlive the test's transaction: one folder per test, removed after it.
        root = safe_files.configured_roots()[0]
        self.folder = os.path.join(root, f"analytics-test-{secrets.token_hex(4)}")
        self.addCleanup(shutil.rmtree, self.folder, True)
        self.target = self.env["mfg.analytics.target"].create(
            {"name": "Lake", "parquet_folder": self.folder, "pseudonymise": True}
        )

    # ------------------------------------------------------------------ the day
    def _op(self, mid, mo, status, at):
        return self._receive("operation_status", self._base(mid, mo, operation="WC-1", status=status, at=at))

    def _inspect(self, mid, lot, verdict, at):
        data = {
            "message_id": mid,
            "inspection_id": f"INSP-{mid}",
            "lot": lot,
            "product": "HOUS-1",
            "evaluated_at": at,
            "verdict": verdict,
            "inspector": "Q. Inspector",
            "characteristics": [
                {"characteristic": "leak", "result": verdict if verdict != "conditional" else "pass"}
            ],
        }
        return self._receive("qms.inspection_result", data, backend=self.qms)

    def _simulate_day(self):
        mo1 = self._mo(product=self.valve, bom=self.bom_valve, qty=10)
        mo2 = self._mo(product=self.valve, bom=self.bom_valve, qty=10)
        self._op("o1s", mo1, "started", f"{DAY}T08:00:00Z")
        self._op("o1f", mo1, "finished", f"{DAY}T09:00:00Z")
        self._receive("material_consumption", self._consumption("c1", mo1, ("RES-1", 5, "kg")))
        self._receive("production_completion", self._completion("p1", mo1, 10, lot=None))
        self._receive(
            "downtime",
            self._base(
                "d1", mo2, workcenter="WC-1", reason="BRK", start=f"{DAY}T09:00:00Z", end=f"{DAY}T09:50:00Z"
            ),
        )
        self._op("o2s", mo2, "started", f"{DAY}T09:50:00Z")
        self._op("o2f", mo2, "finished", f"{DAY}T11:20:00Z")
        self._receive(
            "scrap", self._base("s1", mo2, product="VALVE-1", quantity=2, uom="Units", reason="DMG")
        )
        self._receive("material_consumption", self._consumption("c2", mo2, ("RES-1", 5, "kg")))
        self._receive("production_completion", self._completion("p2", mo2, 8, lot=None, final=True))
        self._drain_all()
        self._drain_all(backend=self.qms)
        self._inspect("i1", "HL-1", "pass", f"{DAY}T12:00:00Z")
        self._inspect("i2", "HL-2", "fail", f"{DAY}T12:10:00Z")
        self._inspect("i3", "HL-3", "pass", f"{DAY}T12:20:00Z")
        self._inspect("i4", "HL-4", "pass", f"{DAY}T12:30:00Z")
        self._inspect("i5", "HL-2", "pass", f"{DAY}T14:00:00Z")  # the re-inspection
        self._drain_all(backend=self.qms)
        failed = self.Message.search([("state", "!=", "done"), ("direction", "=", "inbound")])
        self.assertFalse(failed, [(m.name, m.error_message) for m in failed])
        self.assertEqual((mo1.state, mo2.state), ("done", "done"))
        return mo1, mo2

    def _export(self):
        return self.env["mfg.analytics.run"]._mfg_execute(self.target)

    def _files(self, table):
        return measures.parquet_files(self.folder, table)

    def _rows(self, table):
        files = self._files(table)
        return [row for f in files for row in pq.read_table(f).to_pylist()]

    # ------------------------------------------------------------------ tests
    def test_oee_and_fpy_by_hand(self):
        mo1, mo2 = self._simulate_day()
        run = self._export()
        self.assertEqual(run.state, "done")
        ops = {r["mo_id"]: r for r in self._rows("operation")}
        # The routing: 6 min per valve, 10 valves per MO.
        self.assertEqual((ops[mo1.id]["expected_min"], ops[mo2.id]["expected_min"]), (60.0, 60.0))
        # Run time: MO1 08:00-09:00 = 60 min; MO2 09:50-11:20 = 90 min (Odoo splits it into 60
        # productive + 30 performance loss; both are run time).
        self.assertEqual((ops[mo1.id]["productive_min"], ops[mo2.id]["productive_min"]), (60.0, 90.0))
        run_min = 60 + 90  # 150
        downtime_min = 50  # 09:00-09:50, availability loss BRK
        planned_min = run_min + downtime_min  # 200
        expected_min = 60 + 60  # 120
        good, scrap = 10 + 8, 2  # MO1 10, MO2 8 good and 2 scrapped
        availability = run_min / planned_min  # 150 / 200 = 0.75
        performance = expected_min / run_min  # 120 / 150 = 0.8
        quality = good / (good + scrap)  # 18 / 20 = 0.9
        oee = availability * performance * quality  # 0.75 * 0.8 * 0.9 = 0.54
        self.assertAlmostEqual(oee, 0.54, places=12)

        curated = self.env["mfg.analytics.oee"].search([("target_id", "=", self.target.id)])
        self.assertEqual(len(curated), 1)
        self.assertEqual(str(curated.day), DAY)
        self.assertEqual(curated.workcenter_id, self.workcenter)
        self.assertEqual(
            (curated.planned_min, curated.run_min, curated.downtime_min, curated.expected_min),
            (planned_min, run_min, downtime_min, expected_min),
        )
        self.assertEqual((curated.good_qty, curated.scrap_qty), (good, scrap))
        self.assertEqual(
            (curated.availability, curated.performance, curated.quality, curated.oee),
            (availability, performance, quality, oee),
        )

        # FPY of housings: 4 lots inspected first on DAY, HL-2 failed first (its re-inspection
        # passes but is not a first pass): 3 / 4.
        fpy = self.env["mfg.analytics.fpy"].search([("target_id", "=", self.target.id)])
        self.assertEqual(len(fpy), 1)
        self.assertEqual((fpy.product_id, str(fpy.day)), (self.comp_lot, DAY))
        self.assertEqual((fpy.lots_inspected, fpy.lots_first_pass, fpy.fpy), (4, 3, 3 / 4))

        # Scrap and downtime facts carry their reasons; the failed inspection held its lot.
        self.assertEqual(
            [(r["qty"], r["reasons"]) for r in self._rows("scrap")], [(2.0, "Damaged in assembly")]
        )
        downtime = self._rows("downtime")
        self.assertEqual(
            [
                (d["loss_reason"], d["loss_type"], d["duration_min"])
                for d in downtime
                if d["loss_type"] == "availability"
            ],
            [("Machine breakdown", "availability", 50.0)],
        )
        holds = self._rows("lot_hold")
        self.assertEqual([h["lot"] for h in holds], ["HL-2"])
        self.assertEqual(holds[0]["severity"], "major")

        # A DuckDB query of its own over the Parquet files gives the screen's figures.
        con = measures.duckdb_connection(self.folder)
        got = con.execute(
            """
            WITH op AS (SELECT * FROM operation QUALIFY row_number() OVER (PARTITION BY workorder_id ORDER BY version DESC) = 1),
                 mo AS (SELECT * FROM production_order QUALIFY row_number() OVER (PARTITION BY mo_id ORDER BY version DESC) = 1),
                 dt AS (SELECT * FROM downtime QUALIFY row_number() OVER (PARTITION BY time_log_id ORDER BY version DESC) = 1),
                 r AS (SELECT sum(op.productive_min) run, sum(op.expected_min) exp, sum(mo.qty_produced) good,
                             sum(mo.qty_scrapped) scrap
                         FROM op JOIN mo ON mo.mo_id = op.mo_id
                        WHERE op.workcenter_id = $wc AND op.day = $day AND op.state = 'done'),
                 d AS (SELECT sum(duration_min) down FROM dt
                        WHERE workcenter_id = $wc AND day = $day AND loss_type = 'availability')
            SELECT run / (run + down), exp / run, good / (good + scrap), run / (run + down) * (exp / run) * (good / (good + scrap))
              FROM r, d
            """,
            {"wc": self.workcenter.id, "day": DAY},
        ).fetchone()
        con.close()
        self.assertEqual(got, (curated.availability, curated.performance, curated.quality, curated.oee))

    def test_second_run_adds_nothing_and_correction_is_a_new_version(self):
        mo1, _mo2 = self._simulate_day()
        first = self._export()
        self.assertGreater(first.rows_exported, 0)
        files = {t: self._files(t) for t in ("production_order", "component_consumption", "message")}
        second = self._export()
        self.assertEqual(second.rows_exported, 0)
        self.assertEqual(
            {t: self._files(t) for t in files}, files, "a run that finds no change writes no file"
        )

        # A consumption corrected in Odoo after the MO was completed: 5 kg were 5.5 kg.
        move = mo1.move_raw_ids.filtered(lambda m: m.product_id == self.comp_kg)
        before = [r for r in self._rows("component_consumption") if r["move_id"] == move.id]
        self.assertEqual([(r["version"], r["qty_consumed"]) for r in before], [(1, 5.0)])
        move.move_line_ids.filtered("quantity").quantity = 5.5
        third = self._export()
        self.assertEqual(third.rows_exported, 1, third.detail)
        after = [r for r in self._rows("component_consumption") if r["move_id"] == move.id]
        self.assertEqual(
            sorted((r["version"], r["qty_consumed"], r["variance"], r["run_id"]) for r in after),
            [(1, 5.0, 0.0, first.id), (2, 5.5, 0.5, third.id)],
        )

    def _analytics_database(self):
        """A separate, empty analytics database on the same server (dropped after the test)."""
        name = f"mfg_analytics_test_{secrets.token_hex(4)}"
        params = {"host": config.get("db_host") or None, "port": config.get("db_port") or None}
        params.update(user=config.get("db_user") or None, dbname="postgres")
        admin = psycopg2.connect(**{k: v for k, v in params.items() if v})
        admin.autocommit = True
        with admin.cursor() as cr:
            cr.execute(f'CREATE DATABASE "{name}"')

        def drop():
            with admin.cursor() as cr:
                cr.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()

        self.addCleanup(drop)
        params["dbname"] = name
        return " ".join(f"{k}={v}" for k, v in params.items() if v)

    def test_postgres_target_same_figures(self):
        """The same facts in a schema of a separate analytics database; the measures' SQL run
        there gives the figures DuckDB gives over the Parquet files."""
        dsn = self._analytics_database()
        self.target.write({"postgres_dsn": dsn, "postgres_schema": "lake"})
        self._simulate_day()
        run = self._export()
        with psycopg2.connect(dsn) as cnx, cnx.cursor() as cr:
            for table in ("production_order", "operation", "component_consumption", "message"):
                cr.execute(f"SELECT count(*), min(run_id), max(version) FROM lake.{table}")
                self.assertEqual(cr.fetchone(), (len(self._rows(table)), run.id, 1), table)
            on_postgres = measures.compute_postgres(cnx, "lake")
        on_duckdb = measures.compute_duckdb(self.folder)
        self.assertEqual(len(on_postgres["oee"]), 1)
        for name in ("oee", "fpy", "sla"):
            self.assertEqual(on_postgres[name], on_duckdb[name], name)
        self.assertEqual(on_postgres["oee"][0]["oee"], 0.75 * (120 / 150) * 0.9)

    def test_pseudonymised_names(self):
        self._simulate_day()
        self._export()
        key = self.env["ir.config_parameter"].sudo().get_param("mfg_analytics.pseudonym_key")
        expected = Pseudonymiser(key)("Q. Inspector")
        inspectors = {r["inspector"] for r in self._rows("inspection_result")}
        self.assertEqual(inspectors, {expected})
        responsible = {r["responsible"] for r in self._rows("production_order")}
        self.assertNotIn(self.env.user.partner_id.name, responsible)
        self.assertTrue(all(r.startswith("p-") for r in responsible if r))

    def test_folder_outside_file_roots_refused(self):
        with self.assertRaisesRegex(ValidationError, r"Parquet folder /etc/analytics is refused.*file_roots"):
            self.env["mfg.analytics.target"].create({"name": "Bad", "parquet_folder": "/etc/analytics"})
        with self.assertRaisesRegex(ValidationError, "Odoo's own database"):
            self.env["mfg.analytics.target"].create(
                {"name": "Bad", "postgres_dsn": f"dbname={self.env.cr.dbname} host=localhost"}
            )
        with self.assertRaisesRegex(ValidationError, "not a PostgreSQL connection string"):
            self.env["mfg.analytics.target"].create({"name": "Bad", "postgres_dsn": "dbname='unterminated"})
        with self.assertRaisesRegex(ValidationError, "no destination"):
            self.env["mfg.analytics.target"].create({"name": "Nowhere"})

    def test_dsn_is_for_system_administrators_only(self):
        manager = self._create_user("Analytics manager", "an-manager", self.group_manager)
        target = self.target.with_user(manager)
        self.assertEqual(target.name, "Lake")
        with self.assertRaises(AccessError):
            target.read(["postgres_dsn"])

    def test_cron_queues_one_export_job_per_target(self):
        Job = self.env["queue.job"]
        before = Job.search_count([("method_name", "=", "_mfg_export")])
        self.env["mfg.analytics.target"]._cron_mfg_analytics_export()
        jobs = Job.search([("method_name", "=", "_mfg_export")])
        self.assertEqual(len(jobs) - before, 1)
        self.assertEqual(jobs[:1].channel, "root.mfg_analytics")

    def test_data_dictionary_in_readme_matches_the_schema(self):
        readme = os.path.join(os.path.dirname(os.path.dirname(__file__)), "readme", "USAGE.md")
        with open(readme, encoding="utf-8") as f:
            text = f.read()
        self.assertIn(
            data_dictionary_markdown().strip(), text, "regenerate the data dictionary of readme/USAGE.md"
        )
