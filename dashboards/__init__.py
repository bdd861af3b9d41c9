"""The web dashboard for agency staff: server-rendered pages mounted on the API app at `/`.

Entry point: `dashboards.app.install_dashboard(app)`. (Kept out of this file on purpose: an editable
install made before this file existed maps `dashboards` as a namespace package, skipping __init__.)
"""
