from lxml import html

from odoo.tests import tagged

from ..lib import genealogy_html
from .common import MfgTraceCase

TEXTS = {
    "via": "via",
    "to": "to",
    "untracked": "(untracked)",
    "cycle": "cycle",
    "depth_limit": "depth limit",
    "empty": "none",
}


def parse(fragment):
    return html.fragment_fromstring(str(fragment), create_parent="div")


def nesting(doc):
    """``[(lot, parent lot)]`` of every node of a rendered tree, in document order."""
    return [
        (li.get("data-lot"), (li.xpath("ancestor::li[1]/@data-lot") or [None])[0])
        for li in doc.xpath("//li[contains(@class, 'o_mfg_node')]")
    ]


def node(doc, lot):
    (li,) = doc.xpath(f"//li[@data-lot='{lot}']")
    return li


def own_label(li):
    """The node's own line (its summary, or its leaf span), without its children."""
    return li.xpath("./details/summary | ./span[contains(@class, 'o_mfg_leaf')]")[0]


@tagged("post_install", "-at_install")
class TestGenealogyScreen(MfgTraceCase):
    def _wizard(self, lot, max_depth=20):
        return self.env["mfg.genealogy"].create({"lot_id": lot.id, "max_depth": max_depth})

    def test_downstream_tree_nests_three_levels_with_links(self):
        doc = parse(self._wizard(self.r1).downstream_html)
        self.assertEqual(
            nesting(doc),
            [
                ("R-1", None),
                ("SA-1", "R-1"),
                ("SN-1", "SA-1"),
                ("SN-2", "SA-1"),
                ("SA-2", "R-1"),
                ("SN-3", "SA-2"),
            ],
        )
        sn1 = own_label(node(doc, "SN-1"))
        self.assertEqual(
            sn1.xpath(".//a/@href"),
            [
                f"/odoo/stock.lot/{self.sn1.id}",
                f"/odoo/mrp.production/{self.mo_c1.id}",
                f"/odoo/stock.picking/{self.d1.id}",
            ],
        )
        text = " ".join(sn1.text_content().split())
        self.assertIn("FIN-1", text)
        self.assertIn(f"1 Units · via {self.mo_c1.name}", text)
        self.assertIn(f"{self.d1.name} 1 to Customer A", text)
        sa1 = own_label(node(doc, "SA-1"))
        self.assertIn(f"4 Units · via {self.mo_a.name}", " ".join(sa1.text_content().split()))
        self.assertEqual(sa1.tag, "summary", "a node with children folds them")
        self.assertEqual(node(doc, "SA-1").xpath("./details/@open"), [""])

    def test_upstream_tree_nests_three_levels(self):
        wizard = self._wizard(self.sn3)
        doc = parse(wizard.upstream_html)
        self.assertEqual(nesting(doc), [("SN-3", None), ("SA-2", "SN-3"), ("R-1", "SA-2"), ("R-2", "SA-2")])
        self.assertIn("RAW-1", own_label(node(doc, "R-2")).text_content())
        self.assertFalse(doc.xpath("//*[contains(@class, 'o_mfg_depth_limit')]"))
        self.assertIn("Bought or received", parse(self._wizard(self.r1).upstream_html).text_content())

    def test_depth_limit_is_marked(self):
        doc = parse(self._wizard(self.r1, max_depth=1).downstream_html)
        self.assertEqual(nesting(doc), [("R-1", None), ("SA-1", "R-1"), ("SA-2", "R-1")])
        self.assertEqual(
            [
                li.get("data-lot")
                for li in doc.xpath("//li[./span/span[contains(@class, 'o_mfg_depth_limit')]]")
            ],
            ["SA-1", "SA-2"],
            "SA-1 and SA-2 have lots beyond the bound",
        )
        doc = parse(self._wizard(self.r1, max_depth=2).downstream_html)
        self.assertFalse(
            doc.xpath("//*[contains(@class, 'o_mfg_depth_limit')]"), "the leaves are finished lots"
        )
        with self.assertRaisesRegex(Exception, "max_depth must be a whole number from 1 to 100, not 0"):
            self._wizard(self.r1, max_depth=0)

    def test_user_data_is_escaped(self):
        self.r2.name = "<script>alert('lot')</script>"
        self.raw.default_code = "<b>RAW</b>"
        self.customer_b.name = "<img src=x onerror=alert(1)>"
        up = str(self._wizard(self.sn3).upstream_html)
        self.assertIn("&lt;script&gt;alert(&#39;lot&#39;)&lt;/script&gt;", up)
        down = str(self._wizard(self.r1).downstream_html)
        for fragment in (up, down):
            doc = parse(fragment)
            self.assertFalse(doc.xpath("//script | //img | //b"), fragment)
        self.assertIn("<script>alert('lot')</script>", parse(up).text_content())
        self.assertIn("to <img src=x onerror=alert(1)>", parse(down).text_content())

    def test_cycle_is_marked(self):
        tree = {
            "lot": "A",
            "lot_id": 1,
            "depth": 0,
            "quantity": None,
            "children": [
                {
                    "lot": "B",
                    "lot_id": 2,
                    "product": "P",
                    "production": "MO/1",
                    "production_id": 9,
                    "quantity": 2.0,
                    "uom": "Units",
                    "depth": 1,
                    "children": [
                        {"lot": "A", "lot_id": 1, "depth": 2, "quantity": 1.0, "cycle": True, "children": []}
                    ],
                }
            ],
        }
        doc = parse(genealogy_html.render(tree, TEXTS))
        self.assertEqual(nesting(doc), [("A", None), ("B", "A"), ("A", "B")])
        self.assertEqual(
            doc.xpath("//li[@data-depth='2']//span[contains(@class, 'o_mfg_cycle')]/text()"), ["cycle"]
        )

    def test_opened_from_the_lot(self):
        action = self.sn1.action_mfg_genealogy()
        wizard = self.env["mfg.genealogy"].browse(action["res_id"])
        self.assertEqual((action["res_model"], wizard.lot_id), ("mfg.genealogy", self.sn1))
        self.assertEqual(wizard.action_open_thread()["res_model"], "mfg.trace.event")
