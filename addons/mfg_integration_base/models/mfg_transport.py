from odoo import api, models

PREFIX = "mfg.transport."


class MfgTransport(models.AbstractModel):
    """The interface every transport implements: one model ``mfg.transport.<code>`` per transport
    (``http`` and ``mqtt`` in ``transports/`` of this addon, ``file`` in mfg_legacy_flatfile, ``rest``
    inbound only). Adding a transport is adding such a model (and, when it sends, its code to
    ``mfg.backend.flow.transport`` with ``selection_add``): nothing in mfg.backend or mfg.message
    names a transport.

    Inbound     ``_mfg_receive(backend, exchange_type, items, **options)``: the transport's receiver
                (route, listener, folder scan) stores what arrived, commits, then acknowledges.
    Outbound    ``_mfg_send(message)``: deliver one outbound message (mfg.message._mfg_send picks the
                model by the message's transport); ``_mfg_endpoint(backend, exchange_type)``: where
                it goes (the flow's endpoint, else the transport's default on the backend).
    Connection  ``_mfg_is_configured(backend)``: whether the backend uses this transport;
                ``_mfg_test_connection(backend)`` → ``(ok, text)``: the backend's Test connection
                button runs it for every configured transport and records a failure in the
                backend field ``_mfg_error_field``; ``_mfg_setup_hint()``: what to set to use it.
    """

    _name = "mfg.transport"
    _description = "Integration Transport"

    # Backend field (Char or Text) where the connection test records this transport's error.
    _mfg_error_field = "last_error"

    @api.model
    def _mfg_code(self):
        """The transport's code: ``mfg.message.transport`` and ``mfg.backend.flow.transport``."""
        return self._name.removeprefix(PREFIX)

    @api.model
    def _mfg_transports(self):
        """Every transport model of the registry (``mfg.transport.<code>``), in order of code."""
        names = self.env.registry[MfgTransport._name]._inherit_children
        return [self.env[name] for name in sorted(names) if name.startswith(PREFIX)]

    # ------------------------------------------------------------------ inbound
    @api.model
    def _mfg_receive(self, backend, exchange_type, items, **options):
        """Store inbound ``items`` as messages of this transport (mfg.message._mfg_receive: the
        options and the result are its). The caller commits, then acknowledges the sender."""
        return (
            self.env["mfg.message"]
            .sudo()
            ._mfg_receive(backend, exchange_type, items, transport=self._mfg_code(), **options)
        )

    # ------------------------------------------------------------------ outbound
    def _mfg_send(self, message):
        """Deliver ``message`` (an outbound mfg.message). Return a short text of the receiver's
        answer. Raise MfgTransientError when trying later may help, MfgPermanentError when it
        cannot."""
        raise NotImplementedError

    @api.model
    def _mfg_endpoint(self, backend, exchange_type):
        """Where a message of ``exchange_type`` goes: the endpoint of the backend's flow, else
        ``_mfg_default_endpoint``. False when neither is set."""
        flow = backend._mfg_flow(exchange_type)
        return (flow.endpoint if flow and flow.endpoint else "") or self._mfg_default_endpoint(
            backend, exchange_type
        )

    @api.model
    def _mfg_default_endpoint(self, backend, exchange_type):
        """The backend's own endpoint of this transport (URL, topic, folder...), or False."""
        return False

    # ------------------------------------------------------------------ connection test
    @api.model
    def _mfg_is_configured(self, backend):
        """True when ``backend`` uses this transport (the connection test skips the others)."""
        return False

    @api.model
    def _mfg_test_connection(self, backend):
        """Try the backend's connection of this transport without sending a message.
        Returns ``(ok, text)``: a line of the notification, naming what was tried."""
        raise NotImplementedError

    @api.model
    def _mfg_setup_hint(self):
        """What a manager sets on a backend to use this transport (shown when nothing is set)."""
        return ""
