"""The curated fact tables: their schema (the data dictionary of readme/USAGE.md) and the SQL
that reads each from Odoo's tables. Pure Python, no ORM.

Every fact query returns, in this order: ``fact_key`` (the id of the source row the fact is
about), ``change_ts`` (the latest ``write_date`` of the rows the fact is made of: what the
watermark follows), ``company_id``, ``day`` (the day partition, UTC), then the table's own
columns. The engine (``engine.py``) adds ``version``, ``run_id`` and ``exported_at``.

Each query reads plain committed rows: no lock beyond PostgreSQL's ACCESS SHARE, no FOR UPDATE.
"""

from dataclasses import dataclass, field

import pyarrow as pa

# Columns every fact table starts with (after its key column).
COMMON = [
    ("version", pa.int32(), "1 for the first export of the fact, +1 each time its source changed", "engine"),
    ("run_id", pa.int64(), "the export run that wrote the row (`mfg.analytics.run`)", "engine"),
    ("exported_at", pa.timestamp("us"), "when the run read the row (UTC)", "engine"),
    ("company_id", pa.int32(), "company of the source row", "`company_id`"),
    ("day", pa.date32(), "the day the fact belongs to (UTC): the Parquet partition", "see table"),
]


@dataclass
class FactTable:
    name: str
    key: str  # name of the key column (the source row's id)
    key_source: str
    description: str
    day_source: str
    columns: list  # [(name, arrow type, meaning, source)] after the common ones
    sql: str
    pseudonymised: tuple = ()  # columns holding a person's name
    index_hint: str = ""  # an index the keyset read relies on (messages only)
    extra: dict = field(default_factory=dict)

    @property
    def all_columns(self):
        """[(name, arrow type, meaning, source)] in file order."""
        return [
            (self.key, pa.int64(), "id of the source row: the fact's key", self.key_source),
            *COMMON,
            *self.columns,
        ]

    @property
    def schema(self):
        return pa.schema([(name, typ) for name, typ, _m, _s in self.all_columns])

    def chunk_sql(self):
        """One keyset page of changed facts of a company: rows whose (change_ts, key) is after
        the cursor, oldest first. Parameters: company, since, after, limit."""
        return f"""
            SELECT * FROM ({self.sql}) f
             WHERE f.company_id = %(company)s
               AND (f.change_ts, f.fact_key) > (%(since)s::timestamp, %(after)s)
             ORDER BY f.change_ts, f.fact_key
             LIMIT %(limit)s
        """


# jsonb translated names of Odoo 18
def _tr(column):
    return f"COALESCE({column}->>'en_US', {column}::text)"


def _minutes(start, end):
    return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 60.0)::double precision"


