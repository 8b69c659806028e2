"""The TLS material of a backend's MQTT connection: the broker's CA, the client certificate and
its key, uploaded as PEM contents (stored in the database, the key readable by managers only).

Paho gets them through private temporary files (client.py ``tls_files``), never
through a path a user typed. Server paths (``mqtt_*_file``) are kept for databases that used
them, but only under the folders of ``[mfg_integration] file_roots`` (lib/safe_files.py):
checked when saved, and again when used (read without following links), so that no manager can
make the Odoo process read, or probe the existence of, any other file of the server.
"""

import base64
import binascii
import ssl

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ...exceptions import MfgPermanentError
from ...lib import safe_files
from . import client as mqtt_client

MAX_PEM_BYTES = 1 << 20  # a CA bundle of a few hundred certificates
# (settings key, uploaded content field, legacy server path field, what the PEM must contain)
TLS_ITEMS = (
    ("ca_pem", "mqtt_ca_pem", "mqtt_ca_file", "-----BEGIN CERTIFICATE-----"),
    ("cert_pem", "mqtt_cert_pem", "mqtt_cert_file", "-----BEGIN CERTIFICATE-----"),
    ("key_pem", "mqtt_key_pem", "mqtt_key_file", "PRIVATE KEY-----"),
)


class PemRefused(ValueError):
    pass


def parse_pem(data, marker):
    """``data`` (bytes) as a Pem when it is PEM text containing ``marker`` and, for a key, not
    encrypted (nobody could type its passphrase); PemRefused saying what is wrong otherwise."""
    if len(data) > MAX_PEM_BYTES:
        raise PemRefused(f"it is larger than {MAX_PEM_BYTES} bytes")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise PemRefused("it is not PEM text (binary DER? convert it with openssl to PEM)") from None
    if marker not in text:
        raise PemRefused(f"it is not PEM text containing {marker.strip('-')}")
    if "PRIVATE KEY" in marker and "ENCRYPTED" in text:
        raise PemRefused("the key is encrypted: upload it without passphrase (openssl pkey -in key.pem)")
    return mqtt_client.Pem(text)


