from . import test_environment
from . import test_rest_api
from . import test_components
from . import test_backend_connection
from . import test_api_governance
from . import test_openapi
from . import test_contract_governance
from . import test_api_tours
