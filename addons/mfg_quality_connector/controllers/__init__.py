from . import release_status
