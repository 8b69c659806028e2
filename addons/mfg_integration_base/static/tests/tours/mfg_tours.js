/** @odoo-module **/
/* Tours of the screens functional users live in. They are run by the tests of
 * test_mfg_integration (tests/test_tours.py) in headless Chromium: a step whose element is
 * not found fails the test, so a broken screen is a red build. */

import { registry } from "@web/core/registry";

const tours = registry.category("web_tour.tours");

// Dashboard -> failed messages -> the error -> Incidents -> add the missing mapping -> retried.
tours.add("mfg_incident_fix_tour", {
    steps: () => [
        {
            content: "The dashboard shows the plant with its failed messages",
            trigger: ".o_kanban_record:contains('Tour plant') button[name='action_view_failed']:contains('3')",
            run: "click",
        },
        {
            content: "Open a failed message",
            trigger: ".o_data_row:contains('tour-1') .o_data_cell",
            run: "click",
        },
        {
            content: "Its error says which code is missing and what to do",
            trigger: ".o_form_view .alert-danger:contains(\"Unknown product code 'GHOST-9'\"):contains('add a code mapping')",
        },
        {
            content: "Go to the incidents",
            trigger: ".o_menu_sections [data-menu-xmlid='mfg_integration_base.menu_mfg_incident']",
            run: "click",
        },
        {
            content: "The three messages are one incident",
            trigger: ".o_data_row:contains(\"Unknown product code 'GHOST-9'\"):contains('3') td[name='title']",
            run: "click",
        },
        {
            content: "Fix it from the incident",
            trigger: ".o_form_view button[name='action_fix_mapping']",
            run: "click",
        },
        {
            content: "The wizard knows the backend, the kind and the code",
            trigger: ".modal .o_field_widget[name='external_code']:contains('GHOST-9')",
        },
        {
            content: "Choose the product the plant code stands for",
            trigger: ".modal .o_field_widget[name='target'] input",
            run: "edit Tour widget",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains('Tour widget')",
            run: "click",
        },
        {
            content: "Create the mapping and retry the group",
            trigger: ".modal button[name='action_apply']",
            run: "click",
        },
        {
            content: "The user is told what happened",
            trigger: ".o_notification:contains('3 messages queued again')",
        },
    ],
});

// After the drain: the incident is gone and the message is done.
tours.add("mfg_incident_done_tour", {
    steps: () => [
        {
            content: "No incident left",
            trigger: ".o_view_nocontent:contains('nothing to fix')",
        },
        {
            trigger: ".o_menu_sections [data-menu-xmlid='mfg_integration_base.menu_mfg_message']",
            run: "click",
        },
        {
            trigger: ".o_data_row:contains('tour-1') .o_data_cell",
            run: "click",
        },
        {
            content: "The message is done",
            trigger: ".o_form_view .o_statusbar_status button[aria-checked='true']:contains('Done')",
        },
    ],
});

// An administrator configures a new plant backend on MQTT and tests the connection.
tours.add("mfg_backend_setup_tour", {
    steps: () => [
        {
            trigger: ".o_list_button_add, .o-kanban-button-new",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name='name'] input",
            run: "edit Tour plant 2 — MES",
        },
        {
            trigger: ".o_field_widget[name='code'] input",
            run: "edit tour-p2-mes",
        },
        {
            trigger: ".o_field_widget[name='plant_code'] input",
            run: "edit P02",
        },
        {
            trigger: ".o_notebook .nav-link:contains('MQTT')",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name='mqtt_enabled'] input",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name='mqtt_host'] input",
            run: "edit 127.0.0.1",
        },
        {
            trigger: ".o_field_widget[name='mqtt_port'] input",
            run: "edit 1883",
        },
        {
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_saved",
        },
        {
            trigger: "button[name='action_test_connection']",
            run: "click",
        },
        {
            content: "The broker answered",
            trigger: ".o_notification:contains('MQTT broker 127.0.0.1:1883 accepted the connection')",
        },
    ],
});
