"""Regenerate docs/screenshots/*.png: every dashboard page at 1440x900 in Debian's Chromium.

    crm demo --no-serve && crm serve &            # demo agencies, pipeline run, server on :8000
    python -m dashboards.screenshots --email <admin login> --password demo-password

Reads a running server; writes nothing to it except one question to the insights page.
"""

from __future__ import annotations

import argparse
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
QUESTION = "Which clients are unhappy with reporting, and why?"


def capture(base_url: str, email: str, password: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900}, base_url=base_url)
        page.set_default_timeout(60_000)

        def shot(name: str) -> None:
            page.wait_for_load_state("networkidle")
            path = out / f"{name}.png"
            page.screenshot(path=str(path))
            shots.append(path)
            print(f"saved {path}")

        page.goto("/login")
        shot("login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        shot("home")
        page.goto("/leads")
        shot("leads")
        first = page.locator("#leads-table tbody tr a.strong").first
        if first.count():
            first.click()
            shot("contact")
        page.goto("/accounts")
        shot("accounts")
        first = page.locator("#accounts-table tbody tr a.strong").first
        if first.count():
            first.click()
            shot("company")
            page.locator("#next-action").scroll_into_view_if_needed()
            shot("next-action")   # the riskiest account's next best action, its reasons linked to their records
        page.goto("/pipeline")
        shot("pipeline")
        page.goto("/campaigns")
        shot("campaigns")
        page.goto("/workflows")   # the demo's two workflows, their runs once the worker has run them
        shot("workflows")
        first = page.locator("#workflows-table tbody tr a.strong").first
        if first.count():
            first.click()
            shot("workflow")
            run = page.locator("#runs-table tbody tr a").first
            if run.count():
                run.click()
                shot("workflow-run")
        page.goto("/settings")  # admins: users, invitations, API keys
        shot("settings")
        page.goto("/contacts/new")
        page.fill("#f-first_name", "Grace")
        page.fill("#f-email", "grace-at-example")
        page.click("[data-record-form] button[type=submit]")
        shot("contact-form")
        page.goto("/insights")  # last: the first answer loads the embedding model
        page.fill("[data-ask] input[name=question]", QUESTION)
        page.click("[data-ask] button")
        page.locator("[data-answer], .ai-out.error").first.wait_for()
        shot("insights")
        browser.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--email", required=True, help="a dashboard login (e.g. a demo agency's admin)")
    parser.add_argument("--password", default="demo-password")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    capture(args.base_url, args.email, args.password, args.out)


if __name__ == "__main__":
    main()
