from . import test_flatfile_parser
from . import test_flatfile_inbound
from . import test_flatfile_export
from . import test_flatfile_quantities
from . import test_flatfile_company
from . import test_flatfile_paths
from . import test_flatfile_connection
from . import test_flatfile_sftp
