from . import mfg_flatfile_format
from . import mfg_flatfile_batch
from . import mfg_flatfile_batch_ingest
from . import mfg_backend
from . import mfg_flatfile_handlers
from . import mfg_stock_snapshot
from . import mfg_transport_file
from . import mfg_flatfile_export
