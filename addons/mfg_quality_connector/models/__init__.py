from . import (
    mfg_backend,
    mfg_inspection_request,
    mfg_lot_hold_event,
    mfg_nonconformance,
    mfg_quality_inspection,
    product_template,
    stock_lot,
    stock_lot_quarantine,
    stock_move,
    stock_move_line,
    stock_warehouse,
)
