"""The column-name grammar (skfusion._names): what is written is read back."""

import numpy as np
import pandas as pd
import pytest

from skfusion import ModalitySpec
from skfusion._discovery import resolve_modalities
from skfusion._names import (
    DEFAULT_MODALITY,
    MISSING_NAME,
    PRESENT_KEY,
    SAMPLE_WEIGHT_KEY,
    check_modality_name,
    is_availability,
    is_reserved_key,
    missing_key,
    modality_of_missing_key,
    output_names,
    parse_pixel,
    parse_term,
    parse_token,
    parse_weight,
    pixel_names,
    split_prefix,
    token_names,
    wide_feature_names,
)
from skfusion._spec import describe
from skfusion.nn import network
from skfusion.preprocessing import AvailabilityIndicator, TextTokenizer


def test_reserved_keys_are_those_of_the_network():
    assert PRESENT_KEY == network.PRESENT_KEY
    assert SAMPLE_WEIGHT_KEY == network.SAMPLE_WEIGHT_KEY
    assert is_reserved_key(PRESENT_KEY) and is_reserved_key(SAMPLE_WEIGHT_KEY)
    assert not is_reserved_key("tab")


def test_prefix_and_availability_names():
    assert split_prefix("tab__age") == ("tab", "age")
    assert split_prefix("xray__ind__missing") == ("xray", "ind__missing")
    assert split_prefix("age") == (DEFAULT_MODALITY, "age")
    assert missing_key("xray") == "xray__missing"
    assert modality_of_missing_key("xray__missing") == "xray"
    assert modality_of_missing_key("xray") is None
    assert is_availability(MISSING_NAME) and is_availability("ind__missing")
    assert not is_availability("missingness")
    assert check_modality_name("tab")
    assert not any(map(check_modality_name, ["", "a__b", None, 3]))


def test_pixel_token_and_wide_names_round_trip():
    names = pixel_names((2, 3, 4))
    assert len(names) == 24 and names[5] == "pixel_0_1_1"
    assert [parse_pixel(n) for n in names[:2]] == [(0, 0, 0), (0, 0, 1)]
    assert parse_pixel("pixel_0_1") is None
    assert [parse_token(n) for n in token_names(2, 50)] == [(0, 50), (1, 50)]
    assert parse_token("token_0") is None
    wide = wide_feature_names(2, 9).tolist()
    assert wide == ["term_0_vocab_9", "term_1_vocab_9", "weight_0", "weight_1"]
    assert parse_term(wide[1]) == (1, 9) and parse_weight(wide[3]) == 1
    assert parse_term("weight_0") is None and parse_weight("term_0_vocab_9") is None
    assert output_names(["a"], True).tolist() == ["a", MISSING_NAME]
    assert output_names(["a"], False).tolist() == ["a"]


def test_transformers_write_the_grammar():
    tok = TextTokenizer(max_length=3).fit(["a b", "c"])
    names = tok.get_feature_names_out()
    expected = output_names(token_names(3, tok.vocab_size_), tok.add_indicator)
    assert names.tolist() == expected.tolist()
    indicator = AvailabilityIndicator().fit(pd.DataFrame({"a": [1.0, None]}))
    assert indicator.get_feature_names_out().tolist() == [MISSING_NAME]


def test_describe_says_why_each_modality_was_found():
    names = np.asarray(
        [
            "tab__a",
            "tab__b",
            *("xray__" + n for n in pixel_names((1, 2, 2))),
            "xray__missing",
            "age__years",
            "plain",
        ],
        dtype=object,
    )
    specs = resolve_modalities(names, len(names))
    lines = describe(specs, names).splitlines()
    assert lines[0] == (
        "tab (vector 2), xray (image 1x2x2), age (vector 1), features (vector 1)"
    )
    assert lines[1] == "  tab: prefix 'tab__'"
    assert lines[2] == (
        "  xray: prefix 'xray__', pixel_<c>_<y>_<x> names, availability column "
        "'xray__missing'"
    )
    assert "age: prefix 'age__', read as a ColumnTransformer step name" in lines[3]
    assert lines[4] == "  features: columns without a '<step>__' prefix"
    dict_specs = [ModalitySpec("tab", "vector", (3,))]
    assert describe(dict_specs) == "tab (vector 3)"  # dict keys need no reason


@pytest.mark.parametrize("declared", [True, False])
def test_describe_without_names_or_with_declared_modalities(declared):
    modalities = {"a": [0, 1], "b": [2]} if declared else None
    specs = resolve_modalities(None, 3, modalities)
    reasons = describe(specs, None, declared=declared).splitlines()[1:]
    if declared:
        assert reasons == [
            "  a: declared in modalities=",
            "  b: declared in modalities=",
        ]
    else:
        assert reasons == [
            "  features: X has no column names, so its columns form one vector modality"
        ]
