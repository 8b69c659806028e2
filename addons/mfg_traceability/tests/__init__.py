from . import test_genealogy
from . import test_thread
from . import test_evidence_pack
from . import test_recall
from . import test_genealogy_api
from . import test_genealogy_screen
