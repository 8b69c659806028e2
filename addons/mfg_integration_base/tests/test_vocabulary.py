"""One word for each thing (docs/ARCHITECTURE.md, Glossary): a field pointing to an exchange type
says *Exchange type*, one pointing to a flow says *Flow*; *Flow* and *Contract* name nothing else.

Post-install: it reads the fields of every installed addon of the project (``mfg_*``,
``test_mfg_*``), so a connector that labels its own field otherwise fails here too."""

from odoo.tests import TransactionCase, tagged

# relation → (label of a many2one, label of a one2many / many2many)
LABELS = {
    "mfg.exchange.type": ("Exchange type", "Exchange types"),
    "mfg.backend.flow": ("Flow", "Flows"),
}
# The exchange type's contract name (<code>.v<version>): the one field called "Contract".
CONTRACT_FIELD = ("mfg.exchange.type", "contract")
PROJECT_MODULES = ("mfg_", "test_mfg")


@tagged("post_install", "-at_install")
class TestVocabulary(TransactionCase):
    def _project_fields(self, domain):
        fields = self.env["ir.model.fields"].with_context(lang="en_US").search(domain)
        return fields.filtered(
            lambda f: any(m.startswith(PROJECT_MODULES) for m in (f.modules or "").split(", "))
        )

    def test_fields_pointing_to_an_exchange_type_or_a_flow_are_labelled_so(self):
        for relation, (one, many) in LABELS.items():
            found = self._project_fields(
                [("relation", "=", relation), ("ttype", "in", ("many2one", "one2many", "many2many"))]
            )
            self.assertTrue(found, f"no field of the project points to {relation}: the check sees nothing")
            for field in found:
                want = one if field.ttype == "many2one" else many
                with self.subTest(field=f"{field.model}.{field.name}"):
                    self.assertEqual(
                        field.field_description,
                        want,
                        f"{field.model}.{field.name} points to {relation}: label it {want!r} "
                        "(docs/ARCHITECTURE.md, Glossary)",
                    )

    def test_flow_and_contract_label_nothing_else(self):
        words = {"Flow", "Flows", "Contract", "Contracts"}
        found = self._project_fields([("field_description", "in", sorted(words))])
        self.assertTrue(found, "the flows of a backend and the contract of an exchange type are labelled so")
        for field in found:
            where = f"{field.model}.{field.name}"
            with self.subTest(field=where):
                if field.field_description in ("Flow", "Flows"):
                    self.assertEqual(
                        field.relation,
                        "mfg.backend.flow",
                        f"{where} is labelled {field.field_description!r} but is no flow: a flow is a "
                        "backend's permission to use an exchange type (mfg.backend.flow)",
                    )
                else:
                    self.assertEqual(
                        (field.model, field.name),
                        CONTRACT_FIELD,
                        f"{where} is labelled {field.field_description!r}: 'Contract' is only the "
                        "exchange type's contract name (code, version and JSON Schema are its contract)",
                    )