PRODUCTION_ORDER = FactTable(
    name="production_order",
    key="mo_id",
    key_source="`mrp_production.id`",
    description="One row per manufacturing order: planned against actual quantity and time.",
    day_source="`date_finished` (done: when it was finished), else `date_start`",
    columns=[
        ("mo_name", pa.string(), "MO reference", "`mrp_production.name`"),
        ("state", pa.string(), "MO state (draft, confirmed, progress, to_close, done, cancel)", "`state`"),
        ("product_id", pa.int64(), "finished product", "`product_id`"),
        ("product_code", pa.string(), "internal reference of the product", "`product_product.default_code`"),
        ("product_name", pa.string(), "product name (English)", "`product_template.name`"),
        ("uom", pa.string(), "unit of the quantities", "`product_uom_id` name"),
        ("qty_planned", pa.float64(), "quantity to produce", "`product_qty`"),
        (
            "qty_produced",
            pa.float64(),
            "quantity of the finished product in done moves (scrap moves excluded)",
            "`stock_move.quantity`",
        ),
        (
            "qty_scrapped",
            pa.float64(),
            "quantity of the finished product scrapped on the MO",
            "`stock_scrap.scrap_qty`",
        ),
        ("date_start", pa.timestamp("us"), "planned start (actual once started)", "`date_start`"),
        ("date_finished", pa.timestamp("us"), "planned end (actual once done)", "`date_finished`"),
        ("date_deadline", pa.timestamp("us"), "deadline", "`date_deadline`"),
        (
            "expected_min",
            pa.float64(),
            "expected duration of its operations (routing), minutes",
            "`mrp_workorder.duration_expected`",
        ),
        (
            "actual_min",
            pa.float64(),
            "duration Odoo recorded on its operations, minutes",
            "`mrp_workorder.duration`",
        ),
        (
            "responsible",
            pa.string(),
            "responsible user (pseudonymised when the target says so)",
            "`user_id` partner name",
        ),
        (
            "backorder_of",
            pa.string(),
            "MO family reference (backorders share it)",
            "`procurement_group_id` name",
        ),
    ],
    pseudonymised=("responsible",),
    sql=f"""
        SELECT p.id AS fact_key,
               GREATEST(p.write_date, fm.wd, sc.wd, wo.wd) AS change_ts,
               p.company_id, CAST(COALESCE(p.date_finished, p.date_start) AS date) AS day,
               p.name, p.state, p.product_id, pp.default_code, {_tr("pt.name")}, {_tr("u.name")},
               p.product_qty::double precision, COALESCE(fm.qty, 0)::double precision,
               COALESCE(sc.qty, 0)::double precision, p.date_start, p.date_finished, p.date_deadline,
               COALESCE(wo.expected, 0)::double precision, COALESCE(wo.actual, 0)::double precision,
               rp.name, pg.name
          FROM mrp_production p
          JOIN product_product pp ON pp.id = p.product_id
          JOIN product_template pt ON pt.id = pp.product_tmpl_id
          JOIN uom_uom u ON u.id = p.product_uom_id
          LEFT JOIN res_users ru ON ru.id = p.user_id
          LEFT JOIN res_partner rp ON rp.id = ru.partner_id
          LEFT JOIN procurement_group pg ON pg.id = p.procurement_group_id
          LEFT JOIN LATERAL (
                SELECT SUM(m.quantity) FILTER (WHERE m.state = 'done') AS qty, MAX(m.write_date) AS wd
                  FROM stock_move m
                 WHERE m.production_id = p.id AND m.product_id = p.product_id AND m.scrapped IS NOT TRUE) fm ON TRUE
          LEFT JOIN LATERAL (
                SELECT SUM(s.scrap_qty) FILTER (WHERE s.state = 'done' AND s.product_id = p.product_id) AS qty,
                       MAX(s.write_date) AS wd
                  FROM stock_scrap s WHERE s.production_id = p.id) sc ON TRUE
          LEFT JOIN LATERAL (
                SELECT SUM(w.duration_expected) AS expected, SUM(w.duration) AS actual, MAX(w.write_date) AS wd
                  FROM mrp_workorder w WHERE w.production_id = p.id) wo ON TRUE
    """,
)

