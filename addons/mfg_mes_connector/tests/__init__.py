from . import test_mes_inbound
from . import test_mes_release
from . import test_mes_alerts
