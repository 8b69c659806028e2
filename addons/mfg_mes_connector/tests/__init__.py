from . import test_mes_inbound
from . import test_mes_release
from . import test_mes_change
from . import test_mes_master_data
from . import test_mes_sync_api
from . import test_mes_serials
from . import test_mes_alerts
from . import test_mes_quantities
