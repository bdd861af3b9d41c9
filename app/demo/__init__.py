"""Demo data: agencies with realistic CRM histories and the ground truth behind them.

`load_demo()` is the entry point; `generate_tenant()` is the pure generator behind it.
"""

from app.demo.load import load_demo
from app.demo.spec import DEMO_PASSWORD, SIZES, DemoResult, DemoSpec, DemoTenant

__all__ = ["DEMO_PASSWORD", "SIZES", "DemoResult", "DemoSpec", "DemoTenant", "load_demo"]