OPERATION = FactTable(
    name="operation",
    key="workorder_id",
    key_source="`mrp_workorder.id`",
    description="One row per operation (work order) of an MO on a work center: the routing's expected "
    "duration against the time logged.",
    day_source="end of its last time log, else `date_finished`, else `date_start`",
    columns=[
        ("mo_id", pa.int64(), "its manufacturing order", "`production_id`"),
        ("mo_name", pa.string(), "MO reference", "`mrp_production.name`"),
        ("operation", pa.string(), "operation name", "`mrp_workorder.name`"),
        ("workcenter_id", pa.int64(), "work center", "`workcenter_id`"),
        ("workcenter_code", pa.string(), "work center code", "`mrp_workcenter.code`"),
        ("workcenter_name", pa.string(), "work center name", "`resource_resource.name`"),
        ("state", pa.string(), "work order state", "`state`"),
        ("qty_production", pa.float64(), "quantity to process (the MO's)", "`mrp_production.product_qty`"),
        ("qty_produced", pa.float64(), "quantity processed", "`qty_produced`"),
        (
            "expected_min",
            pa.float64(),
            "expected duration from the routing (cycles × cycle time + set-up), minutes",
            "`duration_expected`",
        ),
        (
            "productive_min",
            pa.float64(),
            "wall-clock minutes of its productive and performance time logs",
            "`mrp_workcenter_productivity` (loss type productive, performance)",
        ),
        (
            "odoo_duration_min",
            pa.float64(),
            "duration as Odoo computes it (all its time logs, calendar-aware)",
            "`duration`",
        ),
        ("started_at", pa.timestamp("us"), "first time log start, else `date_start`", "time logs"),
        ("finished_at", pa.timestamp("us"), "last time log end, else `date_finished`", "time logs"),
    ],
    sql=f"""
        SELECT w.id AS fact_key, GREATEST(w.write_date, p.write_date, t.wd) AS change_ts,
               p.company_id, CAST(COALESCE(t.last_end, w.date_finished, w.date_start) AS date) AS day,
               p.id, p.name, w.name, w.workcenter_id, wc.code, rr.name, w.state,
               p.product_qty::double precision, w.qty_produced::double precision,
               w.duration_expected::double precision, COALESCE(t.productive, 0)::double precision,
               w.duration::double precision,
               COALESCE(t.first_start, w.date_start), COALESCE(t.last_end, w.date_finished)
          FROM mrp_workorder w
          JOIN mrp_production p ON p.id = w.production_id
          JOIN mrp_workcenter wc ON wc.id = w.workcenter_id
          LEFT JOIN resource_resource rr ON rr.id = wc.resource_id
          LEFT JOIN LATERAL (
                SELECT SUM({_minutes("l.date_start", "l.date_end")})
                           FILTER (WHERE l.loss_type IN ('productive', 'performance')) AS productive,
                       MIN(l.date_start) AS first_start, MAX(l.date_end) AS last_end, MAX(l.write_date) AS wd
                  FROM mrp_workcenter_productivity l WHERE l.workorder_id = w.id) t ON TRUE
    """,
)

COMPONENT_CONSUMPTION = FactTable(
    name="component_consumption",
    key="move_id",
    key_source="`stock_move.id` (component moves of an MO)",
    description="One row per component of an MO: planned against consumed quantity. A consumption "
    "corrected after the MO is done is exported again as a new version.",
    day_source="the MO's day (`date_finished`, else `date_start`)",
    columns=[
        ("mo_id", pa.int64(), "its manufacturing order", "`raw_material_production_id`"),
        ("mo_name", pa.string(), "MO reference", "`mrp_production.name`"),
        ("mo_product_id", pa.int64(), "the MO's finished product", "`mrp_production.product_id`"),
        ("product_id", pa.int64(), "component", "`product_id`"),
        ("product_code", pa.string(), "component internal reference", "`product_product.default_code`"),
        ("uom", pa.string(), "unit of the quantities", "`product_uom` name"),
        ("qty_planned", pa.float64(), "quantity to consume (BoM × MO quantity)", "`product_uom_qty`"),
        ("qty_consumed", pa.float64(), "quantity consumed", "`quantity`"),
        ("variance", pa.float64(), "consumed − planned", "computed"),
        (
            "variance_pct",
            pa.float64(),
            "variance / planned × 100 (empty when nothing was planned)",
            "computed",
        ),
        ("lots", pa.string(), "lots consumed, comma-separated", "`stock_move_line.lot_id`"),
        ("state", pa.string(), "move state", "`state`"),
    ],
    sql=f"""
        SELECT m.id AS fact_key, GREATEST(m.write_date, p.write_date, ml.wd) AS change_ts,
               p.company_id, CAST(COALESCE(p.date_finished, p.date_start) AS date) AS day,
               p.id, p.name, p.product_id, m.product_id, pp.default_code, {_tr("u.name")},
               m.product_uom_qty::double precision, m.quantity::double precision,
               (m.quantity - m.product_uom_qty)::double precision,
               CASE WHEN m.product_uom_qty <> 0
                    THEN ((m.quantity - m.product_uom_qty) / m.product_uom_qty * 100)::double precision END,
               ml.lots, m.state
          FROM stock_move m
          JOIN mrp_production p ON p.id = m.raw_material_production_id
          JOIN product_product pp ON pp.id = m.product_id
          JOIN uom_uom u ON u.id = m.product_uom
          LEFT JOIN LATERAL (
                SELECT MAX(l.write_date) AS wd,
                       string_agg(DISTINCT lot.name, ',' ORDER BY lot.name) FILTER (WHERE l.quantity <> 0) AS lots
                  FROM stock_move_line l LEFT JOIN stock_lot lot ON lot.id = l.lot_id
                 WHERE l.move_id = m.id) ml ON TRUE
    """,
)

