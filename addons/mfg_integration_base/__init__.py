from . import exceptions
from . import components
from . import models
from . import controllers
from . import wizards
from . import services
from . import cli
