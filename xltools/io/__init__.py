"""File I/O: reading (python-calamine), building (XlsxWriter) and editing (openpyxl) workbooks."""
