from . import test_sparkplug_codec
from . import test_sparkplug_session
from . import test_sparkplug_aggregate
from . import test_sparkplug_claim
from . import test_sparkplug_quality
