import re

from odoo import models

HANDLER_MIXIN = "mfg.handler.mixin"
HANDLER_PREFIX = "_mfg_handle_"
HANDLER_METHOD_RE = re.compile(r"^_mfg_handle_[a-z0-9_]+$")
# A handler _mfg_handle_<what> may have a batch variant _mfg_batch_<what>(items): see
# batch_method_name and mfg.exchange.type._mfg_batch_handler.
BATCH_PREFIX = "_mfg_batch_"


class MfgHandlerMixin(models.AbstractModel):
    """Marks a model whose ``_mfg_handle_<what>(message, data)`` methods apply inbound messages.

    The drain runs handlers as superuser, so an exchange type may name only a model that
    inherits this mixin, and only a method of it whose name starts with ``_mfg_handle_``.
    Nothing else is ever called: inheriting this mixin is how a developer says "these methods
    are safe to run for any message a plant system sends". No fields, no behaviour.
    """

    _name = HANDLER_MIXIN
    _description = "Integration message handler (mixin)"


def is_handler_model(env, model_name):
    """True when ``model_name`` is an installed model that inherits ``mfg.handler.mixin``."""
    registry = env.registry
    if not isinstance(model_name, str) or model_name == HANDLER_MIXIN or model_name not in registry:
        return False
    return issubclass(registry[model_name], registry[HANDLER_MIXIN])


def handler_models(env):
    """Names of the installed handler models, sorted."""
    return sorted(name for name in env.registry if is_handler_model(env, name))


def is_handler_method(env, model_name, method):
    """True when ``method`` is a ``_mfg_handle_*`` method of the handler model ``model_name``.

    The name is checked before any attribute is looked up: no other name is ever fetched."""
    if (
        not is_handler_model(env, model_name)
        or not isinstance(method, str)
        or not HANDLER_METHOD_RE.match(method)
    ):
        return False
    return callable(getattr(env.registry[model_name], method, None))


def handler_methods(env, model_name):
    """The handler methods of ``model_name``, sorted (empty when it is not a handler model)."""
    if not is_handler_model(env, model_name):
        return []
    return sorted(name for name in dir(env.registry[model_name]) if is_handler_method(env, model_name, name))


def batch_method_name(method):
    """The name of the batch variant of the handler method ``method`` (``_mfg_handle_<what>`` ->
    ``_mfg_batch_<what>``), or None when ``method`` is not a handler method name.

    A batch variant takes ``items``, a list of ``(message, data)`` of one exchange type whose
    ordering keys are distinct, and returns the list of what the handler would have returned for
    each, in the same order. Its effect must be the one of calling the handler on each item in
    turn: the drain applies the items in one call and one savepoint, and, when it raises, rolls
    back and calls the handler on each item in its own savepoint (so a failure is recorded on its
    own message). It is looked up only by this name, derived from a checked handler name."""
    if not isinstance(method, str) or not HANDLER_METHOD_RE.match(method):
        return None
    return BATCH_PREFIX + method[len(HANDLER_PREFIX) :]
