"""The pure core: definitions, periods, frames, the book, validation, aggregation, reports.

Imports pandas and the standard library only; nothing here reads or writes a file format.
"""