# One file per side of a backend, like mfg_backend_mqtt.py and mfg_backend_http.py.
class MfgBackend(models.Model):
    _inherit = "mfg.backend"  # pylint: disable=consider-merging-classes-inherited

    mqtt_ca_pem = fields.Binary(
        string="Broker CA (PEM)",
        attachment=False,
        help="The certificate(s) of the authority that signed the broker's certificate, as a PEM file. "
        "Empty: the system's trusted authorities.",
    )
    mqtt_cert_pem = fields.Binary(
        string="Client certificate (PEM)",
        attachment=False,
        help="Only when the broker authenticates clients by certificate; upload its key too.",
    )
    mqtt_key_pem = fields.Binary(
        string="Client key (PEM)",
        attachment=False,
        copy=False,
        groups="mfg_integration_base.group_mfg_manager",
        help="Private key of the client certificate, PEM without passphrase. Readable by managers only.",
    )
    # Legacy: server paths. Used only when nothing is uploaded, and only under file_roots.
    mqtt_ca_file = fields.Char(
        string="CA file (server path)",
        tracking=True,
        help="Legacy: path on the Odoo host of the broker's CA, under the folders of [mfg_integration] "
        "file_roots. Prefer uploading it (Broker CA).",
    )
    mqtt_cert_file = fields.Char(
        string="Client certificate file (server path)",
        tracking=True,
        help="Legacy: path on the Odoo host, under [mfg_integration] file_roots. Prefer uploading it.",
    )
    mqtt_key_file = fields.Char(
        string="Client key file (server path)",
        groups="mfg_integration_base.group_mfg_manager",
        help="Legacy: path on the Odoo host, under [mfg_integration] file_roots. Prefer uploading it.",
    )

    # ------------------------------------------------------------------ save-time checks
    def _mfg_tls_path_refusal(self, field_name, value, exc):
        _ = self.env._
        reason = _("it is outside the folders this server allows") if exc.kind == "outside" else str(exc)
        return _(
            "%(field)s %(value)s of backend %(backend)s is refused: %(reason)s. Upload the file's content "
            "(%(upload)s) and clear the path, or put the file under the folders this server allows: "
            "%(roots)s ([mfg_integration] file_roots).",
            field=self._fields[field_name].string,
            value=repr(value),
            backend=self.code,
            reason=reason,
            upload=self._fields[field_name.replace("_file", "_pem")].string,
            roots=", ".join(safe_files.configured_roots()),
        )

    @api.constrains("mqtt_ca_file", "mqtt_cert_file", "mqtt_key_file")
    def _check_mqtt_tls_paths(self):
        for backend in self.sudo():
            for _key, _upload, path_field, _marker in TLS_ITEMS:
                value = backend[path_field]
                if not value:
                    continue
                try:
                    safe_files.check_file(value)
                except safe_files.PathRefused as exc:
                    raise ValidationError(backend._mfg_tls_path_refusal(path_field, value, exc)) from None

    @api.constrains("mqtt_ca_pem", "mqtt_cert_pem", "mqtt_key_pem")
    def _check_mqtt_tls_uploads(self):
        for backend in self.sudo():
            pems = {}
            for key, upload_field, _path, marker in TLS_ITEMS:
                if not backend[upload_field]:
                    continue
                try:
                    pems[key] = parse_pem(base64.b64decode(backend[upload_field]), marker)
                except (PemRefused, binascii.Error) as exc:
                    raise ValidationError(
                        self.env._(
                            "%(field)s of backend %(backend)s is refused: %(reason)s.",
                            field=backend._fields[upload_field].string,
                            backend=backend.code,
                            reason=str(exc),
                        )
                    ) from None
            if pems.get("key_pem") and not pems.get("cert_pem"):
                raise ValidationError(
                    self.env._(
                        "Backend %(backend)s has a client key but no client certificate: upload the certificate "
                        "too (Client certificate (PEM)), or remove the key.",
                        backend=backend.code,
                    )
                )
            try:
                # The SSL context paho will build: an unreadable CA or a key that does not belong to
                # the certificate is refused now rather than by the listener later.
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                with mqtt_client.tls_files(pems) as paths:
                    if paths["certfile"]:
                        context.load_cert_chain(
                            paths["certfile"], paths["keyfile"], password=mqtt_client.no_passphrase
                        )
                    if paths["ca_certs"]:
                        context.load_verify_locations(paths["ca_certs"])
            except ssl.SSLError as exc:
                raise ValidationError(
                    self.env._(
                        "The TLS files of backend %(backend)s do not work together: %(error)s. Check that the "
                        "client key belongs to the client certificate and that each upload is the right file.",
                        backend=backend.code,
                        error=exc.reason or str(exc),
                    )
                ) from None

    # ------------------------------------------------------------------ use
    def _mfg_mqtt_tls_settings(self):
        """{"ca_pem", "cert_pem", "key_pem"}: Pem contents (or None) for the MQTT settings: the
        uploaded contents, else the legacy path's file, read now under the roots without
        following links. MfgPermanentError saying what to do when a path is refused: the
        listener shows it on the backend (mqtt_last_error) and does not connect."""
        self.ensure_one()
        rec = self.sudo()
        settings = dict.fromkeys(key for key, *_rest in TLS_ITEMS)
        if not rec.mqtt_tls:
            return settings
        for key, upload_field, path_field, marker in TLS_ITEMS:
            try:
                if rec[upload_field]:
                    settings[key] = parse_pem(base64.b64decode(rec[upload_field]), marker)
                elif rec[path_field]:
                    settings[key] = parse_pem(safe_files.read_file(rec[path_field], MAX_PEM_BYTES), marker)
            except safe_files.PathRefused as exc:
                raise MfgPermanentError(rec._mfg_tls_path_refusal(path_field, rec[path_field], exc)) from None
            except (OSError, PemRefused, binascii.Error) as exc:
                field_name = upload_field if rec[upload_field] else path_field
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                raise MfgPermanentError(
                    self.env._(
                        "%(field)s of backend %(backend)s cannot be used: %(reason)s. Upload the file's content "
                        "again on the MQTT tab.",
                        field=rec._fields[field_name].string,
                        backend=rec.code,
                        reason=reason,
                    )
                ) from None
        return settings
