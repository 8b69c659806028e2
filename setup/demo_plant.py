# Run by setup/run inside `odoo shell`: creates or refreshes the demo plant (a backend
# and its exchange types) so the screens are not empty. Idempotent.
# `env` is provided by odoo shell.
# ruff: noqa: F821
if "mfg.backend" in env:
    print("demo:", env["mfg.backend"]._mfg_load_demo_plant())
else:
    print("demo: no demo plant to load yet (mfg.backend is not installed)")
env.cr.commit()
