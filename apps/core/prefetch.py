"""Answering from rows a transaction has just written, without reading them back."""


def set_prefetched(instance, relation: str, rows) -> None:
    """Give `instance.<relation>.all()` these rows, as prefetch_related would, without a
    query: for rows this transaction has just written (so nothing else can have changed
    them yet)."""
    rows_qs = getattr(instance, relation).get_queryset()
    rows_qs._result_cache = list(rows)
    rows_qs._prefetch_done = True
    instance._prefetched_objects_cache = {
        **getattr(instance, "_prefetched_objects_cache", {}), relation: rows_qs}
