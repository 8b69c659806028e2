from . import test_environment
from . import test_rest_api
from . import test_components
from . import test_backend_connection