SCRAP = FactTable(
    name="scrap",
    key="scrap_id",
    key_source="`stock_scrap.id`",
    description="One row per scrap order, with its reasons.",
    day_source="`date_done`, else `create_date`",
    columns=[
        ("mo_id", pa.int64(), "manufacturing order (empty: not from an MO)", "`production_id`"),
        ("mo_name", pa.string(), "MO reference", "`mrp_production.name`"),
        ("product_id", pa.int64(), "scrapped product", "`product_id`"),
        ("product_code", pa.string(), "internal reference", "`product_product.default_code`"),
        ("uom", pa.string(), "unit of the quantity", "`product_uom_id` name"),
        ("qty", pa.float64(), "quantity scrapped", "`scrap_qty`"),
        ("reasons", pa.string(), "scrap reasons, comma-separated", "`scrap_reason_tag_ids` names"),
        ("lot", pa.string(), "lot scrapped", "`lot_id` name"),
        (
            "workcenter_code",
            pa.string(),
            "work center of its work order",
            "`workorder_id.workcenter_id.code`",
        ),
        ("state", pa.string(), "draft or done", "`state`"),
        ("done_at", pa.timestamp("us"), "when it was validated", "`date_done`"),
    ],
    sql=f"""
        SELECT s.id AS fact_key, s.write_date AS change_ts, s.company_id,
               CAST(COALESCE(s.date_done, s.create_date) AS date) AS day,
               s.production_id, p.name, s.product_id, pp.default_code, {_tr("u.name")},
               s.scrap_qty::double precision,
               (SELECT string_agg({_tr("t.name")}, ',' ORDER BY {_tr("t.name")})
                  FROM stock_scrap_stock_scrap_reason_tag_rel r
                  JOIN stock_scrap_reason_tag t ON t.id = r.stock_scrap_reason_tag_id
                 WHERE r.stock_scrap_id = s.id),
               lot.name, wc.code, s.state, s.date_done
          FROM stock_scrap s
          JOIN product_product pp ON pp.id = s.product_id
          JOIN uom_uom u ON u.id = s.product_uom_id
          LEFT JOIN mrp_production p ON p.id = s.production_id
          LEFT JOIN stock_lot lot ON lot.id = s.lot_id
          LEFT JOIN mrp_workorder w ON w.id = s.workorder_id
          LEFT JOIN mrp_workcenter wc ON wc.id = w.workcenter_id
    """,
)

