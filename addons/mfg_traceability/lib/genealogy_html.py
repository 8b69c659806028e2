"""A genealogy tree (``mfg.traceability._mfg_genealogy``) as nested HTML lists, for the screen.

Every name in the tree is user data (lot, product, order, customer names): it is escaped by
``markupsafe`` on the way in, and only the fixed markup below is trusted. Each node is an
``<li class="o_mfg_node" data-lot="...">``; a node with children wraps them in an open
``<details>`` so the browser folds and unfolds a branch without any script. Links point at the
web client's ``/odoo/<model>/<id>`` routes.
"""

from markupsafe import Markup, escape

_NODE = Markup('<li class="o_mfg_node" data-lot="{lot}" data-depth="{depth}">{body}</li>')
_BRANCH = Markup(
    '<details open=""><summary>{label}</summary><ul class="o_mfg_genealogy_level">{children}</ul></details>'
)
_LINK = Markup('<a href="/odoo/{model}/{id}">{text}</a>')


def record_link(model, record_id, text):
    """A link to a record in the web client (``text`` escaped); plain text without an id."""
    if not record_id:
        return escape(text)
    return _LINK.format(model=model, id=int(record_id), text=text)


def _quantity(node):
    if node.get("quantity") is None:
        return ""
    return f"{node['quantity']:g} {node.get('uom') or ''}".strip()


def _label(node, texts, truncated):
    parts = [
        Markup('<span class="o_mfg_lot fw-bold">{}</span>').format(
            record_link("stock.lot", node.get("lot_id"), node.get("lot") or texts["untracked"])
        )
    ]
    if node.get("product"):
        parts.append(Markup('<span class="o_mfg_product text-muted">{}</span>').format(node["product"]))
    quantity = _quantity(node)
    if quantity:
        parts.append(Markup('<span class="o_mfg_quantity">{}</span>').format(quantity))
    if node.get("production"):
        parts.append(
            Markup('<span class="o_mfg_production">{} {}</span>').format(
                texts["via"], record_link("mrp.production", node.get("production_id"), node["production"])
            )
        )
    for ship in node.get("shipments") or ():
        parts.append(
            Markup(
                '<span class="o_mfg_shipment badge rounded-pill text-bg-light border">{} {} {} {}</span>'
            ).format(
                record_link("stock.picking", ship.get("picking_id"), ship.get("picking") or "-"),
                f"{ship['quantity']:g}",
                texts["to"],
                ship.get("customer") or "-",
            )
        )
    if node.get("cycle"):
        parts.append(
            Markup('<span class="o_mfg_cycle badge text-bg-warning">{}</span>').format(texts["cycle"])
        )
    if node.get("lot_id") in truncated and not node.get("cycle"):
        parts.append(
            Markup('<span class="o_mfg_depth_limit badge text-bg-secondary">{}</span>').format(
                texts["depth_limit"]
            )
        )
    return Markup(" · ").join(parts)


def _node(node, texts, truncated):
    label = _label(node, texts, truncated)
    if node["children"]:
        body = _BRANCH.format(
            label=label, children=Markup("").join(_node(c, texts, truncated) for c in node["children"])
        )
    else:
        body = Markup('<span class="o_mfg_leaf">{}</span>').format(label)
    return _NODE.format(lot=node.get("lot") or "", depth=node["depth"], body=body)


def render(tree, texts, truncated=()):
    """``tree`` as HTML (``Markup``). ``texts`` holds the translated words: ``via``, ``to``,
    ``untracked``, ``cycle``, ``depth_limit``, ``empty``. ``truncated`` is the set of lot ids
    whose own children lie beyond the depth bound (marked, not walked)."""
    truncated = set(truncated)
    root = _node(tree, texts, truncated)
    empty = (
        Markup('<p class="o_mfg_genealogy_empty text-muted">{}</p>').format(texts["empty"])
        if not tree["children"]
        else ""
    )
    return Markup('<div class="o_mfg_genealogy"><ul class="o_mfg_genealogy_level">{}</ul>{}</div>').format(
        root, empty
    )
