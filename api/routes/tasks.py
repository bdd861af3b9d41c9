from sqlalchemy import func

from api.crud import Resource, crud_router
from crm.db.models import Task
from crm.schemas.tasks import TaskCreate, TaskRead, TaskUpdate


def _done_stamp(session, obj, changes):
    if "is_done" in changes:
        changes["done_at"] = session.scalar(func.now()) if changes["is_done"] else None
    return changes


def _done_on_create(session, values, principal):
    if values.get("is_done"):
        values["done_at"] = session.scalar(func.now())
    return values


resource = Resource(
    name="tasks", label="task", model=Task,
    create=TaskCreate, update=TaskUpdate, read=TaskRead,
    search=("title", "description"),
    filters=("assignee_id", "contact_id", "company_id", "deal_id", "is_done"),
    before_create=_done_on_create, before_update=_done_stamp,
)
router = crud_router(resource)
