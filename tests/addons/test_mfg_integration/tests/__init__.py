from . import test_pipeline
from . import test_outbox
from . import test_security
from . import test_legacy_production
from . import test_incidents
from . import test_tours
from . import test_monitoring
from . import test_claims
