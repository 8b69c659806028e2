"""Lot genealogy from Odoo's own stock move lines, without the ORM.

Odoo links the move lines a manufacturing order consumed to the move lines it produced in the
many2many table ``stock_move_line_consume_rel`` (fields ``consume_line_ids`` / ``produce_line_ids``
of ``stock.move.line``). Its column names read backwards: a row is
``(consume_line_id = the produced line, produce_line_id = the consumed line)``.

Only done move lines of manufacturing orders count: the produced line's move has a
``production_id``, the consumed line's move a ``raw_material_production_id`` (an unbuild order
writes the same table the other way round and is left out).

Both walks are one ``WITH RECURSIVE`` query over the set of lots reached: ``UNION`` keeps one
row per (lot, depth), so a lot reached along several paths is walked once per depth, and the
depth bound ends every walk, cycles included (a lot consumed into its own ancestor — possible
with rework — is reported once, at its smallest depth). The edges are then read in one join
over the lots reached.
"""

from collections import defaultdict
from typing import NamedTuple

DEFAULT_MAX_DEPTH = 20
MAX_DEPTH = 100

# Lots reached from the seed lots, with their smallest depth. %(step)s is the join from a lot
# of the frontier (alias r) to the next lot (column next_lot).
_REACH_SQL = """
WITH RECURSIVE reach(lot_id, depth) AS (
    SELECT seed, 0 FROM unnest(%(lots)s::int[]) AS seed
  UNION
    SELECT {next_lot}, r.depth + 1
      FROM reach r
      {step}
     WHERE r.depth < %(max_depth)s AND {next_lot} IS NOT NULL
)
SELECT lot_id, MIN(depth) FROM reach GROUP BY lot_id
"""

# From a lot to the component lots consumed into it: its produced lines → consumed lines.
_UP_STEP = """
      JOIN stock_move_line p ON p.lot_id = r.lot_id AND p.state = 'done'
      JOIN stock_move pm ON pm.id = p.move_id AND pm.production_id IS NOT NULL
      JOIN stock_move_line_consume_rel rel ON rel.consume_line_id = p.id
      JOIN stock_move_line c ON c.id = rel.produce_line_id AND c.state = 'done'
      JOIN stock_move cm ON cm.id = c.move_id AND cm.raw_material_production_id IS NOT NULL
"""
# From a lot to the lots made from it: its consumed lines → produced lines.
_DOWN_STEP = """
      JOIN stock_move_line c ON c.lot_id = r.lot_id AND c.state = 'done'
      JOIN stock_move cm ON cm.id = c.move_id AND cm.raw_material_production_id IS NOT NULL
      JOIN stock_move_line_consume_rel rel ON rel.produce_line_id = c.id
      JOIN stock_move_line p ON p.id = rel.consume_line_id AND p.state = 'done'
      JOIN stock_move pm ON pm.id = p.move_id AND pm.production_id IS NOT NULL
"""

# The edges leaving the lots reached (above the depth bound). One consumed line counts once per
# (parent, child, order) even if the order produced its lot on several lines.
_EDGES_SQL = """
SELECT e.from_lot, e.to_lot, e.production_id, SUM(e.quantity), e.product_id
  FROM (
    SELECT DISTINCT {from_lot} AS from_lot, {to_lot} AS to_lot, pm.production_id,
           c.id AS consumed_line, c.quantity_product_uom AS quantity, {product} AS product_id
      FROM unnest(%(lots)s::int[]) AS r(lot_id)
      {step}
     WHERE {to_lot} IS NOT NULL OR %(keep_untracked)s
  ) e
 GROUP BY e.from_lot, e.to_lot, e.production_id, e.product_id
 ORDER BY e.from_lot, e.production_id, e.to_lot NULLS LAST
"""

# Done move lines of these lots into customer locations (deliveries, shipped stock).
_SHIPPED_SQL = """
SELECT ml.lot_id, ml.picking_id, COALESCE(pk.partner_id, m.partner_id), SUM(ml.quantity_product_uom),
       MAX(ml.date)
  FROM stock_move_line ml
  JOIN stock_location dest ON dest.id = ml.location_dest_id AND dest.usage = 'customer'
  JOIN stock_location src ON src.id = ml.location_id AND src.usage != 'customer'
  JOIN stock_move m ON m.id = ml.move_id
  LEFT JOIN stock_picking pk ON pk.id = ml.picking_id
 WHERE ml.lot_id = ANY(%(lots)s::int[]) AND ml.state = 'done'
 GROUP BY ml.lot_id, ml.picking_id, COALESCE(pk.partner_id, m.partner_id)
 ORDER BY ml.lot_id, MAX(ml.date), ml.picking_id
"""

