"""Definitions are typed and checked when loaded: a typo is one error naming the file and key."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from xltools.cli import main
from xltools.core.definitions import ReportLayout, get_definitions
from xltools.core.errors import DefinitionsError


def test_layout_is_typed_with_the_values_of_report_toml():
    layout = get_definitions().layout
    assert isinstance(layout, ReportLayout)
    assert layout.font == "Times New Roman" and layout.size_body == 13 and layout.paper == 9
    assert layout.pad_months == (1, 2) and "general_rejected" in layout.technical_lines


def test_buttons_are_typed():
    buttons = get_definitions().buttons
    assert [b.verb for b in buttons][:2] == ["validate", "make_forms"]
    assert all(b.sub.isascii() for b in buttons)


def test_a_mistyped_layout_key_names_file_and_key(own_definitions):
    own_definitions.replace("report.toml", "size_body = 13", "size_bodi = 13")
    with pytest.raises(DefinitionsError) as err:
        _ = get_definitions().layout
    assert "report.toml" in err.value.vi and "layout.size_bodi" in err.value.vi


def test_a_value_of_the_wrong_type_is_refused(own_definitions):
    own_definitions.replace("report.toml", "size_body = 13", 'size_body = "13"')
    with pytest.raises(DefinitionsError) as err:
        _ = get_definitions().layout
    assert "layout.size_body" in err.value.vi and "số" in err.value.vi


def test_an_unknown_section_is_refused(own_definitions):
    own_definitions.append("forms.toml", '\n[limit]\nmax_rows = 10\n')
    with pytest.raises(DefinitionsError) as err:
        get_definitions().extra("forms")
    assert "forms.toml" in err.value.vi and "“limit”" in err.value.vi


def test_a_button_without_its_sub_is_refused(own_definitions):
    own_definitions.replace("buttons.toml", 'sub = "KiemTra"\n', "")
    with pytest.raises(DefinitionsError) as err:
        _ = get_definitions().buttons
    assert "buttons.toml" in err.value.vi and "button.sub" in err.value.vi


@pytest.mark.slow
def test_the_cli_gives_one_line_for_a_typo(own_definitions, tmp_path):
    own_definitions.replace("report.toml", "margin_left_mm = 30", "margin_left = 30")
    result = CliRunner().invoke(main, ["demo", str(tmp_path / "demo")])
    assert result.exit_code == 2, result.output
    assert "layout.margin_left" in result.output and "Traceback" not in result.output


def test_a_mistyped_key_of_a_rule_is_refused(own_definitions):
    own_definitions.replace("rules.toml", "[rule.plan-village-zalo]\n", "[rule.plan-village-zalo]\nsverity = \"info\"\n")
    with pytest.raises(DefinitionsError) as err:
        get_definitions().extra("rules")
    assert "rules.toml" in err.value.vi and "rule.plan-village-zalo.sverity" in err.value.vi


def test_a_mistyped_wording_key_of_the_report_names_file_and_key(own_definitions):
    own_definitions.replace("report.toml", "\nclosing = ", "\nclosin = ")
    with pytest.raises(DefinitionsError) as err:
        get_definitions().extra("report")
    assert "report.toml" in err.value.vi and "text.closin" in err.value.vi


def test_a_mistyped_key_of_a_forms_table_is_refused(own_definitions):
    own_definitions.replace("forms.toml", "\naccepted = ", "\naccepte = ")
    with pytest.raises(DefinitionsError) as err:
        get_definitions().extra("forms")
    assert "forms.toml" in err.value.vi and "results.accepte" in err.value.vi


def test_a_mistyped_key_of_a_form_field_is_refused(own_definitions):
    own_definitions.replace("forms.toml", "\nmax_length = ", "\nmax_lenght = ")
    with pytest.raises(DefinitionsError) as err:
        get_definitions().extra("forms")
    assert "field.max_lenght" in err.value.vi


def test_wording_missing_from_an_older_copy_takes_the_shipped_text(own_definitions):
    """A province's copy made before a release added a wording keeps working: the shipped file holds the
    defaults (not the code), and the copy's own wording wins where it has one."""
    import re

    from xltools.core.resources import resource_dir

    shipped = get_definitions(resource_dir("workbook")).extra("report")["text"]
    path = own_definitions / "report.toml"
    text = path.read_text(encoding="utf-8")
    closing = re.search(r"\nclosing = .*", text)
    assert closing
    path.write_text(text.replace(closing.group(0), "", 1), encoding="utf-8")
    own_definitions.replace("report.toml", "\nrecipients_label = ", '\nrecipients_label = "Gửi tới:"\n# ')
    text = get_definitions().extra("report")["text"]
    assert text["closing"] == shipped["closing"] and text["recipients_label"] == "Gửi tới:"
