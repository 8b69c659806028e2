from ..pipeline import tx
from . import test_environment
from . import test_rest_api
from . import test_lib
from . import test_dates
from . import test_message_consumer
from . import test_outbound_components
from . import test_backend_connection
from . import test_api_governance
from . import test_openapi
from . import test_contract_governance
from . import test_api_tours
from . import test_quantity
from . import test_mqtt_tls
from . import test_mqtt_claims
from . import test_mqtt_bridge
from . import test_mqtt_retained
from . import test_edge_agent
from . import test_pipeline_engine
from . import test_pipeline_drain
from . import test_demo_plant
from . import test_vocabulary

# Odoo's test runner loads this package: every test runs in one transaction that it rolls back,
# so the pipeline must not open transactions of its own (see pipeline/tx.py).
tx.FORCED = True
