from . import (
    mfg_lot_hold_event,
    mfg_nonconformance,
    mfg_quality_inspection,
    stock_lot,
    stock_move_line,
)
