"""The domain's input contracts (XCreate / XUpdate) and record shapes (XRead): one set for every write path."""
