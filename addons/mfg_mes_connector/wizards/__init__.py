from . import change_production_qty