UPSTREAM = "upstream"
DOWNSTREAM = "downstream"
DIRECTIONS = (UPSTREAM, DOWNSTREAM)


class Edge(NamedTuple):
    """``from_lot`` is nearer to the seed: upstream, the lot produced and ``to_lot`` a component
    lot consumed into it; downstream, the lot consumed and ``to_lot`` the lot produced from it
    (None when the order made an untracked product). ``product_id`` is ``to_lot``'s product (the
    consumed or produced product)."""

    from_lot: int
    to_lot: int | None
    production_id: int
    quantity: float
    product_id: int


class Shipment(NamedTuple):
    lot_id: int
    picking_id: int | None
    partner_id: int | None
    quantity: float
    date: object


def check_depth(max_depth):
    """``max_depth`` as an int in 1..MAX_DEPTH, else ValueError naming the value."""
    if max_depth is None:
        return DEFAULT_MAX_DEPTH
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or not 1 <= max_depth <= MAX_DEPTH:
        raise ValueError(f"max_depth must be a whole number from 1 to {MAX_DEPTH}, not {max_depth!r}")
    return max_depth


def _sql(direction):
    if direction == UPSTREAM:
        return _UP_STEP, "c.lot_id", "p.lot_id", "c.lot_id", "c.product_id"
    if direction == DOWNSTREAM:
        return _DOWN_STEP, "p.lot_id", "c.lot_id", "p.lot_id", "p.product_id"
    raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")


def reach(cr, lot_ids, direction, max_depth=None):
    """``{lot_id: smallest depth}`` of the lots reached from ``lot_ids`` (depth 0), at most
    ``max_depth`` steps away."""
    max_depth = check_depth(max_depth)
    step, next_lot, _from, _to, _product = _sql(direction)
    cr.execute(
        _REACH_SQL.format(step=step, next_lot=next_lot),
        {"lots": list(lot_ids), "max_depth": max_depth},
    )
    return dict(cr.fetchall())


def edges(cr, lot_ids, direction, max_depth=None):
    """``(depths, edges)``: the lots reached (see :func:`reach`) and the :class:`Edge` list
    leaving the lots above the depth bound. Downstream edges include orders that made an
    untracked product (``to_lot`` None)."""
    max_depth = check_depth(max_depth)
    depths = reach(cr, lot_ids, direction, max_depth)
    inner = [lot for lot, depth in depths.items() if depth < max_depth]
    if not inner:
        return depths, []
    step, _next, from_lot, to_lot, product = _sql(direction)
    cr.execute(
        _EDGES_SQL.format(step=step, from_lot=from_lot, to_lot=to_lot, product=product),
        {"lots": inner, "keep_untracked": direction == DOWNSTREAM},
    )
    return depths, [Edge(a, b, c, float(q or 0), d) for a, b, c, q, d in cr.fetchall()]


def shipments(cr, lot_ids):
    """The :class:`Shipment` list of these lots: done moves to customer locations, per lot,
    picking and customer, oldest first."""
    if not lot_ids:
        return []
    cr.execute(_SHIPPED_SQL, {"lots": list(lot_ids)})
    return [
        Shipment(lot, picking, partner, float(q or 0), date)
        for lot, picking, partner, q, date in cr.fetchall()
    ]


def build_tree(root_id, edge_list, max_depth=None):
    """The tree under ``root_id`` as nested dicts ``{"lot_id", "production_id", "product_id",
    "quantity", "depth", "children": [...]}`` (the root has no production nor quantity). A lot
    reached along several paths appears under each parent; a lot that is its own ancestor is
    shown once more with ``"cycle": True`` and no children."""
    max_depth = check_depth(max_depth)
    by_parent = defaultdict(list)
    for edge in edge_list:
        by_parent[edge.from_lot].append(edge)

    def node(edge, depth, path):
        lot = edge.to_lot
        item = {
            "lot_id": lot,
            "production_id": edge.production_id,
            "product_id": edge.product_id,
            "quantity": edge.quantity,
            "depth": depth,
            "children": [],
        }
        if lot is None:
            return item
        if lot in path:
            item["cycle"] = True
            return item
        if depth < max_depth:
            item["children"] = [node(e, depth + 1, path | {lot}) for e in by_parent.get(lot, ())]
        return item

    return {
        "lot_id": root_id,
        "production_id": None,
        "product_id": None,
        "quantity": None,
        "depth": 0,
        "children": [node(e, 1, {root_id}) for e in by_parent.get(root_id, ())],
    }


def walk(tree):
    """Every node of a tree of :func:`build_tree`, root first (depth-first)."""
    yield tree
    for child in tree["children"]:
        yield from walk(child)
