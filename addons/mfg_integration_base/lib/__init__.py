from . import contract
from . import retry_policy
