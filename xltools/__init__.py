"""xltools: the Excel toolkit of the commune model "Xã không có tội phạm, tệ nạn ma túy"."""
__version__ = "0.1.0"