DOWNTIME = FactTable(
    name="downtime",
    key="time_log_id",
    key_source="`mrp_workcenter_productivity.id` (loss type not productive)",
    description="One row per work center time log that is a loss (availability, performance, "
    "quality), with its loss reason. An open one (no end yet) is exported again when it ends.",
    day_source="`date_start`",
    columns=[
        ("workcenter_id", pa.int64(), "work center", "`workcenter_id`"),
        ("workcenter_code", pa.string(), "work center code", "`mrp_workcenter.code`"),
        ("workorder_id", pa.int64(), "work order it stopped (may be empty)", "`workorder_id`"),
        ("mo_id", pa.int64(), "manufacturing order of that work order", "`mrp_workorder.production_id`"),
        ("mo_name", pa.string(), "MO reference", "`mrp_production.name`"),
        ("loss_reason_id", pa.int64(), "loss reason", "`loss_id`"),
        ("loss_reason", pa.string(), "loss reason name (English)", "`mrp_workcenter_productivity_loss.name`"),
        ("loss_type", pa.string(), "availability, performance or quality", "`loss_type`"),
        ("started_at", pa.timestamp("us"), "start", "`date_start`"),
        ("ended_at", pa.timestamp("us"), "end (empty: still running)", "`date_end`"),
        ("duration_min", pa.float64(), "wall-clock minutes end − start (empty while running)", "computed"),
    ],
    sql=f"""
        SELECT l.id AS fact_key, l.write_date AS change_ts, l.company_id,
               CAST(l.date_start AS date) AS day,
               l.workcenter_id, wc.code, l.workorder_id, w.production_id, p.name, l.loss_id,
               {_tr("ls.name")}, l.loss_type, l.date_start, l.date_end,
               {_minutes("l.date_start", "l.date_end")}
          FROM mrp_workcenter_productivity l
          JOIN mrp_workcenter wc ON wc.id = l.workcenter_id
          JOIN mrp_workcenter_productivity_loss ls ON ls.id = l.loss_id
          LEFT JOIN mrp_workorder w ON w.id = l.workorder_id
          LEFT JOIN mrp_production p ON p.id = w.production_id
         WHERE l.loss_type <> 'productive'
    """,
)

INSPECTION_RESULT = FactTable(
    name="inspection_result",
    key="inspection_id",
    key_source="`mfg_quality_inspection.id`",
    description="One row per inspection result a quality system reported, with its verdict. A lot's "
    "first inspection (earliest `inspected_at`, then id) decides its first-pass yield.",
    day_source="`inspected_at`",
    columns=[
        ("inspection", pa.string(), "the quality system's inspection id", "`name`"),
        ("backend_code", pa.string(), "quality system", "`mfg_backend.code`"),
        ("lot_id", pa.int64(), "lot inspected", "`lot_id`"),
        ("lot", pa.string(), "lot name", "`stock_lot.name`"),
        ("product_id", pa.int64(), "product", "`product_id`"),
        ("product_code", pa.string(), "internal reference", "`product_product.default_code`"),
        ("mo_id", pa.int64(), "manufacturing order (origin production)", "`production_id`"),
        ("origin_type", pa.string(), "production, receipt or other", "`origin_type`"),
        ("verdict", pa.string(), "pass, fail or conditional", "`verdict`"),
        ("inspected_at", pa.timestamp("us"), "when the quality system evaluated it", "`inspected_at`"),
        ("characteristics", pa.int32(), "characteristics measured", "`mfg_quality_inspection_line`"),
        (
            "characteristics_failed",
            pa.int32(),
            "characteristics out of limits",
            "`mfg_quality_inspection_line.result`",
        ),
        ("inspector", pa.string(), "who inspected (pseudonymised when the target says so)", "`inspector`"),
    ],
    pseudonymised=("inspector",),
    sql="""
        SELECT i.id AS fact_key, GREATEST(i.write_date, ln.wd) AS change_ts, i.company_id,
               CAST(i.inspected_at AS date) AS day,
               i.name, b.code, i.lot_id, lot.name, i.product_id, pp.default_code, i.production_id,
               i.origin_type, i.verdict, i.inspected_at, COALESCE(ln.n, 0)::int, COALESCE(ln.failed, 0)::int,
               i.inspector
          FROM mfg_quality_inspection i
          JOIN stock_lot lot ON lot.id = i.lot_id
          JOIN product_product pp ON pp.id = i.product_id
          LEFT JOIN mfg_backend b ON b.id = i.backend_id
          LEFT JOIN LATERAL (
                SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE x.result = 'fail') AS failed, MAX(x.write_date) AS wd
                  FROM mfg_quality_inspection_line x WHERE x.inspection_id = i.id) ln ON TRUE
    """,
)

