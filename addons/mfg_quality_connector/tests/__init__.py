from . import (
    test_quality_orchestration,
    test_quality_pipeline,
    test_quality_quarantine,
    test_quality_reference_data,
    test_release_status_api,
)
