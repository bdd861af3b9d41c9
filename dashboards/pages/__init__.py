"""Every dashboard page route, in one router mounted at `/` by dashboards.install_dashboard."""

from fastapi import APIRouter

from dashboards.pages import (
    accounts,
    auth,
    campaigns,
    home,
    insights,
    leads,
    pipeline,
    records,
    settings,
    workflows,
)

router = APIRouter(include_in_schema=False)
# records first: its /contacts/new must win over leads' /contacts/{id}
for module in (auth, records, home, leads, accounts, pipeline, campaigns, insights, settings, workflows):
    router.include_router(module.router)
