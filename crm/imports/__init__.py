"""CSV import of companies, contacts, deals and activities into one tenant, all or nothing per file.

`import_csv(tenant_id, entity, data, mapping)` decodes the file, maps its headers to fields (aliases
such as "E-mail" or "Website", or an explicit mapping), validates every row, resolves references by
natural key (company domain or name, contact email), and upserts by natural key in one tenant
transaction. Any bad row means nothing is written and the report lists each bad row's line and column.
"""

from crm.imports.report import ImportReport, RowError
from crm.imports.runner import ENTITY_NAMES, ImportRequestError, import_csv

__all__ = ["ENTITY_NAMES", "ImportReport", "ImportRequestError", "RowError", "import_csv"]
