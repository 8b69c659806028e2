from . import mfg_example_handlers
from . import product_product
