/** @odoo-module **/
/* The API access of a backend, walked in headless Chromium by tests/test_api_tours.py:
 * create the service user and its key (shown once), rotate it with a grace period. */

import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("mfg_api_access_tour", {
    steps: () => [
        {
            content: "Create the backend's service user and first key",
            trigger: ".o_form_view button[name='action_create_service_user']",
            run: "click",
        },
        {
            content: "Confirm",
            trigger: ".modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "The key is shown once, with the advice to copy it now",
            trigger: ".modal:contains('Copy the key now') .o_field_widget[name='key']:not(:empty)",
        },
        {
            trigger: ".modal button:contains('Done, I copied it')",
            run: "click",
        },
        {
            content: "Rotate the key",
            trigger: ".o_form_view button[name='action_rotate_api_key']",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name='grace_hours'] input",
            run: "edit 2",
        },
        {
            trigger: ".modal button[name='action_rotate']",
            run: "click",
        },
        {
            content: "The new key is shown once",
            trigger: ".modal:contains('Copy the key now') .o_field_widget[name='key']:not(:empty)",
        },
        {
            trigger: ".modal button:contains('Done, I copied it')",
            run: "click",
        },
        {
            trigger: ".o_notebook .nav-link:contains('API access')",
            run: "click",
        },
        {
            content: "Two keys: the new one active, the old one in its grace period",
            trigger: ".o_field_widget[name='api_key_ids'] .o_data_row:contains('Rotated (grace period)')",
        },
        {
            trigger: ".o_field_widget[name='api_key_ids'] .o_data_row:contains('Active')",
        },
    ],
});
