from . import test_quality_pipeline, test_release_status_api
