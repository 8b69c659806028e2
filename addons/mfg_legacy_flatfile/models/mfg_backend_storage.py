import logging

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.mfg_integration_base.lib import settings
from odoo.addons.mfg_integration_base.lib.safe_files import PathRefused
from odoo.addons.mfg_integration_base.transports.http import outbound

from ..lib.storage import ConnectionLost, LocalStorage, SftpStorage, StorageRefused, split_remote_path
from .mfg_backend import check_server_folder

_logger = logging.getLogger(__name__)

ALLOWED_HOSTS_PARAM = "mfg_integration.file_allowed_hosts"


class MfgBackendStorage(models.Model):
    """Where the drop folders of a backend live: the Odoo server's folders (under file_roots) or
    an SFTP host allowed by a system administrator (lib/storage.py). The folder fields of
    mfg_backend.py are paths on that storage."""

    _inherit = "mfg.backend"  # pylint: disable=consider-merging-classes-inherited

    flatfile_storage = fields.Selection(
        [("local", "Folders of the Odoo server"), ("sftp", "Folders of an SFTP host")],
        string="Folders are on",
        default="local",
        required=True,
        help="The Odoo server's own folders (under [mfg_integration] file_roots), or an SFTP host that a system "
        "administrator allowed in [mfg_integration] file_allowed_hosts or the system parameter "
        "mfg_integration.file_allowed_hosts. On an SFTP host the folders are paths there (absolute, or relative "
        "to the user's login folder); processed and error must be on the same file system as the inbox.",
    )
    flatfile_sftp_host = fields.Char(string="SFTP host")
    flatfile_sftp_port = fields.Integer(string="SFTP port", default=22)
    flatfile_sftp_user = fields.Char(string="SFTP user")
    flatfile_sftp_password = fields.Char(
        string="SFTP password", groups="base.group_system", help="Used when no private key is set."
    )
    flatfile_sftp_private_key = fields.Text(
        string="SFTP private key",
        groups="base.group_system",
        help="OpenSSH or PEM private key (Ed25519, ECDSA or RSA) of the SFTP user; preferred to a password.",
    )
    flatfile_sftp_key_passphrase = fields.Char(string="Key passphrase", groups="base.group_system")
    flatfile_sftp_host_key = fields.Text(
        string="Pinned host key",
        groups="base.group_system",
        help="The SFTP host's key, without which nothing is sent to it: its SHA256 fingerprint (ssh-keygen -lf "
        "/etc/ssh/ssh_host_ed25519_key.pub on the host prints SHA256:…), its public key line or its known_hosts "
        "line; one per line when the host has several. Test connection shows the key the host presents.",
    )

    flatfile_last_error = fields.Text(
        string="Last scan problem",
        readonly=True,
        copy=False,
        help="Why the last scan of the inbox could not read it (cleared by the next scan that can).",
    )

    @api.constrains("flatfile_storage", "flatfile_sftp_host", "flatfile_sftp_port", "flatfile_sftp_user")
    def _check_flatfile_sftp(self):
        for backend in self.filtered(lambda b: b.flatfile_storage == "sftp"):
            if (
                not (backend.flatfile_sftp_host or "").strip()
                or not (backend.flatfile_sftp_user or "").strip()
            ):
                raise ValidationError(
                    self.env._(
                        "Backend %(b)s: folders on an SFTP host need the fields 'SFTP host' and 'SFTP user'.",
                        b=backend.name,
                    )
                )
            if not 0 < backend.flatfile_sftp_port < 65536:
                raise ValidationError(
                    self.env._(
                        "Backend %(b)s, field 'SFTP port': %(port)s is not a TCP port (1 to 65535; SFTP's is 22).",
                        b=backend.name,
                        port=backend.flatfile_sftp_port,
                    )
                )

    # ------------------------------------------------------------------ folders and storage
    def _mfg_check_flatfile_folder(self, record, fname, value):
        """Save-time check of a folder of this backend's storage; the normalised path (for
        comparisons). Local: under file_roots, no link (check_server_folder). SFTP: a plain path
        without '..' (links are refused when it is opened)."""
        self.ensure_one()
        if self.flatfile_storage != "sftp":
            return check_server_folder(self.env, record, fname, value)
        try:
            absolute, parts = split_remote_path(value)
        except StorageRefused as exc:
            raise ValidationError(
                self.env._(
                    "%(where)s, field '%(field)s': %(reason)s. Give a folder of the SFTP host, absolute or "
                    "relative to the login folder.",
                    where=f"{record._description} {record.display_name}",
                    field=record._fields[fname].string,
                    reason=str(exc),
                )
            ) from None
        return ("/" if absolute else "") + "/".join(parts)

    def _mfg_file_host_policy(self):
        """The hosts drop folders may be on: server setting + system parameter (system administrators)."""
        param = self.env["ir.config_parameter"].sudo().get_param(ALLOWED_HOSTS_PARAM, "")
        try:
            return outbound.parse_policy(settings.get_str("file_allowed_hosts"), param)
        except outbound.OutboundRefused as exc:
            raise StorageRefused(
                f"the allowed file hosts contain {exc.value!r}, which is neither a host name, *.domain, * nor an "
                "IP address or network",
                "config",
            ) from None

    def _mfg_flatfile_storage(self):
        """The storage of this backend's folders (not connected yet: ``open`` connects)."""
        self.ensure_one()
        if self.flatfile_storage != "sftp":
            return LocalStorage()
        backend = self.sudo()
        return SftpStorage(
            backend.flatfile_sftp_host,
            backend.flatfile_sftp_port,
            backend.flatfile_sftp_user,
            self._mfg_file_host_policy(),
            host_key=backend.flatfile_sftp_host_key,
            password=backend.flatfile_sftp_password,
            private_key=backend.flatfile_sftp_private_key,
            passphrase=backend.flatfile_sftp_key_passphrase,
        )

    def _mfg_storage_refusal_text(self, exc):
        """What a user reads when the SFTP host is refused (StorageRefused), with what to do."""
        self.ensure_one()
        _ = self.env._
        where = _("Backend %(b)s, SFTP host %(host)s", b=self.code, host=self.flatfile_sftp_host)
        if exc.kind == "host":
            return _(
                "%(where)s: %(reason)s. A system administrator may allow it in the server setting "
                "[mfg_integration] file_allowed_hosts or the system parameter %(param)s (host names, *.domain, "
                "addresses or networks; internal addresses must be listed as addresses).",
                where=where,
                reason=str(exc),
                param=ALLOWED_HOSTS_PARAM,
            )
        if exc.kind == "host_key":
            return _(
                "%(where)s: %(reason)s (field 'Pinned host key', system administrators).",
                where=where,
                reason=exc,
            )
        if exc.kind == "auth":
            return _(
                "%(where)s: %(reason)s. Check the fields 'SFTP user', 'SFTP private key' / 'SFTP password'.",
                where=where,
                reason=exc,
            )
        return f"{where}: {exc}."

    def _mfg_flatfile_note(self, problem):
        """Record on the backend why its inbox could not be read (an exception), or that it could
        (None); written only when it changes (the scan runs every minute), and committed at once."""
        self.ensure_one()
        if problem is None:
            text = False
        elif isinstance(problem, StorageRefused):
            text = self._mfg_storage_refusal_text(problem)
        else:
            text = self.env._(
                "Backend %(b)s: the drop folders could not be read: %(reason)s",
                b=self.code,
                reason=problem,
            )
        # in a transaction of its own: the scan's own one is old by now, and the ingestion's
        # commits have touched this backend's row meanwhile (last contact)
        with self.env["mfg.flatfile.batch"]._mfg_tx() as env:
            backend = self.with_env(env).sudo()
            if (backend.flatfile_last_error or False) != text:
                backend.flatfile_last_error = text
        self.invalidate_recordset(["flatfile_last_error"])

    # ------------------------------------------------------------------ test the location
    def action_flatfile_test_location(self):
        """Connect to where the folders are and list the inbox: a notification says what was found."""
        self.ensure_one()
        ok, text = self._mfg_flatfile_list_inbox()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": "success" if ok else "danger", "sticky": not ok, "message": text},
        }

    def _mfg_flatfile_list_inbox(self, show=10):
        """(ok, text): the inbox's entries (at most ``show`` names) or why it cannot be listed."""
        self.ensure_one()
        _ = self.env._
        if not self.flatfile_inbox_path:
            return False, _("Backend %(b)s has no inbox folder (Files tab).", b=self.code)
        storage = None
        try:
            storage = self._mfg_flatfile_storage()
            inbox = storage.open(self.flatfile_inbox_path)
            try:
                entries = sorted(e.name for e in inbox.entries() if not e.name.startswith("."))
                where = inbox.join("")
            finally:
                inbox.close()
        except StorageRefused as exc:
            return False, self._mfg_storage_refusal_text(exc)
        except PathRefused as exc:
            return False, _(
                "Inbox folder %(value)r is refused: %(reason)s.", value=self.flatfile_inbox_path, reason=exc
            )
        except FileNotFoundError:
            return False, _(
                "Inbox folder %(value)r does not exist: create it, or check that its share is mounted.",
                value=self.flatfile_inbox_path,
            )
        except ConnectionLost as exc:
            return False, _("Backend %(b)s: %(reason)s.", b=self.code, reason=exc)
        except OSError as exc:
            return False, _(
                "Inbox folder %(value)r cannot be listed: %(reason)s.",
                value=self.flatfile_inbox_path,
                reason=exc.strerror or exc,
            )
        finally:
            if storage is not None:
                storage.close()
        listed = ", ".join(entries[:show]) + (
            _(" and %(n)s more", n=len(entries) - show) if len(entries) > show else ""
        )
        return True, _(
            "Inbox %(where)s: %(count)s entries%(colon)s%(names)s.",
            where=where,
            count=len(entries),
            colon=": " if entries else "",
            names=listed,
        )
