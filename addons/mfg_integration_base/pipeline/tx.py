"""The one transaction switch of the pipeline.

In production the engine uses transactions of its own: the MQTT listener commits each batch,
a drain claims in a short READ COMMITTED transaction on its own connection and processes in a
fresh one, and the last contact of a backend is written in a side transaction. Sometimes only
the caller's transaction exists or is wanted; then everything runs in it:

- the context key ``mfg_single_transaction`` (a caller that must see the effects at once, e.g.
  the heartbeat handler, or a test);
- the environment variable ``MFG_SINGLE_TRANSACTION=1`` (scripts, debugging);
- ``FORCED``, set by the test package of this addon when Odoo's test runner loads it
  (``tests/__init__.py``): a test runs in one transaction, which it rolls back;
- a registry in test mode: ``registry.cursor()`` then hands out the test's own transaction, so
  separate transactions do not exist (HttpCase).

The end-to-end suite (``tests/`` of the repository, Odoo run as a server) runs the real path.
"""

import os

CONTEXT_KEY = "mfg_single_transaction"
ENV_VAR = "MFG_SINGLE_TRANSACTION"
FORCED = False


def single_transaction(env):
    """True when the pipeline must run in ``env``'s transaction only."""
    if FORCED or env.context.get(CONTEXT_KEY):
        return True
    if os.environ.get(ENV_VAR, "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    return bool(env.registry.in_test_mode())
