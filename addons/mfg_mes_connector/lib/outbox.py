"""Helpers shared by the MES outbound exchange types (no ORM state). The outbox itself, the envelope
and coalescing are the base's ``mfg.outbox``."""


def plant_code(backend, kind, record, odoo_code):
    """The plant's code of ``record`` for ``backend``: its code mapping, else the Odoo code
    (None when there is neither)."""
    if not record:
        return None
    return backend._mfg_code_for(kind, record, odoo_code or None) or None
