Attribute VB_Name = "XlTools"
' xltools: the buttons of the commune workbook (Bang dieu khien).
' One Sub per button; each runs one handler of xltools.excel through xlwings.
' The buttons are listed in workbook/buttons.toml. Do not add other code here.
Option Explicit

' Nut "Kiem tra du lieu"
Sub KiemTra()
    RunPython "import xltools.excel as x; x.validate()"
End Sub

' Nut "Tao phieu bao cao thon"
Sub TaoPhieu()
    RunPython "import xltools.excel as x; x.make_forms()"
End Sub

' Nut "Nhap bao cao thon"
Sub NhapBaoCao()
    RunPython "import xltools.excel as x; x.import_reports()"
End Sub

' Nut "Tong hop"
Sub TongHop()
    RunPython "import xltools.excel as x; x.aggregate()"
End Sub

' Nut "Xuat bao cao gui cap tren"
Sub XuatBaoCao()
    RunPython "import xltools.excel as x; x.export()"
End Sub

' Nut "Nhan phan hoi cap tren"
Sub NhanPhanHoi()
    RunPython "import xltools.excel as x; x.receive()"
End Sub
