"""The one transaction switch of the pipeline.

In production the engine uses transactions of its own: the MQTT listener commits each batch,
a drain claims in a short READ COMMITTED transaction on its own connection and processes in a
fresh one, and the last contact of a backend is written in a side transaction. Sometimes only
the caller's transaction exists or is wanted; then everything runs in it:

- the context key ``mfg_single_transaction`` (a caller that must see the effects at once, e.g.
  the heartbeat handler, or a test);
- the environment variable ``MFG_SINGLE_TRANSACTION=1`` (scripts, debugging);
- a registry in test mode: ``registry.cursor()`` then hands out the test's own transaction, so
  separate transactions do not exist (Odoo's TransactionCase / HttpCase).

The end-to-end suite (``tests/``, Odoo run as a server) runs the real path.
"""

import os

CONTEXT_KEY = "mfg_single_transaction"
ENV_VAR = "MFG_SINGLE_TRANSACTION"


def single_transaction(env):
    """True when the pipeline must run in ``env``'s transaction only."""
    if env.context.get(CONTEXT_KEY):
        return True
    if os.environ.get(ENV_VAR, "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    return bool(env.registry.in_test_mode())
