"""The message engine, without ORM models (see docs/ARCHITECTURE.md): states, receive, claims
(with their claim locks), processing, outcomes, and the transaction switch. The models call it
(``mfg.message`` for one message, ``mfg.backend._mfg_drain`` for a drain)."""

from . import states
from . import tx
from . import receive
from . import claim
from . import outcome
from . import process
from . import schedule
from . import drain
