"""The composition root: the `crm` command, the web app that joins the API and the dashboard, the demo.

The only package that wires the layers together; nothing below imports it (tests/test_layers.py).
"""
