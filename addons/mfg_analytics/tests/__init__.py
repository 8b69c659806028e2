from . import test_analytics_export
