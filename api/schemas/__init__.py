"""Request and response schemas, one module per resource: XCreate, XUpdate, XRead."""
