"""The message engine, without ORM models (see docs/ARCHITECTURE.md). Work in progress: the
claim, drain and outcome steps still live in models/mfg_message.py and models/mfg_backend.py."""

from . import tx
