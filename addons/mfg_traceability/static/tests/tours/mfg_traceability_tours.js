/** @odoo-module **/
/* A lot's evidence pack and digital thread, walked in headless Chromium by
 * tests/test_genealogy_api.py: open the lot's genealogy trees, produce the pack and verify it,
 * then open the thread, filter it by kind and open a line's record. */

import {registry} from "@web/core/registry";

registry.category("web_tour.tours").add("mfg_traceability_tour", {
    steps: () => [
        {
            content: "Open the lot's genealogy",
            trigger: ".o_form_view button[name='action_mfg_genealogy']",
            run: "click",
        },
        {
            content:
                "Made from: the sub-assembly lot SA-1, and under it the raw lot R-1",
            trigger:
                ".o_mfg_genealogy_upstream li.o_mfg_node[data-lot='SA-1'] li.o_mfg_node[data-lot='R-1'] a:contains('R-1')",
        },
        {
            content: "Went into: the delivery to Customer A",
            trigger: ".o_notebook .nav-link:contains('Went into')",
            run: "click",
        },
        {
            trigger:
                ".o_mfg_genealogy_downstream li.o_mfg_node[data-lot='SN-1'] .o_mfg_shipment:contains('Customer A')",
        },
        {
            content: "Back to the lot",
            trigger: ".o_breadcrumb .breadcrumb-item:not(.active) a:contains('SN-1')",
            run: "click",
        },
        {
            content: "Produce the evidence pack of the lot",
            trigger: ".o_form_view button[name='action_mfg_evidence_pack']",
            run: "click",
        },
        {
            content: "The pack states its hash",
            trigger: ".o_form_view .o_field_widget[name='sha256']:not(:empty)",
        },
        {
            trigger: ".o_form_view button[name='action_verify']",
            run: "click",
        },
        {
            content: "It verifies",
            trigger:
                ".o_form_view .o_field_widget[name='verify_note']:contains('verified')",
        },
        {
            content: "Back to the lot",
            trigger: ".o_breadcrumb .breadcrumb-item:not(.active) a:contains('SN-1')",
            run: "click",
        },
        {
            content: "Open its thread",
            trigger: ".o_form_view button[name='action_mfg_traceability']",
            run: "click",
        },
        {
            content: "The release to the MES is on the thread",
            trigger: ".o_list_view .o_data_row:contains('Work order release')",
        },
        {
            content: "Only deliveries",
            trigger:
                ".o_search_panel .o_search_panel_filter_value:contains('Delivery') input",
            run: "click",
        },
        {
            trigger:
                ".o_list_view:not(:has(.o_data_row:contains('Work order release')))",
        },
        {
            content: "Open the delivery from its line",
            trigger:
                ".o_list_view .o_data_row:contains('Customer A') button[name='action_open']",
            run: "click",
        },
        {
            content: "The delivery's form",
            trigger:
                ".o_form_view .o_field_widget[name='partner_id']:contains('Customer A')",
        },
    ],
});