LOT_HOLD = FactTable(
    name="lot_hold",
    key="hold_event_id",
    key_source="`mfg_lot_hold_event.id` (action hold)",
    description="One row per hold applied to a lot, with its release and duration once released "
    "(a hold still running is exported again when released).",
    day_source="`event_at` of the hold",
    columns=[
        ("lot_id", pa.int64(), "lot held", "`lot_id`"),
        ("lot", pa.string(), "lot name", "`stock_lot.name`"),
        ("product_id", pa.int64(), "product", "`stock_lot.product_id`"),
        ("product_code", pa.string(), "internal reference", "`product_product.default_code`"),
        ("held_at", pa.timestamp("us"), "when the hold happened (sender's time)", "`event_at`"),
        (
            "released_at",
            pa.timestamp("us"),
            "first release of the lot after the hold (empty: still held)",
            "next `release` event",
        ),
        ("duration_hours", pa.float64(), "released_at − held_at in hours", "computed"),
        ("nonconformance", pa.string(), "nonconformance that caused it", "`nonconformance_id.name`"),
        ("severity", pa.string(), "its severity", "`mfg_nonconformance.severity`"),
        (
            "requested_by",
            pa.string(),
            "who asked in the quality system (pseudonymised on request)",
            "`requested_by`",
        ),
        (
            "held_by",
            pa.string(),
            "Odoo user who recorded it (pseudonymised on request)",
            "`user_id` partner name",
        ),
    ],
    pseudonymised=("requested_by", "held_by"),
    sql="""
        SELECT h.id AS fact_key, GREATEST(h.write_date, rel.write_date) AS change_ts,
               COALESCE(h.company_id, lot.company_id) AS company_id, CAST(h.event_at AS date) AS day,
               h.lot_id, lot.name, lot.product_id, pp.default_code, h.event_at, rel.event_at,
               (EXTRACT(EPOCH FROM (rel.event_at - h.event_at)) / 3600.0)::double precision,
               nc.name, nc.severity, h.requested_by, rp.name
          FROM mfg_lot_hold_event h
          JOIN stock_lot lot ON lot.id = h.lot_id
          JOIN product_product pp ON pp.id = lot.product_id
          LEFT JOIN mfg_nonconformance nc ON nc.id = h.nonconformance_id
          LEFT JOIN res_users ru ON ru.id = h.user_id
          LEFT JOIN res_partner rp ON rp.id = ru.partner_id
          LEFT JOIN LATERAL (
                SELECT r.event_at, r.write_date FROM mfg_lot_hold_event r
                 WHERE r.lot_id = h.lot_id AND r.action = 'release' AND r.id > h.id
                 ORDER BY r.id LIMIT 1) rel ON TRUE
         WHERE h.action = 'hold'
    """,
)

NONCONFORMANCE = FactTable(
    name="nonconformance",
    key="nonconformance_id",
    key_source="`mfg_nonconformance.id`",
    description="One row per nonconformance, with its severity and disposition.",
    day_source="`detected_at`",
    columns=[
        ("name", pa.string(), "nonconformance number", "`name`"),
        ("backend_code", pa.string(), "quality system", "`mfg_backend.code`"),
        ("product_id", pa.int64(), "product", "`product_id`"),
        ("product_code", pa.string(), "internal reference", "`product_product.default_code`"),
        ("severity", pa.string(), "minor, major or critical", "`severity`"),
        ("disposition", pa.string(), "pending, use_as_is, rework, repair, scrap…", "`disposition`"),
        ("state", pa.string(), "state", "`state`"),
        ("defect_code", pa.string(), "the quality system's defect code", "`defect_code`"),
        ("detected_at", pa.timestamp("us"), "when it was detected", "`detected_at`"),
        ("lot_count", pa.int32(), "lots concerned", "`lot_ids`"),
        ("inspection", pa.string(), "inspection that found it", "`inspection_id.name`"),
    ],
    sql="""
        SELECT n.id AS fact_key, n.write_date AS change_ts, n.company_id,
               CAST(COALESCE(n.detected_at, n.create_date) AS date) AS day,
               n.name, b.code, n.product_id, pp.default_code, n.severity, n.disposition, n.state,
               n.defect_code, n.detected_at,
               (SELECT COUNT(*) FROM mfg_nonconformance_stock_lot_rel r WHERE r.mfg_nonconformance_id = n.id)::int,
               i.name
          FROM mfg_nonconformance n
          LEFT JOIN product_product pp ON pp.id = n.product_id
          LEFT JOIN mfg_backend b ON b.id = n.backend_id
          LEFT JOIN mfg_quality_inspection i ON i.id = n.inspection_id
    """,
)

