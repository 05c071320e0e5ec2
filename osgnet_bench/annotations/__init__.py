"""Annotation readers and converters. Every reader returns a list of :class:`QueryRecord`."""

from osgnet_bench.annotations.records import QueryRecord, index_records

__all__ = ["QueryRecord", "index_records"]
