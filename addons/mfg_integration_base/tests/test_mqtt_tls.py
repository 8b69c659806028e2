"""TLS material of a backend's MQTT connection: uploaded PEM contents, server paths only under
[mfg_integration] file_roots (issue 13: no manager reaches the server's files)."""

import base64
import datetime
import itertools
import os
import shutil
import stat
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged

from ..exceptions import MfgPermanentError
from ..lib import safe_files
from ..transports.mqtt import client as mqtt_client

_codes = itertools.count(1)


def make_pem_pair(name):
    """(certificate PEM, private key PEM) of a self-signed EC certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def b64(data):
    return base64.b64encode(data)


@tagged("post_install", "-at_install")
class TestMqttTls(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env, login="tls-manager", groups="mfg_integration_base.group_mfg_manager,base.group_user"
        )
        cls.viewer = new_test_user(
            cls.env, login="tls-viewer", groups="mfg_integration_base.group_mfg_user,base.group_user"
        )
        cls.cert_pem, cls.key_pem = make_pem_pair("client")
        cls.other_cert_pem, cls.other_key_pem = make_pem_pair("other")
        root = safe_files.configured_roots()[0]
        os.makedirs(root, exist_ok=True)
        cls.root_dir = tempfile.mkdtemp(prefix="tls-test-", dir=root)
        cls.addClassCleanup(shutil.rmtree, cls.root_dir)
        cls.outside_dir = tempfile.mkdtemp(prefix="tls-outside-")
        cls.addClassCleanup(shutil.rmtree, cls.outside_dir)
        cls.outside_ca = os.path.join(cls.outside_dir, "ca.pem")
        with open(cls.outside_ca, "wb") as out:
            out.write(cls.cert_pem)

    def _backend(self, user=None, **vals):
        env = self.env(user=user) if user else self.env
        return env["mfg.backend"].create(
            {"name": "TLS plant", "code": f"tls-{next(_codes)}", "mqtt_tls": True, **vals}
        )

    def _inside(self, name, content):
        path = os.path.join(self.root_dir, name)
        with open(path, "wb") as out:
            out.write(content)
        return path

    # ------------------------------------------------------------ paths refused at save
    def test_manager_cannot_point_tls_files_outside_the_roots(self):
        backend = self._backend(user=self.manager)
        link_out = os.path.join(self.root_dir, "link-out.pem")
        os.symlink(self.outside_ca, link_out)
        link_in = os.path.join(self.outside_dir, "link-in.pem")
        os.symlink(self._inside("ca-in.pem", self.cert_pem), link_in)
        cases = {
            "mqtt_ca_file": ["/etc/shadow", "../../../../etc/passwd", self.outside_ca, link_out, link_in],
            "mqtt_cert_file": ["/etc/ssl/private/server.pem", "/proc/self/environ", "/etc/x\x00"],
            "mqtt_key_file": [
                "/root/.ssh/id_rsa",
                os.path.join(self.root_dir, "..", "..", "k.pem"),
                link_out,
            ],
        }
        for field_name, values in cases.items():
            for value in values:
                with (
                    self.subTest(field=field_name, value=value),
                    self.assertRaises(ValidationError) as caught,
                ):
                    backend.write({field_name: value})
                    backend.flush_recordset()
                text = str(caught.exception)
                self.assertIn(backend._fields[field_name].string, text)
                self.assertIn(repr(value), text)
                self.assertIn(safe_files.configured_roots()[0], text)
                self.assertIn("Upload the file's content", text)
        backend.invalidate_recordset()
        self.assertFalse(
            backend.sudo().mqtt_ca_file or backend.sudo().mqtt_cert_file or backend.sudo().mqtt_key_file
        )

    def test_create_with_a_path_outside_the_roots_is_refused(self):
        with self.assertRaisesRegex(ValidationError, "CA file .server path. '/etc/shadow' of backend"):
            self._backend(user=self.manager, mqtt_ca_file="/etc/shadow")

    def test_path_under_the_roots_is_read_at_use(self):
        path = self._inside("ca.pem", self.cert_pem)
        backend = self._backend(user=self.manager, mqtt_ca_file=path)
        settings = backend._mfg_mqtt_settings()
        self.assertEqual(settings["ca_pem"].text, self.cert_pem.decode())
        self.assertNotIn("ca_file", settings)

    # ------------------------------------------------------------ legacy values refused at use
    def test_existing_path_outside_the_roots_is_refused_at_use_with_a_status(self):
        """A database saved before the check: the connection test neither reads nor probes the file,
        and says what to do; an existing and a missing file give the same answer."""
        backend = self._backend(mqtt_enabled=True, mqtt_host="127.0.0.1", mqtt_port=1883)
        answers = []
        for value in (self.outside_ca, os.path.join(self.outside_dir, "missing.pem")):
            self.env.cr.execute("UPDATE mfg_backend SET mqtt_ca_file = %s WHERE id = %s", (value, backend.id))
            backend.invalidate_recordset()
            with self.assertRaises(MfgPermanentError):
                backend._mfg_mqtt_settings()
            params = backend.action_test_connection()["params"]
            self.assertEqual(params["type"], "danger")
            self.assertIn("is refused: it is outside the folders this server allows", backend.mqtt_last_error)
            self.assertIn("Upload the file's content", params["message"])
            answers.append(params["message"].replace(value, "<path>"))
        self.assertEqual(answers[0], answers[1])

    def test_link_planted_after_the_save_is_not_followed(self):
        path = self._inside("swap.pem", self.cert_pem)
        backend = self._backend(user=self.manager, mqtt_ca_file=path)
        os.unlink(path)
        os.symlink(self.outside_ca, path)
        with self.assertRaisesRegex(MfgPermanentError, "symbolic link"):
            backend._mfg_mqtt_settings()

    # ------------------------------------------------------------ uploads
    def test_uploaded_pem_contents_are_used_and_comparable(self):
        backend = self._backend(
            user=self.manager,
            mqtt_ca_pem=b64(self.other_cert_pem),
            mqtt_cert_pem=b64(self.cert_pem),
            mqtt_key_pem=b64(self.key_pem),
            mqtt_ca_file=self._inside("ignored.pem", self.other_cert_pem),
        )
        settings = backend._mfg_mqtt_settings()
        self.assertEqual(settings["cert_pem"].text, self.cert_pem.decode())
        self.assertEqual(settings["key_pem"].text, self.key_pem.decode())
        # the listener compares settings: equal contents, equal settings; printing shows no key
        self.assertEqual(settings, backend._mfg_mqtt_settings())
        self.assertNotIn("PRIVATE KEY", repr(settings))
        backend.write({"mqtt_cert_pem": b64(self.other_cert_pem), "mqtt_key_pem": b64(self.other_key_pem)})
        self.assertNotEqual(settings, backend._mfg_mqtt_settings())
        # paho gets them from private files that are gone afterwards
        with mqtt_client.tls_files(settings) as paths:
            folder = os.path.dirname(paths["keyfile"])
            self.assertEqual(stat.S_IMODE(os.stat(folder).st_mode), 0o700)
            self.assertEqual(stat.S_IMODE(os.stat(paths["keyfile"]).st_mode), 0o600)
            with open(paths["keyfile"], "rb") as handle:
                self.assertEqual(handle.read(), self.key_pem)
        self.assertFalse(os.path.exists(folder))
        client = mqtt_client.make_client(settings, "tls-test")  # the SSL context loads them
        self.assertIsNotNone(client._ssl_context)

    def test_bad_uploads_are_refused_at_save(self):
        backend = self._backend(user=self.manager)
        cases = [
            (
                {"mqtt_ca_pem": b64(b"\x30\x82\x01\x0a binary DER")},
                "Broker CA .PEM. of backend .* not PEM text",
            ),
            ({"mqtt_ca_pem": b64(self.key_pem)}, "not PEM text containing BEGIN CERTIFICATE"),
            ({"mqtt_key_pem": b64(self.key_pem)}, "a client key but no client certificate"),
            (
                {"mqtt_cert_pem": b64(self.cert_pem), "mqtt_key_pem": b64(self.other_key_pem)},
                "do not work together",
            ),
            (
                {
                    "mqtt_cert_pem": b64(self.cert_pem),
                    "mqtt_key_pem": b64(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n"),
                },
                "the key is encrypted",
            ),
        ]
        for vals, message in cases:
            with self.subTest(vals=list(vals)), self.assertRaisesRegex(ValidationError, message):
                with self.env.cr.savepoint():
                    backend.write(vals)
                    backend.flush_recordset()

    def test_client_key_is_readable_by_managers_only(self):
        backend = self._backend(
            user=self.manager, mqtt_cert_pem=b64(self.cert_pem), mqtt_key_pem=b64(self.key_pem)
        )
        self.assertEqual(base64.b64decode(backend.with_user(self.manager).mqtt_key_pem), self.key_pem)
        self.assertTrue(backend.with_user(self.viewer).mqtt_cert_pem)
        with self.assertRaises(AccessError):
            backend.with_user(self.viewer).read(["mqtt_key_pem"])