MESSAGE = FactTable(
    name="message",
    key="message_id",
    key_source="`mfg_message.id`",
    description="One row per integration message (inbound or outbound): its flow, state, latency "
    "and retries. A message exported while pending is exported again when its state changes.",
    day_source="`received_at` (inbound: received; outbound: queued)",
    columns=[
        ("backend_id", pa.int64(), "backend", "`backend_id`"),
        ("backend_code", pa.string(), "backend code", "`mfg_backend.code`"),
        ("exchange_type", pa.string(), "exchange type code", "`mfg_exchange_type.code`"),
        ("contract", pa.string(), "contract `<code>.v<version>`", "`mfg_exchange_type.code`, `version`"),
        ("direction", pa.string(), "inbound or outbound", "`direction`"),
        (
            "state",
            pa.string(),
            "received, queued, processing, done, rejected, failed, retrying, dead, discarded",
            "`state`",
        ),
        ("transport", pa.string(), "rest, mqtt, file, http…", "`transport`"),
        ("received_at", pa.timestamp("us"), "inbound: received; outbound: queued", "`received_at`"),
        (
            "processed_at",
            pa.timestamp("us"),
            "inbound: applied; outbound: sent (last outcome)",
            "`processed_at`",
        ),
        (
            "latency_ms",
            pa.int64(),
            "processed_at − received_at in ms (inbound: received → done; outbound: queued → sent)",
            "computed",
        ),
        ("processing_ms", pa.int64(), "time the last attempt took", "`duration_ms`"),
        ("attempts", pa.int32(), "attempts so far", "`attempts`"),
        ("error_class", pa.string(), "validation, mapping, business, transient, internal", "`error_class`"),
        (
            "error_signature",
            pa.string(),
            "incident signature (failures with one cause share it)",
            "`error_signature`",
        ),
        ("is_replay", pa.bool_(), "a replay of an earlier message", "`replay_of_id`"),
    ],
    index_hint="mfg_message_analytics_idx",
    sql="""
        SELECT m.id AS fact_key, m.write_date AS change_ts, m.company_id,
               CAST(m.received_at AS date) AS day,
               m.backend_id, b.code, t.code, t.code || '.v' || t.version, m.direction, m.state, m.transport,
               m.received_at, m.processed_at,
               (EXTRACT(EPOCH FROM (m.processed_at - m.received_at)) * 1000)::bigint,
               m.duration_ms::bigint, m.attempts, m.error_class, m.error_signature,
               m.replay_of_id IS NOT NULL
          FROM mfg_message m
          JOIN mfg_backend b ON b.id = m.backend_id
          JOIN mfg_exchange_type t ON t.id = m.exchange_type_id
    """,
)

FACT_TABLES = {
    t.name: t
    for t in (
        PRODUCTION_ORDER,
        OPERATION,
        COMPONENT_CONSUMPTION,
        SCRAP,
        DOWNTIME,
        INSPECTION_RESULT,
        LOT_HOLD,
        NONCONFORMANCE,
        MESSAGE,
    )
}


def data_dictionary_markdown():
    """The data dictionary (readme/USAGE.md's tables) as Markdown, from the definitions above."""
    out = []
    for table in FACT_TABLES.values():
        out.append(f"#### `{table.name}`\n\n{table.description} Day: {table.day_source}.\n")
        out.append("| column | type | meaning | source |\n|---|---|---|---|")
        for name, typ, meaning, source in table.all_columns:
            out.append(f"| `{name}` | {typ} | {meaning} | {source} |")
        out.append("")
    return "\n".join(out)
