from . import test_b2mml_lib
from . import test_b2mml_performance
from . import test_b2mml_material
from . import test_b2mml_bad_xml
from . import test_b2mml_rest
from . import test_b2mml_file
from . import test_b2mml_outbound
from . import test_b2mml_acknowledge
