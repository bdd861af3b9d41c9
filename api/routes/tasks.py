from api.crud import Resource, crud_router
from crm.db.models import Task
from crm.schemas.tasks import TaskCreate, TaskRead, TaskUpdate
from crm.services import tasks

resource = Resource(
    name="tasks", label="task", model=Task, service=tasks,
    create=TaskCreate, update=TaskUpdate, read=TaskRead,
    search=("title", "description"),
    filters=("assignee_id", "contact_id", "company_id", "deal_id", "is_done"),
)
router = crud_router(resource)
